"""Inline answers are addressed as botbuilder's TurnContext would address them."""

from __future__ import annotations

from typing import Any

import pytest
from botbuilder.core import TurnContext
from botbuilder.schema import Activity

from bot.teams.activity_json import activity_from_dict, to_json
from bot.teams.addressing import addressed
from tests.fakes import activities as teams

SERVICE = "https://smba.trafficmanager.net/emea/"
BODY = {"type": "message", "text": "hello"}


def sdk_addressed(incoming: Activity) -> dict[str, Any]:
    """What the SDK's send_activity puts on a reply, as the Bot Connector is sent it."""
    reply = TurnContext.apply_conversation_reference(
        Activity(type="message", text="hello"), TurnContext.get_conversation_reference(incoming))
    return to_json(reply)


@pytest.mark.parametrize("data", [
    teams.channel_message(SERVICE, "<at>incident</at> help"),
    teams.personal_message(SERVICE, "help"),
    teams.group_chat_message(SERVICE, "<at>incident</at> help"),
    teams.installation_update(SERVICE),
    teams.conversation_update(SERVICE, added=[{"id": teams.BOT_ID}]),
], ids=["channel", "personal", "group chat", "installationUpdate", "conversationUpdate"])
def test_an_answer_is_addressed_as_the_sdk_addresses_it(data: dict[str, Any]) -> None:
    incoming = activity_from_dict(data)

    assert addressed(incoming, BODY) == sdk_addressed(incoming)


def test_the_answer_goes_from_the_bot_to_the_sender_in_the_thread_answered() -> None:
    data = teams.channel_message(SERVICE, "<at>incident</at> help", sender=teams.GRACE)

    out = addressed(activity_from_dict(data), BODY)

    assert out["from"]["id"] == data["recipient"]["id"]
    assert out["recipient"]["id"] == teams.GRACE.id
    assert out["conversation"]["id"] == data["conversation"]["id"]
    assert out["replyToId"] == data["id"]
    assert out["text"] == "hello"
    assert BODY == {"type": "message", "text": "hello"}  # the body itself is not changed


def test_a_conversation_update_is_answered_with_a_new_message() -> None:
    data = teams.conversation_update(SERVICE, added=[{"id": teams.BOT_ID}])

    assert "replyToId" not in addressed(activity_from_dict(data), BODY)


def test_what_the_activity_lacks_is_left_out() -> None:
    data = teams.personal_message(SERVICE, "help")
    del data["recipient"], data["locale"]

    out = addressed(activity_from_dict(data), BODY)

    assert "from" not in out and "locale" not in out
    assert out["recipient"]["id"] == data["from"]["id"]
