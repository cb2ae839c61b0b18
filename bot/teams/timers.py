"""Runs the domain's timers (durable jobs) and sends what they have to say.

Each feature module declares its jobs and their handlers (`JOBS`, see
`bot.incidents.background`); this module gives them the one thing the domain cannot
build itself: a transaction whose notices become outbox rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.incidents import (
    checkins,
    commandeer,
    external,
    handovers,
    pir,
    review_meeting,
    rooms,
    staffing,
)
from bot.incidents.background import Background, IncidentWork, InIncident, JobHandler
from bot.incidents.context import Ctx, Origin, Policy
from bot.incidents.people import Person
from bot.store.incident_models import Incident
from bot.store.jobs import JobRunner
from bot.store.unit_of_work import UnitOfWork
from bot.teams.render import Renderer

BOT = Person(id="", name="incident bot")
# Every feature's job handlers; a new feature with timers adds its module here.
FEATURE_JOBS: tuple[tuple[JobHandler[Any], ...], ...] = (
    rooms.JOBS, staffing.JOBS, pir.JOBS, review_meeting.JOBS, external.JOBS,
    handovers.JOBS, commandeer.JOBS, checkins.JOBS,
)


def incident_transaction(renderer: Renderer, policy: Policy,
                         wake: Callable[[], None]) -> InIncident:
    """`Background.in_incident`: one unit of work, as the bot, about one incident."""

    async def in_incident(incident_id: int, work: IncidentWork) -> None:
        async with UnitOfWork(on_commit=wake) as uow:
            incident = await Incident.get(id=incident_id)
            ctx = Ctx(actor=BOT, policy=policy,
                      origin=Origin(incident.tenant_id, incident.service_url))
            await work(ctx)
            await renderer.render(uow, ctx.notices, incoming=None, now=ctx.now)

    return in_incident


def register_timers(runner: JobRunner, background: Background) -> None:
    """Give the job runner a handler for every timer kind the domain schedules."""
    for handlers in FEATURE_JOBS:
        for handler in handlers:
            handler.register(runner, background)
