"""What a command answers, and the one rule for how that answer reaches Teams.

The rule: what the domain says (`bot.incidents.notices`, the command's own reply among
them) leaves through the outbox, in the transaction of the change that caused it, so a
committed change is never without its messages. What the transport answers itself (a
read such as `status`, the help card, a refusal) changed nothing, so it is sent inline
at once; if that send fails in a way worth retrying, the outbox takes it over.
Card buttons and dialogs are answered in the invoke's HTTP response instead (`card_message`,
`card_replaced`, `task_message`, `task_card`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import CardFactory, MessageFactory, TurnContext
from botbuilder.schema import Activity, InvokeResponse

from bot.errors import ConnectorError
from bot.teams.activity_json import to_json
from bot.teams.cards import CARD_TYPE, Card
from bot.teams.markdown import literal
from bot.teams.turn_context import addressed

log = logging.getLogger(__name__)
# The type of an Action.Execute answer that shows a message instead of a card.
MESSAGE = "application/vnd.microsoft.activity.message"


@dataclass(frozen=True)
class Text:
    """A short answer shown as typed (never as Markdown)."""

    text: str


@dataclass(frozen=True)
class CardAnswer:
    """An answer that is one Adaptive Card."""

    card: Card


@dataclass(frozen=True)
class Help:
    """The help card (every command, from the router) under `intro`."""

    intro: str


Answer = Text | CardAnswer | Help


@dataclass(frozen=True)
class Deferred:
    """An answer the outbox sends because the inline send failed retryably."""

    reply: bool
    service_url: str
    conversation_id: str
    activity_id: str | None
    payload: dict[str, Any]


# Stores a deferred answer in the outbox (one transaction) and wakes its dispatcher.
Deferral = Callable[[Deferred], Awaitable[None]]


def activity_of(answer: Text | CardAnswer) -> Activity:
    """The message activity for `answer`."""
    if isinstance(answer, Text):
        return MessageFactory.text(literal(answer.text))
    return MessageFactory.attachment(CardFactory.adaptive_card(answer.card))


async def send(turn: TurnContext, answer: Text | CardAnswer, *,
               defer: Deferral | None) -> None:
    """Send `answer` to whoever sent `turn`'s activity, inline; through the outbox (with
    `defer`) when Teams throttles or fails retryably. Other refusals raise."""
    activity = activity_of(answer)
    try:
        await turn.send_activity(activity)
    except ConnectorError as exc:
        if not exc.retryable or defer is None:
            raise
        # The user must still get the answer: hand it to the outbox, which retries. The
        # turn context addressed a copy; address one the same way for the outbox (only
        # here: on the way out it costs a conversation reference per answer).
        log.info("inline send failed (%s); deferring to the outbox", exc)
        reply = addressed(activity, TurnContext.get_conversation_reference(turn.activity))
        await defer(Deferred(reply=bool(reply.reply_to_id), service_url=reply.service_url,
                             conversation_id=reply.conversation.id,
                             activity_id=reply.reply_to_id, payload=to_json(reply)))


# Invoke answers: what a card button or a message-action dialog shows.


def card_message(message: str) -> InvokeResponse:
    """An Action.Execute answer that shows a short message instead of a new card."""
    return InvokeResponse(
        status=200,
        body={"statusCode": 200, "type": MESSAGE, "value": message},
    )


def card_replaced(card: Card) -> InvokeResponse:
    """An Action.Execute answer that replaces the card the person pressed."""
    return InvokeResponse(
        status=200,
        body={"statusCode": 200, "type": CARD_TYPE, "value": card},
    )


def task_message(text: str) -> InvokeResponse:
    """Close the dialog (or answer instead of opening one) with a short message."""
    return InvokeResponse(status=200, body={"task": {"type": "message", "value": text}})


def task_card(title: str, card: Card) -> InvokeResponse:
    """Open (or continue) the dialog with an Adaptive Card."""
    return InvokeResponse(status=200, body={"task": {"type": "continue", "value": {
        "title": title, "width": "medium", "height": "medium",
        "card": {"contentType": CARD_TYPE, "content": card}}}})
