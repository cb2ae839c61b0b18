"""One command's view of the bot: who acts from where, and the two ways to reach the record.

`execute` runs state-changing domain work in one transaction holding the change, its
timeline and its outgoing messages, at most once per activity; `read` runs reads under
the same deadline without ever journaling. Handlers (`bot.teams.commands`) get a `Call`
and never see the adapter or the database directly.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.incidents import notices as say
from bot.incidents.context import Ctx, Origin, Policy
from bot.incidents.people import Person
from bot.metrics import Metrics
from bot.store.availability import (
    DatabaseGate,
    DatabaseUnavailable,
    WaitingForJournal,
    answered_within,
    is_connection_lost,
)
from bot.store.pace import Pace
from bot.store.prepared import Read
from bot.store.unit_of_work import AlreadyProcessed, UnitOfWork, activity_key
from bot.teams import turn_record
from bot.teams.answers import Deferral
from bot.teams.members import MemberDirectory
from bot.teams.mentions import sender
from bot.teams.render import Renderer, tenant_of

log = logging.getLogger(__name__)
T = TypeVar("T")
# How long a command's unit of work may take before the database counts as not answering
# (the DATABASE_TIMEOUT_SECONDS setting's default).
DATABASE_TIMEOUT_S = 5.0


@dataclass
class Services:
    """What every turn shares, built once per process by `bot.app`."""

    renderer: Renderer
    policy: Policy
    wake: Callable[[], None] = lambda: None
    members: MemberDirectory | None = None
    metrics: Metrics = field(default_factory=Metrics)
    gate: DatabaseGate = field(default_factory=DatabaseGate)
    database_timeout_s: float = DATABASE_TIMEOUT_S
    # Takes over an inline answer Teams refused retryably (see `bot.teams.answers`).
    defer: Deferral | None = None
    # Teams' rate budget, which inline answers spend too (`bot.teams.pacing`).
    pace: Pace | None = None


def origin_of(activity: Activity) -> Origin:
    """Tenant, team, channel and conversation, as Teams puts them in an activity."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conversation = activity.conversation
    tenant = tenant_of(activity) or ""
    channel = (data.get("channel") or {}).get("id") or data.get("teamsChannelId")
    return Origin(
        tenant_id=tenant,
        service_url=activity.service_url,
        conversation_id=conversation.id,
        conversation_type=conversation.conversation_type or "",
        team_id=(data.get("team") or {}).get("id") or data.get("teamsTeamId"),
        channel_id=channel,
        team_aad_group_id=(data.get("team") or {}).get("aadGroupId"),
    )


class Call:
    """One turn's access to the domain."""

    def __init__(self, services: Services, turn: TurnContext) -> None:
        self.services = services
        self.turn = turn

    @property
    def activity(self) -> Activity:
        """What Teams sent."""
        return self.turn.activity

    def context(self, *, now: dt.datetime | None = None) -> Ctx:
        """The domain's view of who acts from where (at `now`, the time it was received)."""
        ctx = Ctx(actor=sender(self.activity), origin=origin_of(self.activity),
                  policy=self.services.policy)
        if now is not None:
            ctx.now = now
        return ctx

    async def complete(self, people: list[Person]) -> list[Person]:
        """The same people with their Entra ids where Teams knows them (mentions lack them)."""
        members = self.services.members
        return await members.complete(self.activity, people) if members else people

    async def execute(self, work: Callable[[Ctx], Awaitable[T]], *,
                      key: str | None = None, reads: Sequence[Read] = ()) -> T | None:
        """Run `work` in one transaction with its messages; None if already processed
        (the activity's id, or `key` for activities that share one: a message's edits).
        `reads`: what `work` will read first, read ahead where that saves a round trip
        (`bot.store.prepared.Read`).

        While the database is away (or a journaled command waits to be applied) this
        raises `DatabaseUnavailable` at once, so the command joins the journal behind the
        others. A connection the server closed is retried once on a fresh one: nothing
        was committed, or the activity key says so.
        """
        record = turn_record.of(self.turn)
        record.writing = True
        if record.replay is None:
            self._require_gate(writing=True)
        activity = self.activity
        key = key or activity.id
        key = activity_key(activity.conversation.id, key) if key else None
        for attempt in range(2):
            try:
                return await self._unit_of_work(record, key, work, reads)
            except AlreadyProcessed:
                log.info("activity %s already processed; ignoring the redelivery", activity.id)
                record.duplicate = True
                return None
            except Exception as exc:
                if attempt or not is_connection_lost(exc):
                    raise
                log.info("database connection lost (%s); trying once more", type(exc).__name__)
        raise AssertionError("unreachable")

    async def _unit_of_work(self, record: turn_record.TurnRecord, key: str | None,
                            work: Callable[[Ctx], Awaitable[T]],
                            reads: Sequence[Read]) -> T:
        replay = record.replay
        ctx = self.context(now=replay.received_at if replay else None)
        services = self.services

        async def transaction() -> T:
            async with UnitOfWork(activity_key=key, on_commit=services.wake,
                                  reads=reads) as uow:
                result = await work(ctx)
                notices = (_as_applied(ctx.notices, replay) if replay and not record.silent
                           else ctx.notices)
                await services.renderer.render(uow, notices, incoming=self.activity,
                                               now=ctx.now)
            record.committed = True
            return result

        return await answered_within(services.database_timeout_s, transaction)

    async def read(self, work: Callable[[], Awaitable[T]]) -> T:
        """Database reads of a command that changes nothing: answered "unavailable" at once
        while the database is known to be away, bounded by the deadline otherwise, and
        never journaled."""
        record = turn_record.of(self.turn)
        record.reading = True
        if record.replay is None:
            self._require_gate(writing=False)
        return await answered_within(self.services.database_timeout_s, work)

    def _require_gate(self, *, writing: bool) -> None:
        gate = self.services.gate
        if not gate.up:
            raise DatabaseUnavailable(f"the incident database is not answering "
                                      f"({gate.reason})")
        if writing and not gate.accepting:
            raise WaitingForJournal("commands saved while the database was away come first")

    def refusal(self, reason: str) -> str:
        """What to answer for a command refused with `reason`."""
        replay = turn_record.of(self.turn).replay
        return replay.refused(reason) if replay else reason


def _as_applied(notices: list[say.Notice], replay: turn_record.Replay) -> list[say.Notice]:
    """A replayed command's answers, saying it was saved earlier (one line if it had none)."""
    replies = [n for n in notices if isinstance(n, say.Reply)]
    if not replies:
        return [*notices, say.Reply(replay.applied(""))]
    first = replies[0]
    return [say.Reply(replay.applied(n.text)) if n is first else n for n in notices]
