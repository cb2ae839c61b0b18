"""A background loop that works until nothing is due, then sleeps until woken or polled.

Shared by the outbox dispatcher and the job runner. Stopping is graceful: the current
round (a database transaction, a provider call) is allowed to finish, because cancelling
a task in the middle of a transaction can leave a pooled PostgreSQL connection that is
never released, and closing the pool then waits for it forever.
"""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class PollingWorker:
    """Subclasses implement `work_once()`, returning how much they did (0: idle)."""

    name = "worker"

    def __init__(self, *, poll_interval_s: float) -> None:
        self._poll = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def work_once(self) -> int:
        """Do what is due now."""
        raise NotImplementedError

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
        except asyncio.TimeoutError:
            log.warning("%s did not finish within %s s; cancelling it", self.name, grace_s)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                while not self._stopping and await self.work_once():
                    pass
            except Exception:  # noqa: BLE001 - a database hiccup must not stop the worker
                log.exception("%s round failed; trying again", self.name)
            if self._stopping:
                return
            try:
                await asyncio.wait_for(self._wake.wait(), self._poll)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
