"""Telling "the database is away" from a bug, and remembering that it is away.

An incident is often about the shared database or network, so the bot must keep taking
the record while its own database does not answer (issue 14): commands then go to a local
journal on disk (`bot.store.local_journal`) and are applied when it answers again. That
needs two things this module holds: a test for whether an error means the database
cannot take work now (rather than a bug, which must not be retried forever), and a
`DatabaseGate` that remembers it is away, so that commands go straight to the journal
instead of each waiting for its own deadline.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import asyncpg
from tortoise.exceptions import DBConnectionError

from bot.errors import BotError

log = logging.getLogger(__name__)
T = TypeVar("T")

# SQLite result codes (https://www.sqlite.org/rescode.html) that mean "not now", not "wrong".
_SQLITE_NOT_NOW = frozenset({
    5,   # SQLITE_BUSY: another connection (process) holds the lock past the busy timeout
    6,   # SQLITE_LOCKED
    10,  # SQLITE_IOERR
    13,  # SQLITE_FULL: the disk is full
    14,  # SQLITE_CANTOPEN
    15,  # SQLITE_PROTOCOL
})
# PostgreSQL error classes (SQLSTATE) the server sends when it cannot serve: connection
# exceptions (08), insufficient resources (53, "too many connections"), operator
# intervention (57: shutdown, crash, terminated, cancelled), and asyncpg's own errors for
# a connection that is closed or broken.
# Also "not now" rather than wrong: read-only (25006, a replica promoted or demoted in a
# failover) and transaction rollbacks (40: a deadlock, a serialization failure).
_POSTGRES_NOT_NOW = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    asyncpg.exceptions.TransactionRollbackError,
    asyncpg.InterfaceError,
    # "cannot switch to state 15; another operation (2) is in progress": what asyncpg
    # raises on a pooled connection whose server ended it while it sat idle.
    asyncpg.exceptions.InternalClientError,
)


# What the operating system says when the database's host cannot be reached.
_NETWORK_ERRNOS = frozenset({
    errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT,
    errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN,
})


class DatabaseUnavailable(Exception):
    """The incident database cannot take this command now (it is away, or recovering)."""


class WaitingForJournal(DatabaseUnavailable):
    """The database answers, but commands saved while it did not are not applied yet: this
    one joins them, to keep their order."""


async def answered_within(timeout_s: float, work: Callable[[], Awaitable[T]]) -> T:
    """`work()`, or `DatabaseUnavailable` once `timeout_s` have passed without its answer.

    It runs in a task of its own that is cancelled, not waited for, at the deadline: on a
    network that drops packets instead of refusing them, a cancelled PostgreSQL query
    and the release of its connection can each take minutes (asyncpg waits for the
    cancellation to reach the server), and the person waiting must not.
    """
    task = asyncio.ensure_future(work())
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if task in done:
        return task.result()
    task.cancel()
    task.add_done_callback(_quietly)
    raise DatabaseUnavailable(f"the incident database did not answer within {timeout_s:g} s")


def _quietly(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: an abandoned query's end is of no one's interest


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and what it wraps: Tortoise wraps driver errors as an argument or a cause.
    The bot's own errors are not looked into: a Bot Connector or provider call that failed
    on the network says nothing about the database."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        if isinstance(current, BotError):
            continue
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(a for a in current.args if isinstance(a, BaseException))


def describe_error(exc: BaseException) -> str:
    """`Type: message` (or the type alone, for the many errors without a message)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database did not answer or cannot take work now.

    The drivers' own errors say so by their type. A timeout, a refused or reset
    connection could come from anything on the network (a provider, the Bot Connector),
    so those count only when raised inside the database layer: somewhere in Tortoise,
    asyncpg, aiosqlite or `bot.store.transactions`, or, for a deadline, while waiting on
    one of them.
    """
    for error in _causes(exc):
        if isinstance(error, (DatabaseUnavailable, DBConnectionError, *_POSTGRES_NOT_NOW)):
            return True
        if isinstance(error, sqlite3.OperationalError) and (
                getattr(error, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_NOT_NOW:
            return True
        network = isinstance(error, (TimeoutError, ConnectionError, socket.gaierror)) or (
            isinstance(error, OSError) and error.errno in _NETWORK_ERRNOS)
        if network and _in_database_layer(error):
            return True
    return False


_DATABASE_MODULES = ("tortoise", "asyncpg", "aiosqlite", "sqlite3", "bot.store.transactions")


def _in_database_layer(error: BaseException) -> bool:
    """Whether `error` (or the cancellation a deadline turned into it) passed through the
    database layer's code."""
    for current in (error, error.__context__):
        tb = current.__traceback__ if current is not None else None
        while tb is not None:
            if str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_DATABASE_MODULES):
                return True
            tb = tb.tb_next
    return False


def is_connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says a PostgreSQL connection broke (a failover, `pg_terminate_backend`,
    a proxy's idle timeout): worth one more try on a fresh connection, unlike a timeout
    or a lock, which would only wait again."""
    return any(isinstance(e, (asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
                              asyncpg.exceptions.AdminShutdownError,
                              asyncpg.exceptions.InternalClientError))
               for e in _causes(exc))


class DatabaseGate:
    """Whether commands go to the database now, or to the local journal.

    It closes on the first failure that `is_unavailable` recognises and opens again when
    a probe succeeds and the journal's backlog has been applied (`backlog` tells how many
    entries wait), so that commands keep their order: nothing typed after a journaled
    command overtakes it.
    """

    def __init__(self, *, backlog: Callable[[], int] = lambda: 0) -> None:
        self._backlog = backlog
        self._down_since: float | None = None
        self._reason = ""

    @property
    def up(self) -> bool:
        """The last word about the database was that it answers."""
        return self._down_since is None

    @property
    def accepting(self) -> bool:
        """Commands may go to the database: it answers and no journaled command waits."""
        return self.up and self._backlog() == 0

    @property
    def reason(self) -> str:
        """Why it is down (the error's type and message), empty while up."""
        return self._reason

    def failed(self, exc: BaseException) -> None:
        """The database did not take some work: close until a probe succeeds. (The gate's
        own `WaitingForJournal` says nothing new.)"""
        if isinstance(exc, WaitingForJournal):
            return
        if self._down_since is None:
            self._down_since = time.monotonic()
            self._reason = describe_error(exc)
            log.warning("the incident database is not answering (%s); commands go to the "
                        "local journal until it does", self._reason)

    def recovered(self) -> None:
        """A probe succeeded."""
        if self._down_since is not None:
            log.warning("the incident database answers again after %.1f s",
                        time.monotonic() - self._down_since)
            self._down_since = None
            self._reason = ""
