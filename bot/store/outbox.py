"""The outbox: Bot Connector calls stored in the same transaction as the change behind them.

A dispatcher (`bot.teams.outbox`) sends them afterwards and retries; so a state change
that committed is never without its messages, and a crash between commit and send only
delays them.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Min

from bot.store.clock import now_ms
from bot.store.leases import claim_due, due_lag_s
from bot.store.models import OutboxMessage, OutboxOperation, OutboxStatus, Urgency
from bot.store.prepared import unsent_after

LEASE_MS = 60_000
# How soon a message held behind one that another replica is sending is looked at again.
HELD_RECHECK_MS = 300
# Messages queued behind a head held on purpose (never tried, due more than HELD_HEAD_MS
# later: a thread waiting for its channel) look again this often, since its due time may
# be moved up meanwhile (`release_held`). A head waiting out a retry's backoff has been
# tried (attempts > 0): what waits behind it keeps waiting for its time.
HELD_HEAD_MS = 120_000
HELD_HEAD_RECHECK_MS = 3_000
# Keep trying for a day; a message still undeliverable by then is marked failed.
GIVE_UP_AFTER = dt.timedelta(hours=24)
_BACKOFF_CAP_S = 300.0
# While the Bot Connector is unreachable or failing (network errors, 5xx), each thread's
# first message is tried again at least this often, so delivery resumes within seconds
# of the connector coming back rather than after a five-minute backoff (issue 14).
# Throttling (429) is not probed this fast: Teams asks for patience, and says how much.
PROBE_CAP_S = 8.0
THROTTLED_CAP_S = 60.0


async def enqueue(
    conn: BaseDBAsyncClient,
    *,
    operation: OutboxOperation,
    service_url: str,
    conversation_id: str | None,
    activity_id: str | None = None,
    payload: dict[str, Any] | None = None,
    name: str | None = None,
    ordering_key: str | None = None,
    after: str | None = None,
    coalesce_key: str | None = None,
    tenant_id: str | None = None,
    urgency: Urgency = Urgency.ANSWER,
    lane: str | None = None,
    merge_key: str | None = None,
    merge_text: str | None = None,
    on_failure: dict[str, Any] | None = None,
    due_ms: int | None = None,
) -> OutboxMessage:
    """Store one connector call inside the caller's transaction.

    `after` names an earlier message whose answer supplies a missing conversation id or
    activity id; give both the same ordering key so the earlier one is sent first.
    `coalesce_key`: this message replaces an unsent one with the same key (a card's newest
    content). `merge_key`: unsent messages with the same key leave as one, saying
    `merge_text` with `{n}` the count. `on_failure`: what `bot.teams.undelivered` needs to
    tell someone if Teams refuses the message for good. `due_ms`: not before then (a
    message held until something it needs is known, then made due by `release_held`).
    """
    key = ordering_key or conversation_id or service_url
    if coalesce_key is not None:
        await OutboxMessage.filter(
            coalesce_key=coalesce_key, status=OutboxStatus.PENDING
        ).using_db(conn).delete()
    return await OutboxMessage.create(
        operation=operation,
        service_url=service_url,
        conversation_id=conversation_id,
        activity_id=activity_id,
        payload=payload,
        name=name,
        ordering_key=key,
        after=after,
        coalesce_key=coalesce_key,
        tenant_id=tenant_id,
        urgency=urgency,
        lane=lane,
        merge_key=merge_key,
        merge_text=merge_text,
        on_failure=on_failure,
        due_ms=now_ms() if due_ms is None else due_ms,
        using_db=conn,
    )


@dataclass(frozen=True)
class Claimed:
    """What one claim handed out; `full` when it hit its limit (more may be due)."""

    ready: list[OutboxMessage]
    full: bool


async def claim_batch(limit: int = 50) -> Claimed:
    """Due messages whose thread has nothing older unsent, claimed for sending in id order.

    A thread's messages come back together (oldest first) only when its oldest unsent
    message is among them; the sender must stop at the first failure and `release` the rest.
    """
    rows = await claim_due(
        OutboxMessage,
        pending=OutboxStatus.PENDING,
        claimed=OutboxStatus.SENDING,
        limit=limit,
        lease_ms=LEASE_MS,
    )
    if not rows:
        return Claimed([], full=False)
    heads = await _first_unsent_per_key({r.ordering_key for r in rows})
    claimed_ids = {r.id for r in rows}
    ready = [r for r in rows if heads.get(r.ordering_key) in claimed_ids]
    held = [r for r in rows if heads.get(r.ordering_key) not in claimed_ids]
    for key in {r.ordering_key for r in held}:
        # An older message of this thread waits for a retry: give these back, due no
        # sooner than it, so they do not crowd out other threads. If it is being sent by
        # another replica, it is usually gone within a second: look again soon, not when
        # that replica's lease would run out (a minute later).
        # (A head a newer card refresh replaced meanwhile is gone: look again soon.)
        head = await OutboxMessage.get_or_none(id=heads[key])
        if head is None or head.status is OutboxStatus.SENDING:
            not_before = now_ms() + HELD_RECHECK_MS
        else:
            not_before = head.due_ms
            if head.attempts == 0 and not_before > now_ms() + HELD_HEAD_MS:
                # A head held on purpose (a thread waiting for its channel) may be made
                # due by a transaction that committed after it was read here.
                not_before = now_ms() + HELD_HEAD_RECHECK_MS
        await release([r for r in held if r.ordering_key == key], due_ms=not_before)
    return Claimed(ready, full=len(rows) >= limit)


async def release(messages: list[OutboxMessage], *, due_ms: int | None = None) -> None:
    """Hand claimed messages back, to be claimed again when their turn comes (only those
    still claimed: one merged into another's send meanwhile stays sent)."""
    if messages:
        fields: dict[str, Any] = {"status": OutboxStatus.PENDING, "locked_until_ms": 0}
        if due_ms is not None:
            fields["due_ms"] = due_ms
        await OutboxMessage.filter(id__in=[m.id for m in messages],
                                   status=OutboxStatus.SENDING).update(**fields)


async def mergeable(message: OutboxMessage) -> list[OutboxMessage]:
    """Unsent messages that can leave with `message` as one (same merge key, later)."""
    if not message.merge_key:
        return []
    # Asked for every routine confirmation sent: built once (bot.store.prepared).
    return await unsent_after(message.merge_key, message.ordering_key, message.id)


async def mark_merged(messages: list[OutboxMessage], into: OutboxMessage) -> None:
    """`messages` left as part of `into`: sent, with a pointer to the call that carried them."""
    if messages:
        await OutboxMessage.filter(id__in=[m.id for m in messages]).update(
            status=OutboxStatus.SENT, result={"merged_into": into.id},
            sent_at=dt.datetime.now(dt.UTC), locked_until_ms=0)



async def _first_unsent_per_key(keys: set[str]) -> dict[str, int]:
    rows = (
        await OutboxMessage.filter(
            ordering_key__in=list(keys),
            status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING],
        )
        .annotate(first=Min("id"))
        .group_by("ordering_key")
        .values("ordering_key", "first")
    )
    return {row["ordering_key"]: row["first"] for row in rows}


async def mark_sent(message: OutboxMessage, result: dict[str, Any]) -> None:
    """Record success and what the connector answered (ids of what was created)."""
    await OutboxMessage.filter(id=message.id).update(
        status=OutboxStatus.SENT,
        result=result,
        sent_at=dt.datetime.now(dt.UTC),
        attempts=message.attempts + 1,
        locked_until_ms=0,
    )


async def mark_failed_attempt(
    message: OutboxMessage, error: str, *, retry_after: float | None, retryable: bool,
    throttled: bool = False, status: int | None = None,
) -> bool:
    """Schedule another try (honouring Retry-After) or give up; True if it will retry."""
    attempts = message.attempts + 1
    too_old = dt.datetime.now(dt.UTC) - message.created_at > GIVE_UP_AFTER
    if not retryable or too_old:
        await OutboxMessage.filter(id=message.id).update(
            status=OutboxStatus.FAILED, attempts=attempts, last_error=error[:2000],
            failed_status=status,
        )
        return False
    cap = THROTTLED_CAP_S if throttled else PROBE_CAP_S
    delay = max(retry_after or 0.0, backoff_s(attempts, cap_s=cap))
    due = now_ms() + int(delay * 1000)
    await OutboxMessage.filter(id=message.id).update(
        status=OutboxStatus.PENDING,
        attempts=attempts,
        last_error=error[:2000],
        due_ms=due,
        locked_until_ms=0,
    )
    # Its thread waits with it; other threads keep flowing.
    await OutboxMessage.filter(
        ordering_key=message.ordering_key, status=OutboxStatus.PENDING, id__gt=message.id,
        due_ms__lt=due,
    ).update(due_ms=due)
    return True


def backoff_s(attempts: int, *, cap_s: float = _BACKOFF_CAP_S) -> float:
    """Exponential backoff with jitter: 1 s, 2 s, 4 s ... capped (five minutes by default)."""
    ceiling = min(cap_s, 2.0 ** (min(attempts, 64) - 1))
    return random.uniform(ceiling / 2, ceiling)


async def release_held(name: str, *, keys: list[str],
                       payload: dict[str, Any] | None = None,
                       send_to: str | None = None) -> bool:
    """Make the held message `name` due now (with `payload` if given), and every waiting
    message of `keys` with it (they were put back until the held one's time); False when
    it is no longer waiting. `send_to`: it becomes a message in that existing conversation
    (a private incident's chat) instead of a new conversation."""
    fields: dict[str, Any] = {"due_ms": now_ms()}
    if payload is not None:
        fields["payload"] = payload
    if send_to is not None:
        fields.update(operation=OutboxOperation.SEND, conversation_id=send_to)
    released = await OutboxMessage.filter(name=name, status=OutboxStatus.PENDING).update(
        **fields)
    await OutboxMessage.filter(ordering_key__in=keys, status=OutboxStatus.PENDING).update(
        due_ms=now_ms())
    return released > 0


async def named(name: str) -> OutboxMessage | None:
    """The message enqueued under `name`, whatever its state."""
    return await OutboxMessage.filter(name=name).first()


async def depth() -> int:
    """Messages not yet delivered."""
    return await OutboxMessage.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]
    ).count()


async def lag_s() -> float:
    """How long the oldest due undelivered message has waited (0 when none is due)."""
    return await due_lag_s(OutboxMessage, pending=OutboxStatus.PENDING,
                           claimed=OutboxStatus.SENDING)
