"""The Teams channel message every server is sent, with a fresh activity id per request.

A text may carry `{n}` (the request's sequence number), so each declared incident gets
its own title, as people declaring real incidents would give.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

BOT_ID = "28:bot-app-id"
HELP_TEXT = "<at>incident</at> help"
DECLARE_TEXT = "<at>incident</at> declare bench incident {n}"
NUMBER = "{n}"
CONVERSATION_ID = "19:abc@thread.tacv2;messageid=1700000000000"
CHANNEL_ID = "19:abc@thread.tacv2"
TEAM_ID = "19:team@thread.tacv2"
_ID_MARK = "@@activity-id@@"
_NUMBER_MARK = "@@number@@"


def channel_message(*, activity_id: str, service_url: str, text: str = HELP_TEXT) -> dict[str, Any]:
    """A channel message shaped like real Teams sends it, mention entity included."""
    return {
        "type": "message", "id": activity_id, "timestamp": "2026-11-27T10:00:00.000Z",
        "serviceUrl": service_url, "channelId": "msteams",
        "from": {"id": "29:1abc", "name": "Ada Lovelace",
                 "aadObjectId": "00000000-0000-0000-0000-0000000000a1"},
        "conversation": {"isGroup": True, "conversationType": "channel",
                         "tenantId": "tenant-1", "id": CONVERSATION_ID},
        "recipient": {"id": BOT_ID, "name": "incident"},
        "textFormat": "plain", "locale": "en-US", "text": text,
        "entities": [
            {"type": "mention", "mentioned": {"id": BOT_ID, "name": "incident"},
             "text": "<at>incident</at>"},
            {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web",
             "timezone": "Europe/London"},
        ],
        "channelData": {"teamsChannelId": CHANNEL_ID, "teamsTeamId": TEAM_ID,
                        "channel": {"id": CHANNEL_ID}, "team": {"id": TEAM_ID},
                        "tenant": {"id": "tenant-1"}},
    }


def body_factory(*, service_url: str,
                 text: str = HELP_TEXT) -> Callable[[str, int], bytes]:
    """Request bodies by activity id and sequence number; encoded once, so the client's CPU
    goes to HTTP rather than to JSON."""
    template = json.dumps(
        channel_message(activity_id=_ID_MARK, service_url=service_url,
                        text=text.replace(NUMBER, _NUMBER_MARK)),
        separators=(",", ":"),
    )
    head, tail = (part.encode() for part in template.split(_ID_MARK))
    if _NUMBER_MARK not in template:
        return lambda activity_id, number: head + activity_id.encode() + tail
    before, after = (part.encode() for part in tail.decode().split(_NUMBER_MARK))
    return lambda activity_id, number: (head + activity_id.encode() + before
                                        + str(number).encode() + after)
