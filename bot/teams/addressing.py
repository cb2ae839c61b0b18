"""How an answer is addressed: as JSON, straight from the activity it answers.

botbuilder's `TurnContext.send_activity` deep-copies the outgoing activity, builds a
`ConversationReference` (copying three accounts), addresses the copy with
`apply_conversation_reference`, and the adapter then serialises the whole model again.
Under load that was about a fifth of a `help` turn (docs/architecture.md, "Performance
facts"), for a result that is a few JSON fields. So inline answers (`bot.teams.answers`)
are built as the JSON the Bot Connector is sent, addressed here with the same fields the
SDK sets on a reply.
"""

from __future__ import annotations

from typing import Any

from botbuilder.schema import Activity, ActivityTypes

from bot.teams.activity_json import to_json


def addressed(incoming: Activity, body: dict[str, Any]) -> dict[str, Any]:
    """`body` (a message's own fields) as a reply to `incoming`: its channel, service and
    conversation, from the bot to the sender, and in the thread of the activity answered
    (as `apply_conversation_reference` does; a conversationUpdate has no message to reply
    to). Fields the incoming activity lacks are left out."""
    out = dict(body)
    for key, value in (("serviceUrl", incoming.service_url),
                       ("channelId", incoming.channel_id),
                       ("from", to_json(incoming.recipient)),
                       ("recipient", to_json(incoming.from_property)),
                       ("conversation", to_json(incoming.conversation)),
                       ("locale", incoming.locale)):
        if value is not None:
            out[key] = value
    if incoming.id and incoming.type != ActivityTypes.conversation_update:
        out["replyToId"] = incoming.id
    return out
