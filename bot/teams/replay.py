"""Applies the local journal when the incident database answers again, in order.

While the database is away this probes it (twice a second, so recovery is seen quickly
and a struggling server is not hammered); once a probe answers, it applies the
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
from bot.store.worker import PollingWorker
from bot.teams.turns import Replayed, TurnRunner

log = logging.getLogger(__name__)

# How often the database is probed while it is away, and the journal looked at while
# nothing waits in it (cheap: no database work then).
POLL_S = 0.5
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


class JournalReplayer(PollingWorker):
    """Background worker: `start()`, then `stop()`."""

    name = "journal-replayer"

    def __init__(self, turns: TurnRunner, journal: LocalJournal, gate: DatabaseGate, *,
                 probe: Callable[[], Awaitable[bool]],
                 writable: Callable[[], Awaitable[bool]], metrics: Metrics,
                 max_refusals: int = MAX_REFUSALS_WHILE_WRITABLE,
                 retry_waits_s: tuple[float, ...] = RETRY_WAITS_S) -> None:
        # No gate for the worker itself: it is what works while the database is away.
        super().__init__(poll_interval_s=POLL_S)
        self._turns = turns
        self._journal = journal
        self._database = gate
        self._probe = probe
        self._writable = writable
        self._metrics = metrics
        self._tries: dict[str, int] = {}
        self._refusals: dict[str, int] = {}
        self._max_refusals = max_refusals
        self._retry_waits_s = retry_waits_s
        self._adopted_at = time.monotonic()

    def start(self) -> None:
        """Adopt what processes that died left behind, then run until `stop()`."""
        try:
            self._journal.adopt_orphans()
        except OSError as exc:  # looked for again every ADOPT_EVERY_S
            log.error("could not look for journals of stopped processes: %s", exc)
        self._adopted_at = time.monotonic()
        super().start()

    async def work_once(self) -> int:
        if time.monotonic() - self._adopted_at > ADOPT_EVERY_S:
            self._adopted_at = time.monotonic()
            self._journal.adopt_orphans()
        return int(await self._step())

    async def _step(self) -> bool:
        """Probe or apply one entry; True when something moved forward."""
        entry = self._journal.head()
        if entry is None:
            if self._database.up:
                return False
            if not await self._probe():
                return False
            self._database.recovered()
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
        self._database.recovered()
        self._metrics.journal(outcome.value)
        if outcome is Replayed.SET_ASIDE:
            await self._journal.set_aside(entry, "a bug stopped it; the log has its error id")
        else:
            await self._journal.applied(entry)
        if not self._journal.pending:
            log.warning("the local journal is empty again: every saved command is applied")
        return True
