"""One migrator at a time: replicas started together (compose, a rolling deploy) each run
`migrate` on start, and two of them creating the same tables at once fails on PostgreSQL
(`duplicate key ... pg_type_typname_nsp_index`) and on SQLite ("table already exists").
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

# Any constant works; it only has to be the same in every replica of this bot.
_ADVISORY_KEY = 0x1C1DE17B07


@contextlib.asynccontextmanager
async def migration_lock(url: str) -> AsyncIterator[None]:
    """Hold the database's migration lock: a PostgreSQL advisory lock, or a lock file
    beside a SQLite database."""
    if url.startswith("postgres://"):
        conn = await asyncpg.connect(url.split("?", 1)[0])
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_KEY)
            yield
        finally:
            await conn.close()  # ends the session, which releases the lock
        return
    file = url[len("sqlite://"):].split("?", 1)[0] if url.startswith("sqlite://") else ""
    if file in ("", ":memory:"):
        yield
        return
    # `-migrate-lock` beside `x.sqlite3`: the same `*.sqlite3-*` pattern as its WAL files.
    # Opening a local lock file does not block the loop in any way that matters.
    with open(Path(file + "-migrate-lock"), "a") as handle:  # noqa: ASYNC230
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
