"""What the bot learns from the connector's answers: the ids of threads, cards and chats
it created, which later messages and commands need."""

from __future__ import annotations

from typing import Any

from bot.store.alert_models import AlertGroup
from bot.store.incident_models import DirectConversation, Handover, Incident
from bot.store.models import OutboxMessage, OutboxOperation
from bot.teams.outbox_names import AlertPost, DirectChat, RoleCard, ThreadStart, parse


async def record_delivery(message: OutboxMessage, result: dict[str, Any]) -> None:
    """Store ids from the answer to a named message (names: `bot.teams.outbox_names`)."""
    match parse(message.name):
        case ThreadStart(incident_id) if message.operation is OutboxOperation.SEND:
            # A message in an existing conversation (a private incident's chat).
            await Incident.filter(id=incident_id).update(
                thread_id=message.conversation_id, card_activity_id=result.get("id"))
        case ThreadStart(incident_id):
            await Incident.filter(id=incident_id).update(
                thread_id=result.get("id"), card_activity_id=result.get("activityId"))
        case RoleCard(handover_id):
            await Handover.filter(id=handover_id).update(card_activity_id=result.get("id"))
        case AlertPost(group_id):
            await AlertGroup.filter(id=group_id).update(
                card_conversation_id=result.get("id"), card_activity_id=result.get("activityId"))
        case DirectChat(tenant_id, user_id, _) if result.get("id"):
            await DirectConversation.update_or_create(
                tenant_id=tenant_id, user_id=user_id,
                defaults={"conversation_id": result["id"], "service_url": message.service_url},
            )
        case _:
            pass
