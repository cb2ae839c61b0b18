"""Teams' rate limits as budgets the bot spends itself, so Teams never has to throttle it.

Microsoft's published limits for a bot (learn.microsoft.com/microsoftteams/platform/bots/
how-to/rate-limit, "Per bot per thread limit" and "Global limit"): sending to and creating
a conversation may happen 7 times in 1 s, 8 in 2 s, 60 in 30 s and 1800 in 3600 s per
thread, where a thread is a 1:1 chat, a group chat or a channel (so every reply chain of
one channel shares one budget); and 50 requests per second per app per tenant. Going over
them answers 429, and Microsoft answers repeated offenders with longer blocks.

The bot spends one call less than each limit (the limits "may change"; a 429 that still
comes holds that conversation and slows it, `bot.store.pace`). The hour window is left
to Teams' 429: at the 30 s pace an incident thread would need a full hour of non-stop
posting to reach it, and coalescing keeps the bot far below that.

Two lanes keep routine traffic from eating a busy conversation's budget: routine
confirmations leave at most once per 2 s per reply chain (those waiting meanwhile are
merged into one message) and a live card is refreshed at most once per 2 s (waiting
refreshes are merged into the newest). What people must see first has the rest.
"""

from __future__ import annotations

from typing import Any

from bot.store.models import OutboxMessage, OutboxOperation
from bot.store.pace import Budget, Window

CONVERSATION = (Window(6, 1), Window(7, 2), Window(55, 30))
TENANT = (Window(45, 1),)
ROUTINE = (Window(1, 2),)
CARD = (Window(1, 2),)


def thread_of(conversation_id: str) -> str:
    """The budget a conversation spends: a channel's reply chains all count as the channel."""
    return "thread:" + conversation_id.split(";messageid=", 1)[0]


def routine_lane(conversation_id: str) -> str:
    """The lane of routine confirmations in one conversation: one reply chain, so that
    several busy incidents in one channel each get theirs (the channel's budget is still
    shared)."""
    return "routine:" + conversation_id


def card_lane(incident_id: int) -> str:
    """The lane of one incident's live card refreshes."""
    return f"card:{incident_id}"


def _lane_windows(lane: str) -> tuple[Window, ...]:
    return ROUTINE if lane.startswith("routine:") else CARD


def budgets(tenant_id: str | None, thread: str, lane: str | None = None) -> list[Budget]:
    """What one call spends: its tenant first (the shared store locks on it), its thread,
    and its lane if it has one."""
    spent = [Budget("tenant:" + (tenant_id or ""), TENANT), Budget(thread, CONVERSATION)]
    if lane:
        spent.append(Budget(lane, _lane_windows(lane)))
    return spent


def row_budgets(row: OutboxMessage) -> list[Budget]:
    """The budgets an outbox row spends (its conversation ids already filled in)."""
    payload: dict[str, Any] = row.payload or {}
    tenant = row.tenant_id or payload.get("tenantId")
    return budgets(tenant, row_thread(row), row.lane)


def row_thread(row: OutboxMessage) -> str:
    """The thread budget of a row: a new 1:1 counts as the chat with that person, a new
    channel thread as its channel."""
    payload: dict[str, Any] = row.payload or {}
    if row.operation is OutboxOperation.CREATE_CONVERSATION:
        channel = ((payload.get("channelData") or {}).get("channel") or {}).get("id")
        if channel:
            return thread_of(channel)
        members = payload.get("members") or [{}]
        return "user:" + str(members[0].get("id") or "")
    return thread_of(row.conversation_id or row.service_url)
