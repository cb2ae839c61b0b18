"""Runs the domain's timers (durable jobs) and sends what they have to say.

Each domain module declares its jobs and their handlers (`JOBS`, see
`bot.incidents.background`) and is found here; this module gives them the one thing the
domain cannot build itself: a transaction whose notices become outbox rows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from bot.discovery import each_module
from bot.incidents.background import Background, IncidentWork, InIncident, JobHandler
from bot.incidents.context import Ctx, Origin, Policy
from bot.incidents.people import Person
from bot.store.incident_models import Incident
from bot.store.jobs import JobRunner
from bot.store.unit_of_work import UnitOfWork
from bot.teams.render import Renderer

BOT = Person(id="", name="incident bot")
T = TypeVar("T")


class InTenant(Protocol):
    """Runs domain work a webhook causes (an alert), about no incident yet, as the bot."""

    async def __call__(self, tenant_id: str, work: Callable[[Ctx], Awaitable[T]]) -> T:
        """Commit `work` with the notices it queued, or nothing; its result."""
        ...


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


def tenant_transaction(renderer: Renderer, policy: Policy,
                       wake: Callable[[], None]) -> InTenant:
    """One unit of work, as the bot, in a tenant (empty: decided by the work), for work an
    outside system's webhook causes (`bot.web.alerts`); its notices become outbox rows."""

    async def in_tenant(tenant_id: str, work: Callable[[Ctx], Awaitable[T]]) -> T:
        async with UnitOfWork(on_commit=wake) as uow:
            ctx = Ctx(actor=BOT, policy=policy, origin=Origin(tenant_id, ""))
            result = await work(ctx)
            await renderer.render(uow, ctx.notices, incoming=None, now=ctx.now)
        return result

    return in_tenant


def register_timers(runner: JobRunner, background: Background) -> None:
    """Give the job runner a handler for every timer kind the domain schedules."""
    for handler in feature_jobs():
        handler.register(runner, background)
