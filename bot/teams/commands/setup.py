"""`setup`: the incidents channel, its stakeholders, the CSE and working days."""

from __future__ import annotations

from bot.incidents import team_settings
from bot.teams.call import Call
from bot.teams.command_line import Command
from bot.teams.router import Router

router = Router()


@router.command("setup", "setup [stakeholders | cse @x | timezone <zone> | holidays <country>]")
async def setup(call: Call, cmd: Command) -> None:
    """Make this channel the incidents channel; also stakeholders, CSE, working days."""
    key, _, value = cmd.args.strip().partition(" ")
    key = key.lower()
    if key in ("", "stakeholders"):
        await call.execute(lambda ctx: team_settings.setup(
            ctx, stakeholders=key == "stakeholders"))
        return
    person = next((p for w in value.split() if (p := cmd.person(w))), None)
    await call.execute(lambda ctx: team_settings.configure(ctx, key, value.strip(), person))
