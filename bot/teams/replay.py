"""Applies the local journal when the incident database answers again, in order.

While the database is away this probes it (at most once a second, so recovery is seen
quickly and a struggling server is not hammered); once a probe answers, it applies the
journal's entries one after another through the bot, exactly as Teams sent them and at
the time they were received, each exactly once (the activity key). New commands wait in
the journal behind them until it is empty (`DatabaseGate.accepting`), so nothing typed
later overtakes what was typed earlier.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from bot.metrics import Metrics
from bot.store.availability import DatabaseGate
from bot.store.local_journal import LocalJournal
from bot.teams.turns import Replayed, TurnRunner

log = logging.getLogger(__name__)

PROBE_FIRST_S = 0.2
PROBE_MAX_S = 1.0
# How often files of processes that died are looked for (they are also looked for at start).
ADOPT_EVERY_S = 30.0
# A bug is not the database: after this many tries an entry is set aside (and the person
# who sent it told), so one broken entry cannot hold up the journal for good.
MAX_TRIES = 3
# Waits between those tries: a passing fault gets a few seconds to pass.
RETRY_WAITS_S = (1.0, 5.0)
# An entry the database keeps refusing as "not now" while it takes other writes (a unit
# of work slower than the deadline, say) is set aside after this many tries.
MAX_REFUSALS_WHILE_WRITABLE = 10


class JournalReplayer:
    """Background task: `start()`, then `stop()`."""

    def __init__(self, turns: TurnRunner, journal: LocalJournal, gate: DatabaseGate, *,
                 probe: Callable[[], Awaitable[bool]],
                 writable: Callable[[], Awaitable[bool]], metrics: Metrics,
                 max_refusals: int = MAX_REFUSALS_WHILE_WRITABLE,
                 retry_waits_s: tuple[float, ...] = RETRY_WAITS_S) -> None:
        self._turns = turns
        self._journal = journal
        self._gate = gate
        self._probe = probe
        self._writable = writable
        self._metrics = metrics
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._tries: dict[str, int] = {}
        self._refusals: dict[str, int] = {}
        self._max_refusals = max_refusals
        self._retry_waits_s = retry_waits_s

    def start(self) -> None:
        """Adopt what processes that died left behind, then run until `stop()`."""
        try:
            self._journal.adopt_orphans()
        except OSError as exc:  # looked for again every ADOPT_EVERY_S
            log.error("could not look for journals of stopped processes: %s", exc)
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="journal-replayer")

    async def stop(self, *, grace_s: float = 2.0) -> None:
        """Let the entry being applied finish (cancel after `grace_s`)."""
        if self._task is None:
            return
        self._stopping = True
        self._gate.changed.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), grace_s)
        except asyncio.TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _loop(self) -> None:
        wait_s = PROBE_FIRST_S
        adopted_at = time.monotonic()
        while not self._stopping:
            try:
                if time.monotonic() - adopted_at > ADOPT_EVERY_S:
                    adopted_at = time.monotonic()
                    self._journal.adopt_orphans()
                progressed = await self._step()
            except Exception:  # noqa: BLE001 - never stop applying the journal
                log.exception("journal replay round failed; trying again")
                progressed = False
            if progressed:
                wait_s = PROBE_FIRST_S
                continue
            if self._gate.up and not self._journal.pending:
                await self._idle()
                continue
            await asyncio.sleep(wait_s)
            wait_s = min(PROBE_MAX_S, wait_s * 2)

    async def _idle(self) -> None:
        self._gate.changed.clear()
        try:
            await asyncio.wait_for(self._gate.changed.wait(), ADOPT_EVERY_S)
        except asyncio.TimeoutError:
            pass

    async def _step(self) -> bool:
        """Probe or apply one entry; True when something moved forward."""
        entry = self._journal.head()
        if entry is None:
            if self._gate.up:
                return False
            if not await self._probe():
                return False
            self._gate.recovered()
            return True
        tries = self._tries.get(entry.id, 0) + 1
        outcome = await self._turns.replay(entry, last_try=tries >= MAX_TRIES)
        if outcome is Replayed.WAIT:
            if not await self._writable():
                return False  # the database is still away: the same entry comes next
            refusals = self._refusals[entry.id] = self._refusals.get(entry.id, 0) + 1
            if refusals < self._max_refusals:
                return False
            await self._turns.abandon(entry, "the incident database kept refusing it while "
                                             "taking other changes")
            outcome = Replayed.SET_ASIDE
        elif outcome is Replayed.RETRY:
            self._tries[entry.id] = tries
            waits = self._retry_waits_s
            await asyncio.sleep(waits[min(tries, len(waits)) - 1])
            return False
        self._tries.pop(entry.id, None)
        self._refusals.pop(entry.id, None)
        self._gate.recovered()
        self._metrics.journal(outcome.value)
        if outcome is Replayed.SET_ASIDE:
            await self._journal.set_aside(entry, "a bug stopped it; the log has its error id")
        else:
            await self._journal.applied(entry)
        if not self._journal.pending:
            log.warning("the local journal is empty again: every saved command is applied")
        return True
