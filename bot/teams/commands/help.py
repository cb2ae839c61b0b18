"""`help`: the commands, each with its usage and the first line of its docstring."""

from __future__ import annotations

from bot.teams.answers import Answer, Help
from bot.teams.call import Call
from bot.teams.command_line import Command
from bot.teams.router import Router

router = Router()


@router.command("help")
async def show_help(call: Call, cmd: Command) -> Answer:
    """List the commands I understand."""
    return Help("Mention me with one of these commands:")
