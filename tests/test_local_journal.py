"""The local journal's file rules: durable before the answer, bounded, emptied once applied,
and adopted from a process that died, never from one that lives."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from pathlib import Path

import pytest

from bot.store.local_journal import SUFFIX, JournalError, LocalJournal

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def _activity(n: int) -> dict:
    return {"type": "message", "id": str(n), "text": f"note {n}"}


async def test_entries_are_on_disk_in_order_and_the_file_is_emptied_when_all_are_applied(
        tmp_path: Path):
    journal = LocalJournal(tmp_path, max_bytes=1 << 20)
    entries = [await journal.append(_activity(n), received_at=NOW) for n in range(3)]
    [file] = tmp_path.glob(f"*{SUFFIX}")
    assert [line.count(b'"note ') for line in file.read_bytes().splitlines()] == [1, 1, 1]
    assert journal.pending == 3 and journal.head() is entries[0]

    with pytest.raises(ValueError):
        await journal.applied(entries[1])  # only the oldest may go
    for entry in entries:
        await journal.applied(entry)

    assert journal.pending == 0 and file.stat().st_size == 0
    await journal.aclose()
    assert not file.exists(), "an empty journal is removed when its process stops"


async def test_a_full_journal_refuses_instead_of_growing(tmp_path: Path):
    journal = LocalJournal(tmp_path, max_bytes=300)
    await journal.append(_activity(1), received_at=NOW)
    with pytest.raises(JournalError, match="full"):
        for n in range(10):
            await journal.append(_activity(n), received_at=NOW)
    assert journal.size_bytes <= 300
    await journal.aclose()


async def test_a_journal_that_cannot_be_created_says_why(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    journal = LocalJournal(blocker / "journal", max_bytes=1 << 20)
    with pytest.raises(JournalError, match="cannot be written"):
        await journal.append(_activity(1), received_at=NOW)


async def test_a_dead_process_s_journal_is_adopted_torn_line_and_all(tmp_path: Path):
    dead = LocalJournal(tmp_path, max_bytes=1 << 20)
    for n in range(2):
        await dead.append(_activity(n), received_at=NOW)
    [file] = tmp_path.glob(f"*{SUFFIX}")
    with open(file, "ab") as handle:
        handle.write(b'{"id": "torn", "received_at": "2026-12-')  # killed mid-write
    for fd in [f.fd for f in dead._files.values()]:  # its process dies: the lock goes
        os.close(fd)

    survivor = LocalJournal(tmp_path, max_bytes=1 << 20)
    assert survivor.adopt_orphans() == 2
    assert survivor.adopt_orphans() == 0, "adopted once"
    texts = []
    while (entry := survivor.head()) is not None:
        texts.append(entry.activity["text"])
        assert entry.received_at == NOW
        await survivor.applied(entry)
    assert texts == ["note 0", "note 1"]
    assert not file.exists(), "an adopted file goes once applied"


async def test_a_living_process_s_journal_is_left_alone(tmp_path: Path):
    living = LocalJournal(tmp_path, max_bytes=1 << 20)
    await living.append(_activity(1), received_at=NOW)
    [file] = tmp_path.glob(f"*{SUFFIX}")
    fd = os.open(file, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)

    assert LocalJournal(tmp_path, max_bytes=1 << 20).adopt_orphans() == 0
    await living.aclose()


async def test_an_entry_that_cannot_be_applied_is_kept_aside_with_its_reason(tmp_path: Path):
    journal = LocalJournal(tmp_path, max_bytes=1 << 20)
    entry = await journal.append(_activity(7), received_at=NOW)

    await journal.set_aside(entry, "a bug stopped it")

    assert journal.pending == 0
    kept = (tmp_path / "not-applied.jsonl").read_text()
    assert '"reason":"a bug stopped it"' in kept and '"note 7"' in kept
    await journal.aclose()
