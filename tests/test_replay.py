"""The replayer's rules for entries that will not go: the database away (wait, as long
as it takes), a bug (three tries, then aside), and an entry the database keeps refusing
while it takes other writes (aside after a while, never blocking the journal for good).
Driven with a stand-in for the turn runner, on a real journal in a temporary directory."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from bot.metrics import JOURNAL, Metrics
from bot.store.availability import DatabaseGate
from bot.store.local_journal import NOT_APPLIED, JournalEntry, LocalJournal
from bot.teams.replay import JournalReplayer
from bot.teams.turns import Replayed

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


@dataclass
class Runner:
    """Answers each replay with the next outcome of `outcomes` (the last one repeats)."""

    outcomes: list[Replayed]
    replayed: list[str] = field(default_factory=list)
    abandoned: list[str] = field(default_factory=list)

    async def replay(self, entry: JournalEntry, *, last_try: bool = True) -> Replayed:
        self.replayed.append(entry.activity["text"])
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if outcome is Replayed.RETRY and last_try:
            return Replayed.SET_ASIDE
        return outcome

    async def abandon(self, entry: JournalEntry, reason: str) -> None:
        self.abandoned.append(reason)


async def _run(tmp_path: Path, runner: Runner, *, writable: bool, texts: list[str],
               until: float = 10) -> tuple[LocalJournal, Metrics]:
    journal = LocalJournal(tmp_path, max_bytes=1 << 20)
    for text in texts:
        await journal.append({"type": "message", "text": text}, received_at=NOW)
    gate, metrics = DatabaseGate(backlog=lambda: journal.pending), Metrics()

    async def answers() -> bool:
        return writable

    replayer = JournalReplayer(runner, journal, gate, probe=answers, writable=answers,  # type: ignore[arg-type]
                               metrics=metrics, max_refusals=3, retry_waits_s=(0.01,))
    replayer.start()
    try:
        deadline = asyncio.get_running_loop().time() + until
        while journal.pending and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
    finally:
        await replayer.stop()
    return journal, metrics


async def test_entries_wait_for_the_database_as_long_as_it_is_away(tmp_path: Path):
    runner = Runner([Replayed.WAIT])

    journal, _ = await _run(tmp_path, runner, writable=False, texts=["first", "second"],
                            until=2)

    assert journal.pending == 2, "nothing is given up while the database is away"
    assert set(runner.replayed) == {"first"}, "the head waits; nothing overtakes it"
    assert not runner.abandoned


async def test_an_entry_refused_while_the_database_takes_writes_is_set_aside(tmp_path: Path):
    runner = Runner([Replayed.WAIT, Replayed.WAIT, Replayed.WAIT, Replayed.APPLIED])

    journal, metrics = await _run(tmp_path, runner, writable=True, texts=["stuck", "next"])

    assert journal.pending == 0
    assert runner.replayed == ["stuck"] * 3 + ["next"]
    assert len(runner.abandoned) == 1 and "kept refusing" in runner.abandoned[0]
    assert '"stuck"' in (tmp_path / NOT_APPLIED).read_text()
    assert metrics.value(JOURNAL, "set_aside") == 1 and metrics.value(JOURNAL, "applied") == 1


async def test_a_bug_gets_three_tries_then_the_entry_is_set_aside(tmp_path: Path):
    runner = Runner([Replayed.RETRY, Replayed.RETRY, Replayed.RETRY, Replayed.APPLIED])

    journal, metrics = await _run(tmp_path, runner, writable=True, texts=["broken", "fine"])

    assert journal.pending == 0
    assert runner.replayed == ["broken"] * 3 + ["fine"]
    assert metrics.value(JOURNAL, "set_aside") == 1
