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


class JournalReplayer:
    """Background task: `start()`, then `stop()`."""

    def __init__(self, turns: TurnRunner, journal: LocalJournal, gate: DatabaseGate, *,
                 probe: Callable[[], Awaitable[bool]], metrics: Metrics) -> None:
        self._turns = turns
        self._journal = journal
        self._gate = gate
        self._probe = probe
        self._metrics = metrics
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._tries: dict[str, int] = {}

    def start(self) -> None:
        """Adopt what processes that died left behind, then run until `stop()`."""
        self._journal.adopt_orphans()
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
            if time.monotonic() - adopted_at > ADOPT_EVERY_S:
                self._journal.adopt_orphans()
                adopted_at = time.monotonic()
            try:
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
            return False
        if outcome is Replayed.RETRY:
            self._tries[entry.id] = tries
            return False
        self._tries.pop(entry.id, None)
        self._gate.recovered()
        self._metrics.journal(outcome.value)
        if outcome is Replayed.SET_ASIDE:
            await self._journal.set_aside(entry, "a bug stopped it; the log has its error id")
        else:
            await self._journal.applied(entry)
        if not self._journal.pending:
            log.warning("the local journal is empty again: every saved command is applied")
        return True
