"""Scratch databases for one bench run: a SQLite file, or a PostgreSQL database of its own.

PostgreSQL is reached through `BENCH_POSTGRES_URL` (default: the local trust-auth server,
database `test`), where the bench creates `incident_bench_<pid>_<n>` databases and drops
them when the run ends; when it cannot, the PostgreSQL figures are left out with a note.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

SQLITE, POSTGRES = "sqlite", "postgres"
ENGINES = (SQLITE, POSTGRES)
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
_NUMBERS = itertools.count(1)


@dataclass(frozen=True)
class Database:
    """One scratch database and how to reach it."""

    engine: str
    url: str  # what the bot's DATABASE_URL gets
    path: Path | None = None  # the SQLite file

    def execute(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Run SQL statements in one transaction (`?` placeholders on both engines)."""
        if self.engine == SQLITE:
            assert self.path is not None
            with sqlite3.connect(self.path, timeout=30) as conn:
                for sql, args in statements:
                    conn.execute(sql, args)
            return
        asyncio.run(_pg_execute(self.url, statements))

    def scalar(self, sql: str) -> Any:
        """The first column of the first row."""
        if self.engine == SQLITE:
            assert self.path is not None
            with sqlite3.connect(self.path, timeout=30) as conn:
                return conn.execute(sql).fetchone()[0]
        return asyncio.run(_pg_scalar(self.url, sql))


def _pg_sql(sql: str) -> str:
    parts = sql.split("?")
    return parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))


async def _pg_execute(url: str, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL synchronous_commit = off")
            if await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
                # A bulk load whose rows reference only rows of the same load: skip the
                # per-row foreign-key triggers (a third of the time), as pg_restore does.
                await conn.execute("SET LOCAL session_replication_role = replica")
            for sql, args in statements:
                await conn.execute(_pg_sql(sql), *args)
    finally:
        await conn.close()


async def _pg_scalar(url: str, sql: str) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def postgres_admin_url() -> str:
    return os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(postgres_admin_url(), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_problem() -> str | None:
    """None when the bench can create databases on PostgreSQL, else why not."""
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class Scratch:
    """Creates scratch databases and removes every one of them when the block ends."""

    def __init__(self, work_dir: Path) -> None:
        self._work_dir = work_dir
        self._postgres: list[str] = []

    def create(self, engine: str, label: str) -> Database:
        """A new, empty database (the bot migrates it when it starts)."""
        name = f"incident_bench_{os.getpid()}_{next(_NUMBERS)}"
        if engine == SQLITE:
            path = self._work_dir / f"{label}-{name}.sqlite3"
            return Database(SQLITE, f"sqlite://{path}", path)
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        self._postgres.append(name)
        return Database(POSTGRES, _with_database(postgres_admin_url(), name))

    def drop_all(self) -> None:
        for name in self._postgres:
            try:
                asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except (OSError, asyncpg.PostgresError) as exc:
                print(f"could not drop scratch database {name}: {exc}")
        self._postgres.clear()


@contextmanager
def scratch_databases(work_dir: Path) -> Iterator[Scratch]:
    """Scratch databases that are dropped however the block ends."""
    scratch = Scratch(work_dir)
    try:
        yield scratch
    finally:
        scratch.drop_all()


def scalar_on_postgres(sql: str) -> Any:
    """One value from the PostgreSQL server the bench uses (for the report's header)."""
    return asyncio.run(_pg_scalar(postgres_admin_url(), sql))
