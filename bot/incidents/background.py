"""What a timer's handler may use: the outside systems it calls, and one transaction to
record what came of the call.

Each feature module declares its own job payloads (frozen `JobPayload` dataclasses) and
their handlers (`JOBS`); `bot.teams.timers` gives them a `Background` and registers them.
A handler calls providers outside any transaction (a slow provider must not hold a
database connection) and then records the outcome with `in_incident`, which opens one
unit of work, runs the domain function and writes its notices to the outbox.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from bot.errors import BotError
from bot.incidents.context import Ctx, Policy
from bot.incidents.people import Person
from bot.incidents.pir_record import PirRecord
from bot.metrics import Metrics
from bot.store.jobs import JobPayload, JobRunner, tries_left
from bot.store.models import Job
from integrations.github_issues import IssueTracker
from integrations.google_docs import GoogleDocsExporter
from integrations.presence import PresenceSource
from integrations.statuspage import StatusService
from integrations.teams_channels import NewChannel
from integrations.teams_chats import NewChat
from integrations.video import VideoBridge

T = TypeVar("T")
P = TypeVar("P", bound=JobPayload)
# Domain work done in the incident's transaction (its result is not used).
IncidentWork = Callable[[Ctx], Awaitable[object]]


class EmailDirectory(Protocol):
    """Email addresses Teams knows for people, for calendar invitations."""

    async def emails(self, *, service_url: str, scope: str, people: list[Person]) -> list[str]:
        """The addresses found (people without one are left out)."""
        ...


class VideoBridges(Protocol):
    """The configured video providers, by name."""

    def get(self, name: str) -> VideoBridge:
        """The bridge for `name` ("zoom", "meet", "jitsi")."""
        ...


class AppInstaller(Protocol):
    """Installs the bot's Teams app for one person (integrations.teams_apps)."""

    async def install_for(self, aad_object_id: str) -> None:
        """Installed or already there; raises an error with `retryable` otherwise."""
        ...


class ChannelDirectory(Protocol):
    """A team's channels through Graph (integrations.teams_channels), by its group id."""

    async def create(self, *, group_id: str, name: str, description: str) -> NewChannel:
        """A new standard channel; `ChannelNameTaken` if the name is in use."""
        ...

    async def rename(self, *, group_id: str, channel_id: str, name: str) -> None:
        """A new display name."""
        ...

    async def archive(self, *, group_id: str, channel_id: str) -> None:
        """Archived: read-only for everyone."""
        ...

    async def count(self, *, group_id: str) -> int:
        """How many channels the team lists."""
        ...


class ChatDirectory(Protocol):
    """Group chats through Graph (integrations.teams_chats), members by Entra object id."""

    async def create(self, *, topic: str, members: list[str]) -> NewChat:
        """A new group chat of these people."""
        ...

    async def install(self, *, chat_id: str) -> None:
        """The bot's app in the chat, so that it may post there."""
        ...

    async def add_member(self, *, chat_id: str, member: str) -> None:
        """One more member."""
        ...


class InIncident(Protocol):
    """Runs domain work in one transaction, as the bot, about one incident."""

    async def __call__(self, incident_id: int, work: IncidentWork) -> None:
        """Commit `work` with the notices it queued, or nothing."""
        ...


@dataclass(frozen=True)
class Background:
    """Everything a job handler needs, built once per process."""

    policy: Policy
    in_incident: InIncident
    bridges: VideoBridges
    presence: PresenceSource
    members: EmailDirectory
    metrics: Metrics
    tracker: IssueTracker | None = None
    docs: GoogleDocsExporter | None = None
    status_service: StatusService | None = None
    # Installs the bot for someone Teams will not let it message (needs Graph).
    apps: AppInstaller | None = None
    # A team's channels, for a channel per incident (needs Graph; bot.incidents.spaces).
    channels: ChannelDirectory | None = None
    # Private incidents' group chats (needs Graph and the app's catalog id;
    # bot.incidents.privacy).
    chats: ChatDirectory | None = None
    # The review as the HTML page shows it, for the Google Docs export (presentation
    # lives outside the domain; the web layer supplies it).
    review_html: Callable[[PirRecord], str] | None = None

    async def call_provider(self, job: Job, incident_id: int, call: Callable[[], Awaitable[T]],
                            *, errors: type[BotError], metric: str | None,
                            failed: Callable[[Ctx, str], Awaitable[Any]],
                            done: Callable[[Ctx, T], Awaitable[Any]]) -> None:
        """One outside call, made outside any transaction, then its outcome recorded in one.

        A retryable failure with tries left re-raises, for the job table's backoff; the
        last one is recorded where people see it. `metric`: the provider-error label (a
        `BridgeError` names its own), None for none.
        """
        try:
            result = await call()
        except errors as exc:
            if metric is not None:
                self.metrics.provider_error(getattr(exc, "provider", None) or metric)
            if getattr(exc, "retryable", False) and tries_left(job):
                raise
            reason = str(exc)
            await self.in_incident(incident_id, lambda ctx: failed(ctx, reason))
            return
        await self.in_incident(incident_id, lambda ctx: done(ctx, result))


@dataclass(frozen=True)
class JobHandler(Generic[P]):
    """The coroutine that runs one feature's jobs of one payload type."""

    payload: type[P]
    run: Callable[[Background, Job, P], Awaitable[None]]

    def register(self, runner: JobRunner, bg: Background) -> None:
        """Hand this handler, given `bg`, to the job runner."""
        async def run(job: Job, payload: P) -> None:
            await self.run(bg, job, payload)

        runner.register(self.payload, run)
