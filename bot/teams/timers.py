"""Runs the domain's timers (durable jobs) and sends what they have to say.

Each domain module declares its jobs and their handlers (`JOBS`, see
`bot.incidents.background`) and is found here; this module gives them the one thing the
domain cannot build itself: a transaction whose notices become outbox rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.discovery import each_module
from bot.incidents.background import Background, IncidentWork, InIncident, JobHandler
from bot.incidents.context import Ctx, Origin, Policy
from bot.incidents.people import Person
from bot.store.incident_models import Incident
from bot.store.jobs import JobRunner
from bot.store.unit_of_work import UnitOfWork
from bot.teams.render import Renderer

BOT = Person(id="", name="incident bot")


def feature_jobs() -> tuple[JobHandler[Any], ...]:
    """Every domain module's `JOBS`: a new feature's timers need no edit here."""
    return tuple(handler for module in each_module("bot.incidents")
                 for handler in getattr(module, "JOBS", ()))


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
    for handler in feature_jobs():
        handler.register(runner, background)
