"""The local journal: commands taken while the incident database is away, kept on disk.

When the database cannot take a command, the activity Teams sent is appended here and
fsynced before the bot answers 200 (issue 14): the acknowledgement then means "on disk",
and the command is applied, in order and exactly once (its activity key), as soon as the
database answers again (`bot.teams.replay`).

Layout, in `JOURNAL_DIR`:
- `<host>-<pid>-<start ms>.journal`: one per process, created at its first entry and
  locked (`flock`) for the process's life; one JSON object per line. Once every entry in
  it is applied it is emptied, and deleted when the process stops.
- a `.journal` file whose lock can be taken belongs to a process that died (SIGKILL, a
  lost machine): the next process to look adopts it, applies its entries and deletes it.
  Several replicas sharing a directory is safe: the lock decides who adopts a file.
- `not-applied.jsonl`: entries that could not be applied (a bug, not the database),
  with the reason, for an operator; the person who sent each was told.

Writes are grouped: entries arriving while one write is in flight are written and
fsynced together, so an outage under load costs one fsync per batch, not per command.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import logging
import os
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

SUFFIX = ".journal"
NOT_APPLIED = "not-applied.jsonl"


class JournalError(Exception):
    """The journal could not take an entry: it is full, or the disk refused the write."""


@dataclass(frozen=True)
class JournalEntry:
    """One activity as Teams sent it, and when the bot received it."""

    id: str
    received_at: dt.datetime
    activity: dict[str, Any]
    source: Path = field(compare=False)

    def line(self) -> bytes:
        """The entry as one line of its file."""
        return orjson.dumps({"id": self.id, "received_at": self.received_at.isoformat(),
                             "activity": self.activity}) + b"\n"


@dataclass
class _File:
    """A journal file this process holds the lock of, and how many of its entries wait."""

    path: Path
    fd: int
    pending: int = 0
    own: bool = False


@dataclass
class _Write:
    entry: JournalEntry
    line: bytes
    done: asyncio.Future[None]


def _parse(line: bytes, source: Path) -> JournalEntry | None:
    try:
        raw = orjson.loads(line)
        return JournalEntry(id=str(raw["id"]), source=source, activity=dict(raw["activity"]),
                            received_at=dt.datetime.fromisoformat(raw["received_at"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # a line torn by a crash in the middle of a write


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


class LocalJournal:
    """This process's journal, plus the files it adopted from processes that died."""

    def __init__(self, directory: Path, *, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._entries: deque[JournalEntry] = deque()
        self._files: dict[Path, _File] = {}
        self._own: _File | None = None
        self._own_bytes = 0
        self._queued: list[_Write] = []
        self._writing = 0
        self._writer: asyncio.Task[None] | None = None
        self._io = asyncio.Lock()
        self._broken = ""
        self.appended = 0

    @property
    def pending(self) -> int:
        """Entries not applied yet (and not set aside)."""
        return len(self._entries) + len(self._queued) + self._writing

    @property
    def size_bytes(self) -> int:
        """The size of this process's own journal file."""
        return self._own_bytes

    def head(self) -> JournalEntry | None:
        """The oldest entry not applied yet."""
        return self._entries[0] if self._entries else None

    async def append(self, activity: dict[str, Any], *, received_at: dt.datetime) -> JournalEntry:
        """Put `activity` on disk (fsynced) behind every entry before it."""
        own = self._own_file()
        entry = JournalEntry(id=uuid.uuid4().hex, received_at=received_at, activity=activity,
                             source=own.path)
        line = entry.line()
        queued = sum(len(w.line) for w in self._queued)
        if self._own_bytes + queued + len(line) > self.max_bytes:
            raise JournalError(f"the journal is full ({self.max_bytes // 1024} KiB)")
        write = _Write(entry, line, asyncio.get_running_loop().create_future())
        self._queued.append(write)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued(), name="journal-writer")
        # Shielded: a caller that goes away does not take a half-finished write with it.
        await asyncio.shield(write.done)
        return entry

    def _own_file(self) -> _File:
        if self._broken:
            raise JournalError(self._broken)
        if self._own is None:
            try:
                path, fd = _create_locked(self.directory)
            except OSError as exc:
                raise JournalError(f"the journal cannot be written in {self.directory}: "
                                   f"{exc.strerror or exc}") from exc
            self._own = self._files[path] = _File(path, fd, own=True)
        return self._own

    async def _write_queued(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                self._writing = len(batch)
                try:
                    await self._write_batch(batch)
                finally:
                    self._writing = 0
        finally:
            self._writer = None

    async def _write_batch(self, batch: list[_Write]) -> None:
        own = self._own_file()
        data = b"".join(w.line for w in batch)
        async with self._io:
            try:
                await asyncio.to_thread(_write_all, own.fd, data)
            except OSError as exc:
                error = JournalError(f"the journal write failed: {exc.strerror or exc}")
                try:
                    # Cut off whatever part was written, so no torn line precedes the next.
                    await asyncio.to_thread(os.ftruncate, own.fd, self._own_bytes)
                except OSError:
                    self._broken = f"the journal is unusable after a failed write ({error})"
                for write in batch:
                    write.done.set_exception(error)
                    write.done.exception()  # retrieved: a caller that went away logs nothing
                return
            self._own_bytes += len(data)
            for write in batch:
                self._entries.append(write.entry)
                own.pending += 1
                self.appended += 1
                write.done.set_result(None)

    async def applied(self, entry: JournalEntry) -> None:
        """`entry` (the head) is in the database now; an emptied file is cleared."""
        if not self._entries or self._entries[0] is not entry:
            raise ValueError("only the oldest journal entry can be marked applied")
        self._entries.popleft()
        held = self._files[entry.source]
        held.pending -= 1
        if held.pending:
            return
        async with self._io:
            if held.pending or (held.own and (self._queued or self._writing)):
                return
            if held.own:
                await asyncio.to_thread(os.ftruncate, held.fd, 0)
                await asyncio.to_thread(os.fsync, held.fd)
                self._own_bytes = 0
            else:
                held.path.unlink(missing_ok=True)
                os.close(held.fd)
                del self._files[held.path]

    async def set_aside(self, entry: JournalEntry, reason: str) -> None:
        """`entry` can never be applied: keep it in `not-applied.jsonl`, then drop it."""
        record = orjson.dumps({"id": entry.id, "received_at": entry.received_at.isoformat(),
                               "reason": reason[:500], "activity": entry.activity}) + b"\n"
        try:
            fd = os.open(self.directory / NOT_APPLIED,
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                await asyncio.to_thread(_write_all, fd, record)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("could not keep journal entry %s in %s: %s", entry.id, NOT_APPLIED, exc)
        await self.applied(entry)

    def adopt_orphans(self) -> int:
        """Take over the files of processes that died; the number of entries adopted."""
        if not self.directory.is_dir():
            return 0
        adopted = 0
        for path in sorted(self.directory.glob(f"*{SUFFIX}"), key=_age):
            if path in self._files:
                continue
            adopted += self._adopt(path)
        return adopted

    def _adopt(self, path: Path) -> int:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return 0  # gone meanwhile (another process adopted and finished it)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # its process is alive
            return 0
        try:
            with os.fdopen(os.dup(fd), "rb") as handle:
                entries = [e for line in handle if (e := _parse(line, path)) is not None]
        except OSError as exc:
            os.close(fd)
            log.error("could not read the journal %s: %s", path.name, exc)
            return 0
        if not entries:
            path.unlink(missing_ok=True)
            os.close(fd)
            return 0
        self._files[path] = _File(path, fd, pending=len(entries))
        self._entries.extend(entries)
        log.warning("adopted %d journal entries of a stopped process from %s", len(entries),
                    path.name)
        return len(entries)

    async def aclose(self) -> None:
        """Finish the write in flight, then release every lock; this process's own file
        goes if nothing in it waits."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
        for held in list(self._files.values()):
            if held.own and not held.pending:
                held.path.unlink(missing_ok=True)
            os.close(held.fd)
        self._files.clear()
        self._own = None


def _create_locked(directory: Path) -> tuple[Path, int]:
    """This process's journal file, created and locked under a name no other process
    adopts (`.journal` files only), then renamed: between creating and locking it, another
    process could take an unlocked `.journal` file for a dead one's."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{socket.gethostname()}-{os.getpid()}-{int(time.time() * 1000)}{SUFFIX}"
    path, fresh = directory / name, directory / f".{name}.new"
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC,
                 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(fresh, path)
        _sync_directory(directory)  # the file's name survives a crash too
    except OSError:
        os.close(fd)
        fresh.unlink(missing_ok=True)
        raise
    return path, fd


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
