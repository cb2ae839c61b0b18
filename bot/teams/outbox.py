"""Delivers outbox rows to the Bot Connector, retrying 429/5xx with backoff.

Rows of one thread go strictly in order (the store hands out only the first unsent row
of each ordering key); different threads are sent concurrently.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from bot.errors import ConnectorError
from bot.store import outbox as store
from bot.store.availability import DatabaseGate
from bot.store.models import OutboxMessage, OutboxOperation, OutboxStatus
from bot.store.transactions import transaction
from bot.store.worker import PollingWorker
from bot.teams.connector import ConnectorClient

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


class OutboxDispatcher(PollingWorker):
    """Background sender; `wake()` after a commit makes delivery immediate."""

    name = "outbox-dispatcher"

    def __init__(
        self,
        connector: ConnectorClient,
        *,
        poll_interval_s: float = 1.0,
        batch: int = 50,
        on_sent: SentHook | None = None,
        on_failure: FailureHook | None = None,
        gate: DatabaseGate | None = None,
    ) -> None:
        super().__init__(poll_interval_s=poll_interval_s, gate=gate)
        self._connector = connector
        self._on_sent = on_sent
        self._on_failure = on_failure
        self._batch = batch
        self._full = False
        self.delivered = 0

    async def work_once(self) -> int:
        await self.dispatch_once()
        # Another claim only when this one was full: an empty one per commit was a wasted
        # query under load, and anything committed meanwhile has woken the loop anyway.
        return int(self._full)

    async def dispatch_once(self) -> int:
        """Send what is due now; the number of rows attempted."""
        claimed = await store.claim_batch(self._batch)
        self._full, rows = claimed.full, claimed.ready
        by_thread: dict[str, list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            by_thread[row.ordering_key].append(row)
        await asyncio.gather(*(self._send_in_order(group) for group in by_thread.values()))
        return len(rows)

    async def _send_in_order(self, rows: list[OutboxMessage]) -> None:
        for position, row in enumerate(rows):
            if not await self._send(row):
                # Later messages of this thread wait until this one has gone.
                await store.release(rows[position + 1 :])
                return

    async def _send(self, row: OutboxMessage) -> bool:
        try:
            await self._fill_from_predecessor(row)
            result = await self._call(row)
        except Waiting as exc:
            await self._not_sent(row, exc, retryable=exc.retryable, retry_after=None,
                                 throttled=False)
            return False
        except ConnectorError as exc:
            if self._on_failure is not None:
                self._on_failure(exc.status)
            # A 401 usually means our token went stale (it was just dropped): retry a little.
            retryable = exc.retryable or (exc.status == 401 and row.attempts < 2)
            await self._not_sent(row, exc, retryable=retryable, retry_after=exc.retry_after,
                                 throttled=exc.status == 429)
            return False
        await self.persist(lambda: self._record_sent(row, result))
        self.delivered += 1
        return True

    async def _not_sent(self, row: OutboxMessage, exc: Exception, *, retryable: bool,
                        retry_after: float | None, throttled: bool) -> None:
        error = str(exc)
        retrying = await self.persist(lambda: store.mark_failed_attempt(
            row, error, retry_after=retry_after, retryable=retryable, throttled=throttled))
        level = logging.INFO if retrying else logging.ERROR
        log.log(level, "outbox %s %s failed (retry=%s): %s", row.id, row.operation.value,
                retrying, exc)

    async def _record_sent(self, row: OutboxMessage, result: dict[str, Any]) -> None:
        # What the answer taught us (a thread's id) is stored with the "sent" mark, so a
        # crash cannot leave a sent thread that no command can find.
        async with transaction():
            await store.mark_sent(row, result)
            if self._on_sent is not None:
                await self._on_sent(row, result)

    async def _fill_from_predecessor(self, row: OutboxMessage) -> None:
        if not row.after or (row.conversation_id and row.activity_id):
            return
        before = await store.named(row.after)
        if before is None or before.status is OutboxStatus.FAILED:
            raise NeverSent(f"{row.after} was never delivered")
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

    async def _call(self, row: OutboxMessage) -> dict[str, Any]:
        c, op = self._connector, row.operation
        payload = row.payload or {}
        if op is OutboxOperation.CREATE_CONVERSATION:
            return await c.create_conversation(row.service_url, payload)
        conversation = row.conversation_id or ""
        if op is OutboxOperation.SEND:
            return await c.send(row.service_url, conversation, payload)
        if op is OutboxOperation.REPLY:
            return await c.reply(row.service_url, conversation, row.activity_id or "", payload)
        if op is OutboxOperation.UPDATE:
            return await c.update(row.service_url, conversation, row.activity_id or "", payload)
        return await c.delete(row.service_url, conversation, row.activity_id or "")
