"""Commands about one incident find it the same way: its thread, `INC-n`, or the only one
the person works on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.incidents.context import Ctx
from bot.incidents.queries import find_incident
from bot.store.incident_models import Incident
from bot.store.prepared import Read, numbered_read, thread_read
from bot.teams.call import Call, origin_of
from bot.teams.command_line import Command, done_number, split_reference

# Domain work on the incident, given what followed the incident reference.
IncidentWork = Callable[[Ctx, Incident, str], Awaitable[object]]
# Marks item n (a task, a follow-up action) of the incident done.
DoneWork = Callable[[Ctx, Incident, int], Awaitable[object]]


async def on_incident(call: Call, cmd: Command, work: IncidentWork) -> None:
    """Run `work` in one transaction on the incident the command is about."""
    number, rest = split_reference(cmd.args)

    async def run(ctx: Ctx) -> object:
        return await work(ctx, await find_incident(ctx, number), rest)

    await call.execute(run, reads=_first_lookup(call, number))


def _first_lookup(call: Call, number: int | None) -> list[Read]:
    """What `find_incident` asks first, read ahead (bot.store.prepared): the incident
    named `INC-n`, else the one whose thread this is."""
    origin = origin_of(call.activity)
    if number is not None:
        return [numbered_read(origin.tenant_id, number)]
    if origin.conversation_id:
        return [thread_read(origin.tenant_id, origin.conversation_id)]
    return []


async def on_numbered_item(call: Call, cmd: Command, *, add: IncidentWork,
                           done: DoneWork) -> None:
    """`<n> done` marks the incident's item n done; anything else adds an item."""
    async def work(ctx: Ctx, incident: Incident, rest: str) -> object:
        number = done_number(rest)
        if number is not None:
            return await done(ctx, incident, number)
        return await add(ctx, incident, rest)

    await on_incident(call, cmd, work)
