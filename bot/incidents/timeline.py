"""The incident's timeline: every change, with who did it and when."""

from __future__ import annotations

from typing import Any

from bot.incidents.context import Ctx
from bot.incidents.event_kinds import EventKind
from bot.incidents.limits import clip
from bot.store.incident_models import Incident, TimelineEvent


async def record(
    ctx: Ctx, incident: Incident, kind: EventKind, text: str, data: dict[str, Any] | None = None
) -> TimelineEvent:
    """Add an event at `ctx.now` by `ctx.actor` (None for the bot's own timers)."""
    actor = ctx.actor if ctx.actor.id else None
    return await TimelineEvent.create(
        incident=incident,
        at=ctx.now,
        kind=kind.value,
        actor_id=actor.id if actor else None,
        actor_name=actor.name if actor else None,
        text=clip(text),
        data=data,
    )


async def recent(incident: Incident, limit: int = 5) -> list[TimelineEvent]:
    """The latest events, oldest first, without the conversation (`EventKind.CHAT`): the
    card and `status` say what was decided, and five chat lines would push every decision
    off them (the conversation is in the review, `bot.incidents.conversation`)."""
    events = await (TimelineEvent.filter(incident=incident).exclude(kind=EventKind.CHAT)
                    .order_by("-at", "-id").limit(limit))
    return list(reversed(events))
