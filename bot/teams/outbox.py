"""Delivers outbox rows to the Bot Connector, spending Teams' rate budget itself.

Rows of one ordering key go strictly in order (the store hands out only the first unsent
row of each key). Rows of one Teams thread (a channel, a chat) leave one at a time, the
most urgent waiting head first (`Urgency`), each only when its budgets have room
(`bot.teams.pacing`): so a status update overtakes routine confirmations instead of
queueing behind them, and the bot does not provoke Teams' 429s. Routine confirmations
waiting together leave as one message; a throttled thread is held and slowed; a row Teams
refuses for good is handed to `on_undeliverable`, which tells someone. Different threads
are sent concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.errors import ConnectorError
from bot.store import outbox as store
from bot.store.availability import DatabaseGate
from bot.store.clock import now_ms
from bot.store.models import OutboxMessage, OutboxOperation, OutboxStatus
from bot.store.pace import Denied, LocalPace, Pace
from bot.store.transactions import transaction
from bot.store.worker import PollingWorker
from bot.teams.connector import ConnectorClient
from bot.teams.markdown import literal
from bot.teams.pacing import row_budgets, row_thread

log = logging.getLogger(__name__)

# Told about every delivered message, e.g. to record the id of a thread the bot created.
SentHook = Callable[[OutboxMessage, dict[str, Any]], Awaitable[None]]
# Told the HTTP status of every failed Bot Connector call (0: network), for /metrics.
FailureHook = Callable[[int], None]


class Waiting(Exception):
    """A row cannot be sent because the row it comes `after` has not been delivered."""

    # Whether it is worth waiting: the predecessor may still go.
    retryable = True


class NotSentYet(Waiting):
    """The predecessor is still on its way: try again when it may have gone."""


class NeverSent(Waiting):
    """The predecessor failed for good: this row has nowhere to go."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        # The predecessor's refusal, which is this row's too.
        self.status = status


@dataclass(frozen=True)
class Sent:
    """Delivered, carrying the rows in `merged` with it."""

    merged: frozenset[int]


@dataclass(frozen=True)
class Refusal:
    """Why Teams would not take a message: the HTTP status (0: unreachable) and its answer."""

    status: int | None
    error: str


# Told about a row Teams refused for good, once its failure is recorded.
UndeliverableHook = Callable[[OutboxMessage, Refusal], Awaitable[None]]


class OutboxDispatcher(PollingWorker):
    """Background sender; `wake()` after a commit makes delivery immediate."""

    name = "outbox-dispatcher"

    def __init__(
        self,
        connector: ConnectorClient,
        *,
        poll_interval_s: float = 1.0,
        batch: int = 50,
        pace: Pace | None = None,
        on_sent: SentHook | None = None,
        on_failure: FailureHook | None = None,
        on_undeliverable: UndeliverableHook | None = None,
        gate: DatabaseGate | None = None,
    ) -> None:
        super().__init__(poll_interval_s=poll_interval_s, gate=gate)
        self._connector = connector
        self.pace: Pace = pace or LocalPace()
        self._on_sent = on_sent
        self._on_failure = on_failure
        self.on_undeliverable = on_undeliverable
        self._batch = batch
        self._full = False
        self.delivered = 0

    async def work_once(self) -> int:
        await self.dispatch_once()
        # Another claim only when this one was full: an empty one per commit was a wasted
        # query under load, and anything committed meanwhile has woken the loop anyway.
        return int(self._full)

    async def dispatch_once(self) -> int:
        """Send what is due now and has budget; the number of rows claimed."""
        claimed = await store.claim_batch(self._batch)
        self._full, rows = claimed.full, claimed.ready
        queues: dict[str, deque[OutboxMessage]] = defaultdict(deque)
        for row in rows:
            queues[row.ordering_key].append(row)
        by_thread: dict[str, list[deque[OutboxMessage]]] = defaultdict(list)
        for queue in queues.values():
            by_thread[row_thread(queue[0])].append(queue)
        await asyncio.gather(*(self._send_thread(group) for group in by_thread.values()))
        return len(rows)

    async def _send_thread(self, queues: list[deque[OutboxMessage]]) -> None:
        """One thread's queues: the most urgent head first, while the budget lasts. A
        failure gives this thread's claimed rows back at once (else they would wait for
        their lease, a minute) and leaves the other threads' sending alone."""
        try:
            await self._send_queues(queues)
        except Exception:
            log.exception("sending to one thread failed; its messages are tried again")
            for queue in queues:
                with contextlib.suppress(Exception):
                    await store.release(list(queue), due_ms=now_ms() + store.HELD_RECHECK_MS)

    async def _send_queues(self, queues: list[deque[OutboxMessage]]) -> None:
        while queues:
            queue = min(queues, key=lambda q: (q[0].urgency, q[0].id))
            outcome = await self._send(queue[0])
            if isinstance(outcome, Sent):
                queue.popleft()
                if outcome.merged:
                    remaining = [r for r in queue if r.id not in outcome.merged]
                    queue.clear()
                    queue.extend(remaining)
            elif isinstance(outcome, Denied):
                due = now_ms() + outcome.wait_ms
                if outcome.budget == queue[0].lane:
                    # Only this lane is spent: the thread's other queues may go on.
                    await store.release(list(queue), due_ms=due)
                    queue.clear()
                else:
                    for waiting in queues:
                        await store.release(list(waiting), due_ms=due)
                    return
            else:
                # Later messages of this ordering key wait until this one has gone.
                queue.popleft()
                await store.release(list(queue))
                queue.clear()
            if not queue:
                queues.remove(queue)

    async def _send(self, row: OutboxMessage) -> Sent | Denied | None:
        """Sent, Denied (no budget now, nothing spent or changed), or None: not sent, and
        the row is scheduled again or failed for good."""
        try:
            await self._fill_from_predecessor(row)
        except NotSentYet:
            # Look again soon; not an attempt (nothing was refused).
            await self.persist(lambda: store.release(
                [row], due_ms=now_ms() + store.HELD_RECHECK_MS))
            return None
        except NeverSent as exc:
            await self._not_sent(row, exc, retryable=False, retry_after=None, throttled=False,
                                 status=exc.status)
            return None
        denied = await self.persist(lambda: self.pace.take(row_budgets(row)))
        if denied is not None:
            return denied
        merged = await self.persist(lambda: store.mergeable(row))
        payload, activity_id = _carrying(row, merged)
        try:
            result = await self._call(row, payload, activity_id)
        except ConnectorError as exc:
            if self._on_failure is not None:
                self._on_failure(exc.status)
            if exc.status == 429:
                # Teams' limits are lower than we spend (they "may change"): this thread
                # waits as long as Teams asks, then goes slower for a while.
                wait_s = exc.retry_after
                await self.persist(lambda: self.pace.hold(row_thread(row), wait_s))
            # A 401 usually means our token went stale (it was just dropped): retry a little.
            retryable = exc.retryable or (exc.status == 401 and row.attempts < 2)
            await self._not_sent(row, exc, retryable=retryable, retry_after=exc.retry_after,
                                 throttled=exc.status == 429, status=exc.status)
            return None
        await self.persist(lambda: self._record_sent(row, result, merged))
        self.delivered += 1 + len(merged)
        return Sent(frozenset(m.id for m in merged))

    async def _not_sent(self, row: OutboxMessage, exc: Exception, *, retryable: bool,
                        retry_after: float | None, throttled: bool, status: int | None) -> None:
        error = str(exc)
        retrying = await self.persist(lambda: store.mark_failed_attempt(
            row, error, retry_after=retry_after, retryable=retryable, throttled=throttled,
            status=status))
        level = logging.INFO if retrying else logging.ERROR
        log.log(level, "outbox %s %s failed (retry=%s): %s", row.id, row.operation.value,
                retrying, exc)
        tell = self.on_undeliverable
        if not retrying and tell is not None:
            row.failed_status = status
            try:
                await self.persist(lambda: tell(row, Refusal(status, error)))
            except Exception:
                log.exception("could not tell anyone that outbox %s was refused", row.id)

    async def _record_sent(self, row: OutboxMessage, result: dict[str, Any],
                           merged: list[OutboxMessage]) -> None:
        # What the answer taught us (a thread's id) is stored with the "sent" mark, so a
        # crash cannot leave a sent thread that no command can find.
        async with transaction():
            await store.mark_sent(row, result)
            await store.mark_merged(merged, into=row)
            if self._on_sent is not None:
                await self._on_sent(row, result)

    async def _fill_from_predecessor(self, row: OutboxMessage) -> None:
        if not row.after or (row.conversation_id and row.activity_id):
            return
        before = await store.named(row.after)
        if before is None or before.status is OutboxStatus.FAILED:
            raise NeverSent(f"{row.after} was never delivered"
                            + (f": {before.last_error}" if before and before.last_error else ""),
                            status=before.failed_status if before else None)
        if before.status is not OutboxStatus.SENT:
            raise NotSentYet(f"{row.after} is not delivered yet")
        result = before.result or {}
        if before.operation is OutboxOperation.CREATE_CONVERSATION:
            # A channel thread answers {"id": "<channel>;messageid=N", "activityId": "N"},
            # a 1:1 chat {"id": "a:..."}.
            conversation, activity = result.get("id"), result.get("activityId")
        else:
            conversation, activity = before.conversation_id, result.get("id")
        row.conversation_id = row.conversation_id or conversation
        if row.operation in (OutboxOperation.REPLY, OutboxOperation.UPDATE, OutboxOperation.DELETE):
            row.activity_id = row.activity_id or activity

    async def _call(self, row: OutboxMessage, payload: dict[str, Any],
                    activity_id: str) -> dict[str, Any]:
        c, op = self._connector, row.operation
        if op is OutboxOperation.CREATE_CONVERSATION:
            return await c.create_conversation(row.service_url, payload)
        conversation = row.conversation_id or ""
        if op is OutboxOperation.SEND:
            return await c.send(row.service_url, conversation, payload)
        if op is OutboxOperation.REPLY:
            return await c.reply(row.service_url, conversation, activity_id, payload)
        if op is OutboxOperation.UPDATE:
            return await c.update(row.service_url, conversation, activity_id, payload)
        return await c.delete(row.service_url, conversation, activity_id)


def _carrying(row: OutboxMessage, merged: list[OutboxMessage]) -> tuple[dict[str, Any], str]:
    """What one call says for `row` and the rows merged into it: alone, its own payload;
    with others, the newest one's (answering the latest command) saying the count."""
    if not merged or not row.merge_text:
        return row.payload or {}, row.activity_id or ""
    newest = merged[-1]
    payload = dict(newest.payload or {})
    payload["text"] = literal(row.merge_text.replace("{n}", str(1 + len(merged))))
    return payload, newest.activity_id or row.activity_id or ""
