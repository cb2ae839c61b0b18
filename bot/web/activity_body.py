"""Checks an incoming body is an activity the bot can act on, with a reason when not."""

from __future__ import annotations

from typing import Any

from bot.errors import BadActivityError

# The longest ids and URLs the store keeps (Teams' own are far shorter): longer ones are
# refused here rather than failing a command half-way.
MAX_LENGTHS = {"serviceUrl": 512, "conversation.id": 512, "from.id": 256, "id": 256,
               "replyToId": 256, "from.aadObjectId": 64, "conversation.tenantId": 64,
               "channelData.tenant.id": 64, "channelData.team.id": 256,
               "channelData.channel.id": 256, "channelData.teamsTeamId": 256,
               "channelData.teamsChannelId": 256}
# The same, split once: (path, its keys, limit).
_LIMITS = tuple((path, tuple(path.split(".")), limit) for path, limit in MAX_LENGTHS.items())


def _text(data: dict[str, Any], key: str, *, where: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadActivityError(f"'{where}{key}' must be a non-empty string")
    return value


def _bounded(data: dict[str, Any]) -> None:
    for path, parts, limit in _LIMITS:
        node: Any = data
        for part in parts:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, str) and len(node) > limit:
            raise BadActivityError(f"'{path}' is longer than {limit} characters")
        if node is not None and not isinstance(node, str):
            raise BadActivityError(f"'{path}' must be a string")


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise BadActivityError(f"'{key}' must be an object")
    return value


def validate_activity(data: Any) -> dict[str, Any]:
    """Raise `BadActivityError` unless `data` has what every turn relies on."""
    if not isinstance(data, dict):
        raise BadActivityError("body must be a JSON object")
    _text(data, "type")
    _text(data, "channelId")
    service_url = _text(data, "serviceUrl")
    if not service_url.startswith(("https://", "http://")):
        raise BadActivityError("'serviceUrl' must be an http(s) URL")
    _text(_object(data, "conversation"), "id", where="conversation.")
    _text(_object(data, "from"), "id", where="from.")
    recipient = data.get("recipient")
    if recipient is not None and not isinstance(recipient, dict):
        raise BadActivityError("'recipient' must be an object")
    for key in ("text", "id", "replyToId", "name"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise BadActivityError(f"'{key}' must be a string")
    for key in ("entities", "attachments", "membersAdded", "membersRemoved"):
        items = data.get(key)
        if items is not None and not (
            isinstance(items, list) and all(isinstance(i, dict) for i in items)
        ):
            raise BadActivityError(f"'{key}' must be a list of objects")
    channel_data = data.get("channelData")
    if channel_data is not None and not isinstance(channel_data, dict):
        raise BadActivityError("'channelData' must be an object")
    _bounded(data)
    return data


def tenant_of(data: dict[str, Any]) -> str | None:
    """The Entra tenant the activity comes from (channelData first, as Teams fills it)."""
    tenant = (data.get("channelData") or {}).get("tenant")
    raw_conversation_tenant = data["conversation"].get("tenantId")
    conversation_tenant = (raw_conversation_tenant
                           if isinstance(raw_conversation_tenant, str) else None)
    if isinstance(tenant, dict) and isinstance(tenant.get("id"), str):
        tenant_id: str = tenant["id"]
        if conversation_tenant and conversation_tenant != tenant_id:
            # Teams never sends two tenants; an activity that does is not one to act on.
            raise BadActivityError("channelData.tenant.id and conversation.tenantId disagree")
        return tenant_id
    return conversation_tenant
