"""Recently seen activity ids, so Teams' redelivery of a slow turn does not run it twice.

Teams redelivers an activity whose HTTP answer took too long, with the same id. This
in-memory guard answers such a repeat without running the turn again (an invoke gets the
first delivery's answer); it is a fast path only, since state changes are also made
idempotent in the database (`UnitOfWork`), which holds across restarts and replicas.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any


class RecentActivities:
    """A bounded map from activity key to the (possibly still running) turn's result."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._turns: OrderedDict[tuple[str, str], asyncio.Future[Any]] = OrderedDict()

    def first_delivery(self, key: tuple[str, str]) -> asyncio.Future[Any] | None:
        """None if `key` is new (and now recorded); else the first delivery's result."""
        seen = self._turns.get(key)
        if seen is not None:
            return seen
        self._turns[key] = asyncio.get_running_loop().create_future()
        if len(self._turns) > self._capacity:
            self._turns.popitem(last=False)
        return None

    def finish(self, key: tuple[str, str], result: Any) -> None:
        """Record the result that repeats of `key` will get."""
        future = self._turns.get(key)
        if future is not None and not future.done():
            future.set_result(result)

    def forget(self, key: tuple[str, str]) -> None:
        """The turn failed: let a redelivery try again."""
        future = self._turns.pop(key, None)
        if future is not None and not future.done():
            future.set_result(None)
