"""A background loop that works until nothing is due, then sleeps until woken or polled.

Shared by the outbox dispatcher and the job runner. Stopping is graceful: the current
round (a database transaction, a provider call) is allowed to finish within a grace
period, then cancelled (`bot.store.transactions` gives its connection back either way).

While the database is away (the `DatabaseGate` says so) a worker rests instead of
failing once a poll, and failures are logged once a minute with a count, not each time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.logs import Throttled
from bot.store.availability import (
    DatabaseGate,
    describe_error,
    is_connection_lost,
    is_unavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


class PollingWorker:
    """Subclasses implement `work_once()`, returning how much they did (0: idle)."""

    name = "worker"

    def __init__(self, *, poll_interval_s: float, gate: DatabaseGate | None = None) -> None:
        self._poll = poll_interval_s
        self._gate = gate
        self._failures = Throttled(log, interval_s=60.0)
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def work_once(self) -> int:
        """Do what is due now."""
        raise NotImplementedError

    def _may_work(self) -> bool:
        return self._gate is None or self._gate.up

    async def persist(self, write: Callable[[], Awaitable[T]]) -> T:
        """Record the outcome of work already done (a message Teams took, a timer that
        ran), waiting for the database if it is away. Left unrecorded, a claimed row is
        done again only when its lease runs out, one or two minutes later."""
        wait_s = 0.2
        while True:
            try:
                return await write()
            except Exception as exc:
                if not is_unavailable(exc) or self._stopping:
                    raise
                self._failures.warning(f"{self.name} waits for the database to record its "
                                       "work", describe_error(exc))
                await asyncio.sleep(wait_s)
                wait_s = min(2.0, wait_s * 2)

    def wake(self) -> None:
        """Something new was committed: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Run in the background until `stop()`."""
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self, *, grace_s: float = 10.0) -> None:
        """Finish the current round (cancel only after `grace_s`), then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        except TimeoutError:
            log.warning("%s did not finish within %s s; cancelling it", self.name, grace_s)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                while not self._stopping and self._may_work() and await self.work_once():
                    pass
            except Exception as exc:
                if is_unavailable(exc):
                    # A connection the server closed is replaced by now (bot.store
                    # .transactions); only other failures say the database is away.
                    if self._gate is not None and not is_connection_lost(exc):
                        self._gate.failed(exc)
                    self._failures.warning(f"{self.name} waits for the database",
                                           describe_error(exc))
                else:
                    log.exception("%s round failed; trying again", self.name)
            # mypy keeps the narrowing of the `while` test across the awaits above, where
            # stop() may have set it (python/mypy#9457).
            if self._stopping:
                return  # type: ignore[unreachable]
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll)
            except TimeoutError:
                pass
            self._wake.clear()
