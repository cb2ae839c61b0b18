"""What the bot learns from the connector's answers: the ids of threads, cards and chats
it created, which later messages and commands need."""

from __future__ import annotations

from typing import Any

from bot.store.incident_models import DirectConversation, Handover, Incident
from bot.store.models import OutboxMessage


async def record_delivery(message: OutboxMessage, result: dict[str, Any]) -> None:
    """Store ids from the answer to a named message (see `bot.teams.render` for names)."""
    if not message.name:
        return
    kind, _, rest = message.name.partition(":")
    if kind == "incident" and rest.endswith(":thread"):
        incident_id = int(rest.split(":")[0])
        await Incident.filter(id=incident_id).update(
            thread_id=result.get("id"), card_activity_id=result.get("activityId"))
    elif kind == "handover" and rest.endswith(":card"):
        await Handover.filter(id=int(rest.split(":")[0])).update(card_activity_id=result.get("id"))
    elif kind == "dm" and result.get("id"):
        # dm:<tenant>:<user id, itself with colons>:<suffix>
        tenant_id, _, user_and_suffix = rest.partition(":")
        user_id = user_and_suffix.rpartition(":")[0]
        await DirectConversation.update_or_create(
            tenant_id=tenant_id, user_id=user_id,
            defaults={"conversation_id": result["id"], "service_url": message.service_url},
        )
