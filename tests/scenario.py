"""Driving the bot the way a team does during an incident, for end-to-end tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.store.incident_models import Handover, Incident, TeamSettings, TimelineEvent
from bot.store.models import Job, OutboxMessage
from bot.web import RUNTIME
from tests.conftest import RunningBot, make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import User
from tests.fakes.connector import Call, FakeConnector
from tests.fakes.graph import FakeGraph

GRAPH_SECRET = "graph-s3cret-value"


def a_week_from_now(at: str = "14:00") -> str:
    """A meeting time the bot accepts whatever day the suite runs ("<date> <time>", a week
    ahead): a fixed date becomes "That time has already passed." once the calendar reaches it."""
    return f"{dt.date.today() + dt.timedelta(days=7):%Y-%m-%d} {at}"


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 10) -> Any:
    """Poll until `check()` is truthy (the outbox and timers work in the background)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


@dataclass
class Team:
    """A Teams team with an incidents channel, talking to the bot."""

    bot: RunningBot
    connector: FakeConnector

    async def say(self, text: str, *, sender: User = teams.ADA, mentions: tuple[User, ...] = (),
                  thread: Incident | None = None, channel: str = teams.CHANNEL_ID) -> dict:
        """Post `@incident <text>`: in the incident's thread when given (in the channel it
        is in), else a new post in `channel`."""
        for user in mentions:
            text = text.replace(f"@{user.name.split()[0]}", user.mention()[0])
        message = teams.channel_message(
            self.connector.url, f"{teams.BOT_MENTION_TEXT} {text}", sender=sender,
            mentions=list(mentions), channel_id=thread.channel_id if thread else channel,
            root_id=thread.card_activity_id if thread else None,
        )
        status, _ = await self.bot.post(message)
        assert status == 200
        return message

    async def press(self, verb: str, data: dict[str, Any], *, sender: User,
                    card_id: str = "1", conversation_id: str | None = None) -> dict:
        """Press a card button (Action.Execute); the invoke response body."""
        invoke = teams.card_action(self.connector.url, verb=verb, data={"verb": verb, **data},
                                   card_id=card_id, sender=sender,
                                   conversation_id=conversation_id)
        status, body = await self.bot.post(invoke)
        assert status == 200
        return body

    async def declare(self, text: str, *, sender: User = teams.ADA,
                      mentions: tuple[User, ...] = ()) -> Incident:
        """Declare and wait until its thread exists."""
        before = await Incident.all().count()
        await self.say(f"declare {text}", sender=sender, mentions=mentions)
        await eventually(lambda: _thread_count_above(before))
        return await Incident.all().order_by("-id").first()

    async def latest_handover(self) -> Handover:
        return await Handover.all().order_by("-id").first()

    def card_updates(self) -> list[Call]:
        return self.connector.of_kind("update")

    def live_card(self) -> str:
        """The text of the (one) incident's live card as last updated: not a role card's,
        whose updates may come after it."""
        [start] = [c for c in self.connector.of_kind("create_conversation")
                   if (c.body.get("activity") or {}).get("attachments")
                   and (c.response or {}).get("activityId")]
        card = start.response["activityId"]
        return [u for u in self.card_updates() if u.activity_id == card][-1].text

    async def fire_timers(self, kind: str) -> None:
        """Time passes: jobs of `kind` become due, and the runner is woken."""
        await Job.filter(kind=kind, status="pending").update(due_ms=0)
        self.bot.server.app[RUNTIME].jobs.wake()

    async def commanded(self, title: str = "Checkout latency sev2") -> Incident:
        """Ada declares and investigates, Grace accepts command, and the room exists."""
        incident = await self.declare(f"{title} @Ada @Grace",
                                      mentions=(teams.ADA, teams.GRACE))
        handover = await self.latest_handover()
        await self.press("handover.accept",
                         {"handoverId": handover.id, "incidentId": incident.id},
                         sender=teams.GRACE)
        incident = await eventually(lambda: with_room(incident))
        await self.settle()
        return incident

    async def run_job(self, kind: str) -> None:
        """The next job of `kind` is due now: wait until it ran and what it said was
        delivered."""
        before = await Job.filter(kind=kind, status="done").count()
        await self.fire_timers(kind)
        await eventually(lambda: _done_above(kind, before))
        await self.settle()

    async def settle(self) -> None:
        """Wait until every queued message has been delivered."""
        await eventually(lambda: _no_unsent(OutboxMessage))


async def with_room(incident: Incident) -> Incident | None:
    """The incident as stored, once its Incident Command Room exists."""
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.room_url else None


async def timeline_texts(incident: Incident, kind: str) -> list[str]:
    """The texts of the incident's timeline entries of `kind`, in order."""
    return list(await TimelineEvent.filter(incident_id=incident.id, kind=kind)
                .order_by("id").values_list("text", flat=True))


async def _done_above(kind: str, before: int) -> bool:
    return await Job.filter(kind=kind, status="done").count() > before


async def _thread_count_above(before: int) -> bool:
    return await Incident.filter(thread_id__isnull=False).count() > before


async def _no_unsent(model: Any) -> bool:
    return not await model.filter(status__in=["pending", "sending"]).exists()


def thread_posts(connector: FakeConnector, incident: Incident) -> list[Call]:
    """Messages the bot posted into the incident's thread (card updates excluded)."""
    return [c for c in connector.of_kind("reply")
            if c.conversation_id == incident.thread_id]


def channel_settings(url: str, graph: FakeGraph, **overrides: Any) -> Settings:
    """Settings with the Graph app pointed at the loopback Graph (channel space needs it)."""
    base = graph.url.rstrip("/")
    return make_settings(url, graph_client_id="bot-graph-app", graph_client_secret=GRAPH_SECRET,
                         graph_token_url=f"{base}/token", graph_api_url=f"{base}/v1.0",
                         **overrides)


async def channel_team(start_bot: Callable[[Settings], Awaitable[RunningBot]], url: str,
                       graph: FakeGraph, connector: FakeConnector, *,
                       pattern: str = "") -> Team:
    """A team that ran `setup` and `setup space channel [pattern]` in its incidents channel."""
    team = Team(await start_bot(channel_settings(url, graph)), connector)
    await team.say("setup")
    await team.say(f"setup space channel {pattern}".strip())
    await eventually(lambda: TeamSettings.filter(space="channel").exists())
    return team
