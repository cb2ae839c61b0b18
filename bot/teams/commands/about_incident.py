"""Commands about one incident find it the same way: its thread, `INC-n`, or the only one
the person works on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.incidents.context import Ctx
from bot.incidents.queries import find_incident
from bot.store.incident_models import Incident
from bot.teams.call import Call
from bot.teams.command_line import Command, split_reference

# Domain work on the incident, given what followed the incident reference.
IncidentWork = Callable[[Ctx, Incident, str], Awaitable[object]]


async def on_incident(call: Call, cmd: Command, work: IncidentWork) -> None:
    """Run `work` in one transaction on the incident the command is about."""
    number, rest = split_reference(cmd.args)

    async def run(ctx: Ctx) -> object:
        return await work(ctx, await find_incident(ctx, number), rest)

    await call.execute(run)
