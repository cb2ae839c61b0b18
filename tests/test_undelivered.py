"""What a refusal from Teams is called when someone is told about it."""

from __future__ import annotations

import pytest

from bot.store.models import OutboxMessage, OutboxOperation
from bot.teams.outbox import Refusal
from bot.teams.outbox_names import DirectChat
from bot.teams.undelivered import in_plain_words

CHANNEL = "19:stakeholders@thread.tacv2"


def _row(operation: OutboxOperation, *, conversation: str | None = None,
         payload: dict | None = None, after: str | None = None) -> OutboxMessage:
    return OutboxMessage(operation=operation, service_url="https://smba.example/",
                         conversation_id=conversation, payload=payload or {},
                         ordering_key="k", due_ms=0, after=after)


@pytest.mark.parametrize(("row", "status", "words"), [
    (_row(OutboxOperation.CREATE_CONVERSATION, payload={"members": [{"id": "29:1linus"}]}),
     403, "the incident bot is not installed for them in Teams"),
    (_row(OutboxOperation.SEND, conversation="a:1on1-linus"),
     403, "the incident bot is not installed for them in Teams"),
    (_row(OutboxOperation.SEND, after=str(DirectChat.new("tenant", "29:1linus"))),
     403, "the incident bot is not installed for them in Teams"),
    (_row(OutboxOperation.CREATE_CONVERSATION,
          payload={"channelData": {"channel": {"id": CHANNEL}}}),
     403, "Teams refused the bot there (it may have been removed from that team or chat)"),
    (_row(OutboxOperation.REPLY, conversation=f"{CHANNEL};messageid=1"),
     404, "that conversation no longer exists in Teams"),
    (_row(OutboxOperation.REPLY, conversation=f"{CHANNEL};messageid=1"),
     413, "Teams rejected the message as invalid (the bot's log has the details)"),
    (_row(OutboxOperation.SEND, conversation="a:1on1-linus"),
     429, "Teams kept throttling the bot for a day"),
    (_row(OutboxOperation.SEND, conversation="a:1on1-linus"),
     0, "Teams could not be reached for a day"),
], ids=["new 1:1", "known 1:1", "after a new 1:1", "channel", "gone", "too large", "throttled",
        "unreachable"])
def test_a_refusal_is_said_in_words_someone_can_act_on(row: OutboxMessage, status: int,
                                                       words: str) -> None:
    assert in_plain_words(Refusal(status, "connector answered"), row) == words
