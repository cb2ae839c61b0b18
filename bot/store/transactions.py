"""Database transactions that always end: whatever fails, the connection goes back.

Tortoise's transaction contexts leak when their own start fails. On SQLite the whole
process shares one connection behind one lock; on PostgreSQL a transaction holds a pooled
connection. If `BEGIN` (or the pool's first use of a connection a server just killed)
raises inside `__aenter__`, Tortoise never runs `__aexit__`: the SQLite lock stays held,
or the pooled connection is never released, and every later query of the process waits
forever (issue 14: `/healthz` hung, a bot wedged for good after one "database is locked").

`transaction()` takes the same steps one by one, so a failure at any step gives back what
was taken, and ends shielded from cancellation: a deadline that cut a rollback short would
leave a half-done transaction that the next `BEGIN` writes. On SQLite the steps are
`bot.store.group_commit`'s (transactions that queue share one COMMIT); on PostgreSQL they
are Tortoise's pooled context entered here, whose shielded end runs in a task of its own,
so the connection context variable is restored here first (a context-variable token
cannot be reset from another task's context).

`opening`: rows the transaction inserts before anything else (the claim on an incoming
activity). On SQLite they travel with the BEGIN or SAVEPOINT, one trip to the database
thread fewer for every command; on PostgreSQL they are saved after BEGIN. Either way a
failed insert raises Tortoise's error (an `IntegrityError` for a duplicate) with the
transaction already undone. `reads`: prepared queries the transaction will ask first
(`bot.store.prepared.Read`); on SQLite they travel in that same trip, after the inserts,
and their rows answer the first query; on PostgreSQL they simply run when asked.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from tortoise.backends.base.client import (
    BaseDBAsyncClient,
    TransactionContext,
    TransactionContextPooled,
)
from tortoise.backends.sqlite.client import SqliteTransactionContext
from tortoise.connection import get_connections
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from bot.store import group_commit
from bot.store.availability import is_connection_lost
from bot.store.database import renew_connections
from bot.store.insert_sql import insert_statement
from bot.store.prepared import Read, kept

log = logging.getLogger(__name__)
# How long a commit or rollback may take before its connection is given up.
END_TIMEOUT_S = 2.0


@asynccontextmanager
async def transaction(opening: Sequence[Model] = (),
                      reads: Sequence[Read] = ()) -> AsyncIterator[BaseDBAsyncClient]:
    """`async with transaction() as conn:` commits on success, rolls back on any error;
    `opening` is inserted first, and `reads` are read ahead on SQLite."""
    context = in_transaction()
    if isinstance(context, SqliteTransactionContext):
        async with _grouped(context, opening, reads) as conn:
            yield conn
        return
    try:
        conn = await _enter(context)
        try:
            for row in opening:
                await row.save(using_db=conn, force_create=True)
            yield conn
        except BaseException as exc:
            try:
                await _end(context, exc)
            except Exception as failure:  # noqa: BLE001 - the server is gone: nothing to undo
                log.debug("rollback after %s failed: %s", type(exc).__name__, failure)
            raise
        # Commit; Tortoise releases the connection in a `finally`, whatever the commit does.
        await _end(context, None)
    except Exception as exc:
        if is_connection_lost(exc):
            await renew_connections()
        raise


@asynccontextmanager
async def _grouped(context: SqliteTransactionContext, opening: Sequence[Model],
                   reads: Sequence[Read]) -> AsyncIterator[BaseDBAsyncClient]:
    """A transaction on SQLite's one connection, in a group that shares one COMMIT with
    the transactions queued behind it (`bot.store.group_commit`)."""
    client: BaseDBAsyncClient = context.connection  # Tortoise types it Any
    statements = ([insert_statement(client, row) for row in opening]
                  + [read.statement() for read in reads])

    async def raw_of() -> Any:
        await context.ensure_connection()
        return context.connection._connection  # noqa: SLF001 - the aiosqlite connection

    async def begin(first: Sequence[group_commit.Statement]) -> group_commit.Results:
        raw = context.connection._connection  # noqa: SLF001
        if raw is not None and raw.in_transaction:
            # Left open by a COMMIT or ROLLBACK that failed (a full disk), or a BEGIN cut
            # off after it was queued: Tortoise's BEGIN would commit it. Undo it instead.
            log.warning("rolling back an SQLite transaction left open")
            await raw.rollback()
        # Not Tortoise's begin(): its COMMIT first is a round trip that ends nothing here.
        return await group_commit.run_statements(raw, [("BEGIN", ()), *first])

    try:
        member = await group_commit.join(context._trxlock, raw_of, begin,  # noqa: SLF001
                                         statements)
    except group_commit.OpeningFailed as failed:
        await group_commit.leave(failed.member, failed.cause, timeout_s=END_TIMEOUT_S)
        raise _as_tortoise(failed.cause) from None
    rows = member.opened[len(opening):]
    read_ahead = {read.key: found or [] for read, found in zip(reads, rows, strict=True)}
    token = get_connections().set(context.connection_name, client)
    try:
        with kept(read_ahead):
            yield client
    except BaseException as exc:
        get_connections().reset(token)
        try:
            await group_commit.leave(member, exc, timeout_s=END_TIMEOUT_S)
        except Exception as failure:  # noqa: BLE001 - the connection is gone: nothing to undo
            log.debug("rollback after %s failed: %s", type(exc).__name__, failure)
        raise
    get_connections().reset(token)
    await group_commit.leave(member, None, timeout_s=END_TIMEOUT_S)


def _as_tortoise(exc: Exception) -> Exception:
    """sqlite3's error as Tortoise's SQLite client raises it (`translate_exceptions`)."""
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(exc)
    if isinstance(exc, sqlite3.OperationalError):
        return OperationalError(exc)
    return exc


async def _enter(context: TransactionContext) -> BaseDBAsyncClient:
    if isinstance(context, TransactionContextPooled):
        return await _enter_pooled(context)
    # A nested transaction (a savepoint inside ours) holds nothing of its own.
    return await context.__aenter__()


async def _enter_pooled(context: TransactionContextPooled) -> BaseDBAsyncClient:
    # The steps of TransactionContextPooled.__aenter__, each undone if a later one fails.
    await context.ensure_connection()
    pool = context.client._parent._pool  # noqa: SLF001
    connection = await pool.acquire()
    context.client._connection = connection  # noqa: SLF001
    await _begin(context, context.client,
                 undo=lambda: asyncio.shield(_release(pool, connection)))
    return context.client


async def _begin(context: TransactionContextPooled,
                 client: Any, *, undo: Callable[[], Awaitable[None]]) -> None:
    """Make `client` this task's connection and BEGIN; if that fails, `undo` what the
    caller took (the pooled connection) and restore the task's connection."""
    context.token = get_connections().set(context.connection_name, client)
    try:
        await client.begin()
    except BaseException:
        get_connections().reset(context.token)
        await undo()
        raise


async def _release(pool: Any, connection: Any) -> None:
    try:
        await pool.release(connection)
    except Exception as exc:  # noqa: BLE001 - a dead connection: the pool drops it
        log.debug("releasing a broken connection failed: %s", exc)


async def _end(context: TransactionContext, exc: BaseException | None) -> None:
    """Commit (no `exc`) or roll back, then give the connection back, even if cancelled."""
    if not isinstance(context, TransactionContextPooled):
        await context.__aexit__(type(exc) if exc else None, exc, None)
        return
    get_connections().reset(context.token)  # here, in the context that set it
    # Tortoise resets the token again in its __aexit__; None makes that a no-op.
    context.token = None  # type: ignore[assignment]
    end = asyncio.ensure_future(context.__aexit__(type(exc) if exc else None, exc, None))
    try:
        await asyncio.wait_for(asyncio.shield(end), END_TIMEOUT_S)
    except TimeoutError:
        # A server that does not answer its COMMIT or ROLLBACK (a network dropping packets)
        # would hold the pooled connection for minutes: drop it, so the end fails fast and
        # the pool gets its place back.
        log.warning("a database connection did not answer its %s within %s s; "
                    "dropping it", "rollback" if exc else "commit", END_TIMEOUT_S)
        context.client._connection.terminate()  # noqa: SLF001
        raise
