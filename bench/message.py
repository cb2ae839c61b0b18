"""The Teams channel message every server is sent, with a fresh activity id per request.

A text may carry `{n}` (the request's sequence number), so each declared incident gets
its own title, as people declaring real incidents would give, and `{m}` (the sequence
number modulo `SPREAD`, plus one), so notes spread over that many incidents. The card
action is an `adaptiveCard/action` invoke accepting handover `{n}` of incident `{n}`.
Commands @mention the bot (the `<at>` text and the mention entity); the conversation the
bot captures with `CAPTURE_CONVERSATION` (`CHAT_TEXT`, `CHATTER_TEXT`) carries neither.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BOT_ID = "28:bot-app-id"
HELP_TEXT = "<at>incident</at> help"
DECLARE_TEXT = "<at>incident</at> declare bench incident {n}"
NOTE_TEXT = "<at>incident</at> note INC-{m} bench note {n}: error rate back to 0.2%"
LIST_TEXT = "<at>incident</at> list"
STATUS_TEXT = "<at>incident</at> status INC-{m}"
# Said without mentioning the bot (docs/conversation-capture.md): in an incident's thread,
# which the bot stores, and in the channel outside any incident, which it drops.
CHAT_TEXT = ("rolled back the 10:40 deploy, error rate falling: "
             "https://grafana.example.com/d/checkout")
CHATTER_TEXT = "is anyone else seeing slow builds this morning?"
ACCEPT = "accept"  # not a text: the card action's marker for `body_factory`
NUMBER = "{n}"
SPREAD_MARK = "{m}"
SPREAD = 100
CONVERSATION_ID = "19:abc@thread.tacv2;messageid=1700000000000"
# Under load each message starts its own thread in the channel (as top-level posts do),
# except notes, which are posted in their incident's thread: replies to one thread leave
# strictly in order, so one shared thread would measure that queue rather than the bot.
NEW_THREAD = "19:abc@thread.tacv2;messageid={n}"
INCIDENT_THREAD = "19:abc@thread.tacv2;messageid=incident-{m}"
# Seeded incident m's own thread and the card at its root (bench.seed): a message said in
# that thread, as Teams sends it (its `replyToId` is the root). `note` names its incident
# (INC-m), so INCIDENT_THREAD suffices for it; the chat the bot captures has no number
# and is placed by its thread, so it must come from the seeded one.
SEEDED_THREAD = "19:seed-{m}@thread.tacv2"
SEEDED_CARD = "card-{m}"
# A new top-level post in the channel (its own thread), outside any incident's: not
# NEW_THREAD, whose ids are also those the fake connector gives the threads of declared
# incidents (`messageid=1`, `2`, ...), so a post there would land in one of them.
CHANNEL_POST = "19:abc@thread.tacv2;messageid=post-{n}"
CHANNEL_ID = "19:abc@thread.tacv2"
TENANT_ID = "tenant-1"
TEAM_ID = "19:team@thread.tacv2"
_ID_MARK = "@@activity-id@@"
_NUMBER_MARK = "@@number@@"
_SPREAD_MARK = "@@spread@@"


@dataclass(frozen=True)
class Sender:
    """Who posts a message: Teams' `from` of a channel member."""

    id: str
    name: str
    aad_object_id: str

    def as_from(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "aadObjectId": self.aad_object_id}


ADA = Sender("29:1abc", "Ada Lovelace", "00000000-0000-0000-0000-0000000000a1")


def channel_message(*, activity_id: str, service_url: str, text: str = HELP_TEXT,
                    conversation_id: str = CONVERSATION_ID, sender: Sender = ADA,
                    reply_to_id: str | None = None, mention: bool = True) -> dict[str, Any]:
    """A channel message shaped like real Teams sends it, mention entity included (unless
    `mention` is off: a message not addressed to the bot); a reply in a thread carries the
    thread's root activity as `replyToId`, as Teams sends it."""
    message: dict[str, Any] = {
        "type": "message", "id": activity_id, "timestamp": "2026-11-27T10:00:00.000Z",
        "serviceUrl": service_url, "channelId": "msteams",
        "from": sender.as_from(),
        "conversation": {"isGroup": True, "conversationType": "channel",
                         "tenantId": TENANT_ID, "id": conversation_id},
        "recipient": {"id": BOT_ID, "name": "incident"},
        "textFormat": "plain", "locale": "en-US", "text": text,
        "entities": [
            *([{"type": "mention", "mentioned": {"id": BOT_ID, "name": "incident"},
                "text": "<at>incident</at>"}] if mention else []),
            {"type": "clientInfo", "locale": "en-US", "country": "US", "platform": "Web",
             "timezone": "Europe/London"},
        ],
        "channelData": {"teamsChannelId": CHANNEL_ID, "teamsTeamId": TEAM_ID,
                        "channel": {"id": CHANNEL_ID}, "team": {"id": TEAM_ID},
                        "tenant": {"id": TENANT_ID}},
    }
    if reply_to_id is not None:
        message["replyToId"] = reply_to_id
    return message


def accept_invoke(*, activity_id: str, service_url: str, handover: str,
                  conversation_id: str = CONVERSATION_ID) -> dict[str, Any]:
    """Pressing Accept on a role request card (Action.Execute), as the person asked."""
    message = channel_message(activity_id=activity_id, service_url=service_url,
                              conversation_id=conversation_id)
    for key in ("text", "textFormat", "entities"):
        del message[key]
    message.update({"type": "invoke", "name": "adaptiveCard/action", "value": {
        "action": {"type": "Action.Execute", "verb": "handover.accept",
                   "data": {"handoverId": handover, "incidentId": handover}},
        "trigger": "manual"}})
    return message


def body_factory(*, service_url: str, text: str = HELP_TEXT, first: int = 0,
                 spread: int = SPREAD, conversation_id: str = CONVERSATION_ID,
                 reply_to_id: str | None = None,
                 mention: bool = True) -> Callable[[str, int], bytes]:
    """Request bodies by activity id and sequence number (plus `first`); the JSON is encoded
    once, so the client's CPU goes to HTTP rather than to JSON. `reply_to_id` may hold
    `{n}` and `{m}` like the text and the conversation."""
    def marked(value: str) -> str:
        return value.replace(NUMBER, _NUMBER_MARK).replace(SPREAD_MARK, _SPREAD_MARK)

    if text == ACCEPT:
        message = accept_invoke(activity_id=_ID_MARK, service_url=service_url,
                                handover=_NUMBER_MARK, conversation_id=marked(conversation_id))
    else:
        message = channel_message(
            activity_id=_ID_MARK, service_url=service_url, text=marked(text),
            conversation_id=marked(conversation_id), mention=mention,
            reply_to_id=None if reply_to_id is None else marked(reply_to_id))
    template = json.dumps(message, separators=(",", ":"))
    if _NUMBER_MARK not in template and _SPREAD_MARK not in template:
        head, tail = (part.encode() for part in template.split(_ID_MARK))
        return lambda activity_id, number: head + activity_id.encode() + tail

    def body(activity_id: str, number: int) -> bytes:
        return (template.replace(_ID_MARK, activity_id)
                .replace(_NUMBER_MARK, str(first + number))
                .replace(_SPREAD_MARK, str(number % spread + 1)).encode())

    return body
