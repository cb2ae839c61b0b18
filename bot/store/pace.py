"""Rate budgets that several callers (and several replicas) spend together.

A budget is a key with sliding windows ("at most 6 calls in any 1 s"). A call spends from
several budgets at once (its conversation, its tenant, perhaps a lane of its own) and goes
only when every one of them has room: `take` either records the call in all of them or
records nothing and says how long to wait. A budget the far side throttled anyway is held
until its Retry-After and then runs at a slower pace for a while (`hold`).

Two stores, one rule (`wait_ms`):
- `LocalPace` keeps the log in memory: the whole truth for the one process that SQLite
  serves;
- `SharedPace` keeps it in the database, so replicas on PostgreSQL spend one budget: each
  `take` is one transaction serialised by an advisory lock on the first budget's key (the
  tenant's, which every call spends), reading the recent log and writing the new slots.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from bot.store.clock import now_ms
from bot.store.pace_models import PaceHold, PaceSlot
from bot.store.transactions import transaction

# After a throttle, a budget allows this fraction of its calls ...
SLOWER_BY = 2
# ... for this long after the hold ends.
SLOW_FOR_MS = 60_000
# Without a Retry-After, a throttled budget is held this long.
DEFAULT_HOLD_MS = 1_000


@dataclass(frozen=True)
class Window:
    """At most `calls` in any `seconds`."""

    calls: int
    seconds: float

    @property
    def span_ms(self) -> int:
        return int(self.seconds * 1000)


@dataclass(frozen=True)
class Budget:
    """One key and its windows."""

    key: str
    windows: tuple[Window, ...]

    @property
    def span_ms(self) -> int:
        return max(w.span_ms for w in self.windows)

    @property
    def depth(self) -> int:
        """How many recent calls decide: the largest window's count."""
        return max(w.calls for w in self.windows)


@dataclass(frozen=True)
class Hold:
    """A throttled budget: nothing before `until_ms`, slower until `slow_until_ms`."""

    until_ms: int
    slow_until_ms: int


@dataclass(frozen=True)
class Denied:
    """Not now: `budget` has no room for `wait_ms` more."""

    budget: str
    wait_ms: int


def wait_ms(times: Sequence[int], budget: Budget, now: int, hold: Hold | None = None) -> int:
    """0 if one more call fits every window of `budget` now, else the ms until it does.

    `times` are the budget's recent calls, newest first.
    """
    if hold is not None and now < hold.until_ms:
        return hold.until_ms - now
    slow = hold is not None and now < hold.slow_until_ms
    wait = 0
    for window in budget.windows:
        limit = max(1, window.calls // SLOWER_BY) if slow else window.calls
        start = now - window.span_ms
        inside = [t for t in islice(times, limit) if t > start]
        if len(inside) >= limit:
            # The limit-th newest call must leave the window first.
            wait = max(wait, inside[limit - 1] + window.span_ms - now + 1)
    return wait


def first_denied(budgets: Sequence[Budget], recent: Mapping[str, Sequence[int]],
                 holds: Mapping[str, Hold], now: int) -> Denied | None:
    """The first of `budgets` with no room for one more call now (None: all have room)."""
    for budget in budgets:
        wait = wait_ms(recent.get(budget.key, ()), budget, now, holds.get(budget.key))
        if wait:
            return Denied(budget.key, wait)
    return None


class Pace(Protocol):
    """What the dispatcher and inline answers spend Teams' budget through."""

    # Kept in this process: `take` never waits for anything, so callers need no deadline.
    in_memory: bool

    async def take(self, budgets: Sequence[Budget]) -> Denied | None:
        """Spend one call from every budget (None), or nothing (the first that has no room)."""
        ...

    async def hold(self, key: str, retry_after_s: float | None) -> None:
        """The far side throttled `key` anyway: hold it, then go slower for a while."""
        ...


def _hold_after(now: int, retry_after_s: float | None) -> Hold:
    until = now + (int(retry_after_s * 1000) if retry_after_s else DEFAULT_HOLD_MS)
    return Hold(until, until + SLOW_FOR_MS)


class NoPace:
    """Every call goes (TEAMS_PACING=off: a connector without Teams' limits)."""

    in_memory = True

    async def take(self, budgets: Sequence[Budget]) -> Denied | None:
        return None

    async def hold(self, key: str, retry_after_s: float | None) -> None:
        return None


class LocalPace:
    """The budgets of one process, in memory."""

    in_memory = True

    def __init__(self) -> None:
        self._log: dict[str, deque[int]] = {}
        self._holds: dict[str, Hold] = {}

    async def take(self, budgets: Sequence[Budget]) -> Denied | None:
        now = now_ms()
        denied = first_denied(budgets, self._log, self._holds, now)
        if denied is not None:
            return denied
        for budget in budgets:
            times = self._log.setdefault(budget.key, deque(maxlen=budget.depth))
            times.appendleft(now)
        return None

    async def hold(self, key: str, retry_after_s: float | None) -> None:
        self._holds[key] = _hold_after(now_ms(), retry_after_s)


class SharedPace:
    """The budgets of every replica, in the database (PostgreSQL)."""

    in_memory = False

    # Slots older than the largest window are deleted every this many takes.
    PRUNE_EVERY = 200

    def __init__(self) -> None:
        self._takes = 0
        self._longest_ms = 0

    async def take(self, budgets: Sequence[Budget]) -> Denied | None:
        if not budgets:
            return None
        keys = [b.key for b in budgets]
        span = max(b.span_ms for b in budgets)
        self._longest_ms = max(self._longest_ms, span)
        async with transaction() as conn:
            # Every call spends its tenant's budget first: one lock per tenant orders them.
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_lock_id(keys[0])])
            now = now_ms()
            _, slots = await conn.execute_query(
                "SELECT budget_key, at_ms FROM pace_slot WHERE budget_key = ANY($1) "
                "AND at_ms > $2 ORDER BY at_ms DESC", [keys, now - span])
            _, holds = await conn.execute_query(
                "SELECT budget_key, until_ms, slow_until_ms FROM pace_hold "
                "WHERE budget_key = ANY($1) AND slow_until_ms > $2", [keys, now])
            held = {h["budget_key"]: Hold(h["until_ms"], h["slow_until_ms"]) for h in holds}
            recent: dict[str, list[int]] = {}
            for slot in slots:
                recent.setdefault(slot["budget_key"], []).append(slot["at_ms"])
            denied = first_denied(budgets, recent, held, now)
            if denied is not None:
                return denied
            await PaceSlot.bulk_create([PaceSlot(budget_key=k, at_ms=now) for k in keys],
                                       using_db=conn)
        self._takes += 1
        if self._takes % self.PRUNE_EVERY == 0:
            await PaceSlot.filter(at_ms__lt=now_ms() - 2 * self._longest_ms).delete()
        return None

    async def hold(self, key: str, retry_after_s: float | None) -> None:
        hold = _hold_after(now_ms(), retry_after_s)
        await PaceHold.update_or_create(
            budget_key=key, defaults={"until_ms": hold.until_ms,
                                      "slow_until_ms": hold.slow_until_ms})


def _lock_id(key: str) -> int:
    """A stable signed 64-bit advisory lock id for `key` (the same in every replica)."""
    return zlib.crc32(b"pace:" + key.encode()) - (1 << 31)
