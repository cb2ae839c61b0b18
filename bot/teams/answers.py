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

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, InvokeResponse

from bot.errors import ConnectorError
from bot.store.pace import Pace
from bot.teams.adapter import TeamsAdapter
from bot.teams.addressing import addressed
from bot.teams.cards import CARD_TYPE, Card
from bot.teams.pacing import budgets, thread_of
from bot.teams.render import message, tenant_of

log = logging.getLogger(__name__)
# How long an inline answer waits for the shared rate budget before going anyway.
PACE_WAIT_S = 0.25
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
    """The help card (every command, from the router) under `intro`; with a `topic`,
    that command's usage alone (or, for a near miss, the command it probably means)."""

    intro: str
    topic: str | None = None


Answer = Text | CardAnswer | Help


@dataclass(frozen=True)
class Deferred:
    """An answer the outbox sends because the inline send failed retryably."""

    reply: bool
    service_url: str
    conversation_id: str
    activity_id: str | None
    payload: dict[str, Any]
    tenant_id: str | None = None


# Stores a deferred answer in the outbox (one transaction) and wakes its dispatcher.
Deferral = Callable[[Deferred], Awaitable[None]]


def content_of(answer: Text | CardAnswer) -> dict[str, Any]:
    """The message body of `answer`, before it is addressed."""
    if isinstance(answer, Text):
        return message(answer.text)
    return message(card=answer.card)


async def send(turn: TurnContext, answer: Text | CardAnswer, *,
               defer: Deferral | None, pace: Pace | None = None) -> None:
    """Send `answer` to whoever sent `turn`'s activity, inline when Teams' budget for that
    conversation has room; through the outbox (with `defer`) when it has none, or Teams
    throttles or fails retryably. Other refusals raise."""
    incoming = turn.activity
    body = addressed(incoming, content_of(answer))
    thread = thread_of(incoming.conversation.id)
    if defer is not None and not await _budget_allows(pace, incoming, thread):
        # The conversation is busy: the outbox sends it in its turn, paced; if the outbox
        # cannot take it (the database is away), better a throttled try than no answer.
        try:
            await _defer(incoming, body, defer)
            return
        except Exception as exc:  # noqa: BLE001
            log.info("could not defer a paced answer (%s); sending inline",
                     type(exc).__name__)
    adapter: TeamsAdapter = turn.adapter
    try:
        await adapter.answer(body)
        turn.responded = True  # as TurnContext.send_activity would say
    except ConnectorError as exc:
        if not exc.retryable or defer is None:
            raise
        if exc.status == 429 and pace is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(pace.hold(thread, exc.retry_after), PACE_WAIT_S)
        # The user must still get the answer: hand it to the outbox, which retries.
        log.info("inline send failed (%s); deferring to the outbox", exc)
        await _defer(incoming, body, defer)


async def _budget_allows(pace: Pace | None, incoming: Activity, thread: str) -> bool:
    """Spend one call from the conversation's budget. Answers must not depend on the
    database (they tell people it is away): if the shared budget cannot be read in time,
    the answer goes anyway."""
    if pace is None:
        return True
    spent = budgets(tenant_of(incoming), thread)
    if pace.in_memory:  # nothing to wait for: no deadline (a task per answer) needed
        return await pace.take(spent) is None
    try:
        denied = await asyncio.wait_for(pace.take(spent), PACE_WAIT_S)
    except Exception as exc:  # noqa: BLE001 - any failure: answer rather than wait
        log.debug("rate budget unavailable (%s); answering inline", type(exc).__name__)
        return True
    return denied is None


async def _defer(incoming: Activity, body: dict[str, Any], defer: Deferral) -> None:
    reply_to = body.get("replyToId")
    await defer(Deferred(reply=bool(reply_to), service_url=body["serviceUrl"],
                         conversation_id=body["conversation"]["id"], activity_id=reply_to,
                         payload=body, tenant_id=tenant_of(incoming)))


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
