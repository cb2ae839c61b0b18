"""`help`: the commands, each with its usage and the first line of its docstring
(`help <command>`: that one)."""

from __future__ import annotations

from bot.teams.answers import Answer, Help
from bot.teams.call import Call
from bot.teams.command_line import Command
from bot.teams.router import Router

router = Router()


@router.command("help", "help [command]", synonyms=("commands", "?"))
async def show_help(call: Call, cmd: Command) -> Answer:
    """List the commands I understand, or say how one goes."""
    topic = cmd.args.split()[0] if cmd.args else None
    return Help("Mention me with one of these commands:", topic=topic)
