"""Where an incident is talked about: a thread in the incidents channel (the default), or,
when the team chose `setup space channel`, a standard channel of its own.

In channel space the declaring transaction holds the message that opens the incident's
thread (its live card) and schedules `OpenChannel`; the job asks Graph for the channel
outside any transaction, then in one: the incident's `channel_id` becomes the new channel,
the held message goes there (every later post follows it, `SpaceReady`), and the
incidents channel is told where to find it. If Graph will not make it, the held message
goes to the incidents channel as today, and the thread says why. The channel is renamed
when the title or the severity changes (if the pattern names it) and archived when the
incident closes.
See docs/incident-channels.md.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import quote

from bot.errors import BridgeError, CommandError
from bot.incidents import notices as say
from bot.incidents import severity as sev
from bot.incidents.background import Background, ChannelDirectory, JobHandler
from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.team_settings import require_setup_rights, team_of
from bot.incidents.timeline import record
from bot.store import jobs
from bot.store.incident_models import Incident, TeamSettings
from bot.store.models import Job
from integrations.teams_channels import ChannelNameTaken, NewChannel

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_PATTERN = "inc-{number}-{title-slug}"
PLACEHOLDERS = ("{number}", "{title-slug}", "{sev}")
# Teams' rules for a channel's name (Graph "Create channel"; New-TeamChannel's
# -DisplayName): at most 50 characters, none of these, no leading underscore or period.
MAX_NAME = 50
FORBIDDEN = set("~#%&*{}+/\\:<>?|'\";")
# Teams counts at most 1,000 channels per team, archived and recently deleted included.
CHANNEL_LIMIT = 1000
WARN_AT = 900
# Names tried when the team has one already: "inc-42-x", "inc-42-x-2", ...
NAME_TRIES = 5
TRIES = 3


@dataclasses.dataclass(frozen=True)
class OpenChannel(jobs.JobPayload):
    """Create the incident's own channel."""

    KIND = "incident.channel"
    incident_id: int


@dataclasses.dataclass(frozen=True)
class RenameChannel(jobs.JobPayload):
    """Give the incident's channel the name its pattern gives it now."""

    KIND = "incident.channel.rename"
    incident_id: int


@dataclasses.dataclass(frozen=True)
class ArchiveChannel(jobs.JobPayload):
    """Archive the closed incident's channel."""

    KIND = "incident.channel.archive"
    incident_id: int


def slug(text: str) -> str:
    """"Checkout API: 502s!" -> "checkout-api-502s" (letters and digits of any script)."""
    return re.sub(r"-+", "-", "".join(c if c.isalnum() else "-" for c in text.lower())
                  ).strip("-")


def channel_name(pattern: str | None, incident: Incident, *, attempt: int = 1,
                 scale: sev.SeverityScale = sev.BUILT_IN) -> str:
    """The channel's name within Teams' rules; `attempt` > 1 adds "-<attempt>"; `{sev}` is
    the level's name in `scale` (the organisation's)."""
    suffix = f"-{attempt}" if attempt > 1 else ""
    text = (pattern or DEFAULT_PATTERN).replace("{number}", str(incident.number)) \
        .replace("{sev}", slug(scale.name(incident.severity))) \
        .replace("{title-slug}", slug(incident.title))
    text = "".join(c for c in text if c not in FORBIDDEN and c.isprintable())
    text = re.sub(r"\s+", " ", text).lstrip("_. ")
    text = text[: MAX_NAME - len(suffix)].rstrip("-_. ")
    return (text or f"inc-{incident.number}") + suffix


def check_pattern(pattern: str) -> str:
    """A pattern people typed, or why not: it must number the channel."""
    if "{number}" not in pattern:
        raise CommandError("A channel name pattern must contain {number}, so that each "
                           f"incident's is unique: e.g. `{DEFAULT_PATTERN}`.")
    unknown = re.sub("|".join(re.escape(p) for p in PLACEHOLDERS), "", pattern)
    if "{" in unknown or "}" in unknown:
        raise CommandError("A pattern may use " + ", ".join(PLACEHOLDERS) + " only.")
    return pattern


async def set_space(ctx: Ctx, mode: str, pattern: str) -> TeamSettings:
    """`setup space thread|channel [pattern]`."""
    require_setup_rights(ctx)
    if mode not in ("thread", "channel"):
        raise CommandError("Usage: `setup space thread` or `setup space channel [pattern]`, "
                           f"pattern by default `{DEFAULT_PATTERN}`.")
    settings = await team_of(ctx)
    if mode == "thread":
        settings.space = "thread"
        await settings.save()
        ctx.tell(say.Reply("Each new incident gets a thread in the incidents channel."))
        return settings
    if not ctx.policy.graph_enabled:
        raise CommandError(
            "A channel per incident needs a Microsoft Graph app: set GRAPH_TENANT_ID, "
            "GRAPH_CLIENT_ID and GRAPH_CLIENT_SECRET, with the application permissions "
            "Channel.Create and ChannelSettings.ReadWrite.All (admin consent), then run "
            "this again. See docs/incident-channels.md.")
    if not ctx.origin.team_aad_group_id:
        raise CommandError(
            "Teams did not tell me this team's Microsoft 365 group id (channelData.team."
            "aadGroupId), which Graph needs to make channels: run `@incident setup space "
            "channel` in a standard channel of the team.")
    settings.space, settings.aad_group_id = "channel", ctx.origin.team_aad_group_id
    settings.channel_pattern = check_pattern(pattern) if pattern else None
    await settings.save()
    example = channel_name(settings.channel_pattern, Incident(
        number=42, title="Checkout API 502", severity=min(2, ctx.policy.severity.lowest)),
        scale=ctx.policy.severity)
    ctx.tell(say.Reply(f"Each new incident gets a channel of its own in this team, named "
                       f"like `{example}`, announced here; it is archived when the "
                       "incident closes."))
    return settings


async def plan(ctx: Ctx, incident: Incident) -> bool:
    """At declaring: in channel space, hold the thread and ask for the channel."""
    settings = await TeamSettings.get_or_none(tenant_id=incident.tenant_id,
                                              team_id=incident.team_id)
    if settings is None or settings.space != "channel" or not settings.aad_group_id:
        return False
    incident.space_state, incident.space_group_id = "creating", settings.aad_group_id
    await incident.save()
    await jobs.schedule(OpenChannel(incident.id), due_ms=ctx.now_ms, max_attempts=TRIES)
    return True


def channel_link(incident: Incident, web_url: str | None) -> str:
    """Opens the channel in Teams."""
    return web_url or (f"https://teams.microsoft.com/l/channel/{quote(incident.channel_id)}/"
                       f"{quote(incident.space_name or '')}?groupId="
                       f"{quote(incident.space_group_id or '')}&tenantId="
                       f"{quote(incident.tenant_id)}")


async def channel_opened(ctx: Ctx, incident_id: int, channel: NewChannel,
                         count: int | None) -> None:
    """The channel exists: the incident moves there, the incidents channel is told."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if incident.space_state != "creating" or incident.thread_id:
        # Its thread already went to the incidents channel (the hold ran out).
        log.warning("INC-%s got channel %s after its thread was opened elsewhere",
                    incident.number, channel.id)
        return
    incidents_channel = incident.channel_id
    incident.channel_id, incident.space_name = channel.id, channel.name
    incident.space_state = "open"
    await incident.save()
    text = f"INC-{incident.number} has its own channel: {channel.name}"
    await record(ctx, incident, EventKind.CHANNEL, text, {"channel": channel.id})
    ctx.tell(say.SpaceReady(incident.id), say.ChannelPost(
        incident.id, incidents_channel,
        f"INC-{incident.number} {ctx.policy.severity.name(incident.severity)}: "
        f"{incident.title}. Its "
        "channel:", channel.name, channel_link(incident, channel.web_url)))
    if count is not None and count >= WARN_AT:
        await _warn_near_limit(ctx, incident, incidents_channel, count)


async def _warn_near_limit(ctx: Ctx, incident: Incident, incidents_channel: str,
                           count: int) -> None:
    settings = await TeamSettings.get_or_none(tenant_id=incident.tenant_id,
                                              team_id=incident.team_id)
    if settings is None or settings.channel_limit_warned:
        return
    settings.channel_limit_warned = True
    await settings.save()
    ctx.tell(say.ChannelPost(
        incident.id, incidents_channel,
        f"Admins: this team has {count} channels; Teams allows {CHANNEL_LIMIT:,}, counting "
        "archived ones and those deleted in the last 30 days. Ask a team owner to delete "
        "old incident channels (archived ones still count), or use `@incident setup space "
        "thread`; once the limit is reached, new incidents get a thread here instead."))


async def channel_failed(ctx: Ctx, incident_id: int, reason: str) -> None:
    """No channel: the thread goes to the incidents channel, saying why."""
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    if incident.space_state != "creating":
        return
    incident.space_state = "fallback"
    await incident.save()
    text = (f"INC-{incident.number} could not get a channel of its own: {reason}. This "
            "thread in the incidents channel is its place instead.")
    await record(ctx, incident, EventKind.CHANNEL_FAILED, text)
    ctx.tell(say.SpaceReady(incident.id), say.ThreadPost(incident.id, text))


async def name_changed(incident: Incident, now_ms: int) -> None:
    """The title or the severity changed: give the channel the name its pattern gives now
    (the job changes nothing when the pattern names neither)."""
    if incident.space_state == "open":
        await jobs.schedule(RenameChannel(incident.id), due_ms=now_ms, max_attempts=TRIES,
                            dedupe_key=f"incident:{incident.id}:channel-name")


async def closed(incident: Incident, now_ms: int) -> None:
    """Archive the channel once the closing posts have had time to reach it."""
    if incident.space_state == "open":
        await jobs.schedule(ArchiveChannel(incident.id), due_ms=now_ms + ARCHIVE_AFTER_MS,
                            max_attempts=TRIES)


# Archiving makes the channel read-only, for the bot too: the closing card and post go first.
ARCHIVE_AFTER_MS = 30_000


def _channels(bg: Background) -> ChannelDirectory:
    if bg.channels is None:
        raise BridgeError("no Microsoft Graph app is configured (GRAPH_CLIENT_ID, "
                          "GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID)", provider="teams-channels",
                          retryable=False)
    return bg.channels


async def _under_a_free_name(pattern: str | None, incident: Incident, scale: sev.SeverityScale,
                             call: Callable[[str], Awaitable[T]]) -> T:
    """`call` with the pattern's name, then "-2", "-3", ... while the team has that one."""
    for attempt in range(1, NAME_TRIES + 1):
        try:
            return await call(channel_name(pattern, incident, attempt=attempt, scale=scale))
        except ChannelNameTaken:
            if attempt == NAME_TRIES:
                raise
    raise AssertionError("unreachable")


async def open_channel(bg: Background, job: Job, payload: OpenChannel) -> None:
    """Graph's calls run outside any transaction; the outcome is recorded in one."""
    incident = await Incident.get(id=payload.incident_id)
    settings = await TeamSettings.get_or_none(tenant_id=incident.tenant_id,
                                              team_id=incident.team_id)
    pattern = settings.channel_pattern if settings else None
    description = f"INC-{incident.number}: {incident.title}"

    async def create(name: str) -> NewChannel:
        return await _channels(bg).create(group_id=incident.space_group_id or "", name=name,
                                          description=description)

    async def create_and_count() -> tuple[NewChannel, int | None]:
        try:
            channel = await _under_a_free_name(pattern, incident, bg.policy.severity, create)
        except BridgeError:
            bg.metrics.provider_error("graph")
            raise
        return channel, await _count(bg, incident)

    await bg.call_provider(
        job, incident.id, create_and_count, errors=BridgeError, metric=None,
        failed=lambda ctx, reason: channel_failed(ctx, incident.id, reason),
        done=lambda ctx, made: channel_opened(ctx, incident.id, *made))


async def _count(bg: Background, incident: Incident) -> int | None:
    """The team's channel count, or None if Graph would not say (nothing is lost)."""
    try:
        return await _channels(bg).count(group_id=incident.space_group_id or "")
    except BridgeError as exc:
        log.info("could not count the channels of team %s: %s", incident.space_group_id, exc)
        return None


async def rename_channel(bg: Background, job: Job, payload: RenameChannel) -> None:
    """PATCH the name the pattern gives now (nothing when it is the same)."""
    incident = await Incident.get(id=payload.incident_id)
    settings = await TeamSettings.get_or_none(tenant_id=incident.tenant_id,
                                              team_id=incident.team_id)
    pattern = settings.channel_pattern if settings else None
    scale = bg.policy.severity
    if (incident.space_state != "open"
            or channel_name(pattern, incident, scale=scale) == incident.space_name):
        return
    async def rename(name: str) -> str:
        await _channels(bg).rename(group_id=incident.space_group_id or "",
                                   channel_id=incident.channel_id, name=name)
        return name

    await bg.call_provider(
        job, incident.id, lambda: _under_a_free_name(pattern, incident, scale, rename),
        errors=BridgeError, metric=None,
        failed=lambda ctx, reason: _say(ctx, incident.id,
                                        f"Could not rename this channel: {reason}."),
        done=lambda ctx, name: _renamed(ctx, incident.id, name))


async def _renamed(ctx: Ctx, incident_id: int, name: str) -> None:
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    incident.space_name = name
    await incident.save()
    await record(ctx, incident, EventKind.CHANNEL, f"Channel renamed to {name}.")


async def _say(ctx: Ctx, incident_id: int, text: str) -> None:
    ctx.tell(say.ThreadPost(incident_id, text))


async def archive_channel(bg: Background, job: Job, payload: ArchiveChannel) -> None:
    """Archive the channel; if Graph will not, say so in it."""
    incident = await Incident.get(id=payload.incident_id)
    if incident.space_state != "open":
        return
    await bg.call_provider(
        job, incident.id, lambda: _channels(bg).archive(
            group_id=incident.space_group_id or "", channel_id=incident.channel_id),
        errors=BridgeError, metric=None,
        failed=lambda ctx, reason: _say(ctx, incident.id,
                                        f"Could not archive this channel: {reason}."),
        done=lambda ctx, _: _archived(ctx, incident.id))


async def _archived(ctx: Ctx, incident_id: int) -> None:
    incident = await Incident.filter(id=incident_id).select_for_update().get()
    incident.space_state = "archived"
    await incident.save()
    await record(ctx, incident, EventKind.CHANNEL, f"Channel {incident.space_name} archived.")


JOBS = (JobHandler(OpenChannel, open_channel), JobHandler(RenameChannel, rename_channel),
        JobHandler(ArchiveChannel, archive_channel))
