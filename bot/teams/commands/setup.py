"""`setup`: the incidents channel, its stakeholders, the CSE and working days."""

from __future__ import annotations

from bot.errors import CommandError
from bot.incidents import spaces, team_settings
from bot.incidents.context import Ctx
from bot.teams.call import Call
from bot.teams.command_line import Command
from bot.teams.router import Router

router = Router()
USAGE = ("Usage: `setup`, `setup stakeholders`, `setup cse @x`, `setup timezone <Area/City>`, "
         "`setup holidays <country>`, `setup space thread|channel [pattern]`.")


@router.command("setup", "setup [stakeholders | cse @x | timezone <zone> | holidays <country> "
                         "| space thread|channel [pattern]]")
async def setup(call: Call, cmd: Command) -> None:
    """Make this channel the incidents channel; also stakeholders, CSE, days, space.

    `space thread|channel`: each incident gets a thread here, or a channel of its own."""
    key, _, value = cmd.args.strip().partition(" ")
    key = key.lower()
    if key in ("", "stakeholders"):
        await call.execute(lambda ctx: team_settings.setup(
            ctx, stakeholders=key == "stakeholders"))
        return
    mode, _, pattern = value.strip().partition(" ")
    person = next((p for w in value.split() if (p := cmd.person(w))), None)
    change = {"cse": lambda ctx: team_settings.set_cse(ctx, person),
              "timezone": lambda ctx: team_settings.set_timezone(ctx, value.strip()),
              "holidays": lambda ctx: team_settings.set_holidays(ctx, value.strip()),
              "space": lambda ctx: spaces.set_space(ctx, mode.lower(), pattern.strip())}.get(key)
    await call.execute(change or _usage)


async def _usage(ctx: Ctx) -> None:
    team_settings.require_setup_rights(ctx)  # who may not change the setup is told that first
    raise CommandError(USAGE)
