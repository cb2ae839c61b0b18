"""Group commit on SQLite: transactions that queue for the one connection share a COMMIT.

Why: on SQLite the whole process takes turns on one connection (bot/store/transactions.py),
and every COMMIT is an fsync (SQLite's default `synchronous=FULL`, kept on purpose: an
acknowledged command must survive a power cut, not only a crash). With twenty people
noting at once, nineteen transactions waited while one fsynced, and the dispatcher's
"sent" marks queued behind them too (issue 16: `note` at 20 senders was half the minimal
durable note's throughput).

So a transaction that ends while others wait for the connection leaves the database
transaction open for them: each later one runs inside a SAVEPOINT of its own (its failure
rolls back only its own work; the first one's failure rolls back the transaction, which
holds nothing else yet), and one COMMIT makes the whole group durable. Kept work is never
RELEASEd: COMMIT releases every savepoint still open, and each statement is a round trip
to the database thread that the next transaction waits behind (two fewer per note took
`note` at 20 senders from about 0.87x to 0.93x the minimal durable note). Nobody is told
"committed" before that COMMIT has returned, so what is acknowledged is exactly what is
on disk; if the COMMIT fails, every member fails, as each would have alone.

How a group ends: its last member commits it when nobody else waits; otherwise a flusher
queued behind the transactions waiting at that moment commits it once they have run. A
group never waits for later arrivals, and holds at most `MAX_MEMBERS`. A transaction alone
(one person, a quiet bot) commits at once, as before.

A transaction may open with statements of its own (`opening`: the insert that claims an
incoming activity, `bot.store.unit_of_work`, and the lookup of the incident a command
names, `bot.store.prepared.Read`): they go to the database thread in the same trip as the
member's BEGIN or SAVEPOINT, so the turn that nineteen others wait for is two round trips
shorter (issue 16). If one fails, the member is in the group with its savepoint
taken, and `OpeningFailed` carries it to `leave`, which undoes it as any failure.

The group holds Tortoise's connection lock from its BEGIN to its COMMIT, so Tortoise's own
transactions (`in_transaction()` outside ours) wait for the group instead of committing or
rolling back its members' work. Members queue on this module's lock, in arrival order.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# A group larger than this commits anyway: an fsync per 64 transactions is cheap enough,
# and the first member's wait for its acknowledgement stays short.
MAX_MEMBERS = 64
_names = itertools.count(1)


# One SQL statement and its parameters, in SQLite's `?` style.
Statement = tuple[str, Sequence[Any]]
# What each statement of a trip returned: its rows, or None for one that returns none.
Results = list[list[Any] | None]


class GroupLost(Exception):
    """The connection's transaction ended outside the group, so its members' work may be
    gone: none of them may say it committed."""


@dataclass
class _Group:
    """One open database transaction and the members waiting for its COMMIT."""

    raw: Any  # the aiosqlite connection it began on
    trxlock: asyncio.Lock  # Tortoise's lock, held from BEGIN to COMMIT
    members: list[asyncio.Future[None]] = field(default_factory=list)
    flusher: asyncio.Task[None] | None = None


@dataclass
class _Connection:
    """The grouping state of one SQLite connection (one Tortoise lock)."""

    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0
    group: _Group | None = None

    async def take_turn(self) -> None:
        """Queue for the connection, counted in `waiting` meanwhile: a transaction that
        ends while others wait hands the group on instead of committing it."""
        self.waiting += 1
        try:
            await self.turn.acquire()
        finally:
            self.waiting -= 1


_connections: weakref.WeakKeyDictionary[asyncio.Lock, _Connection] = (
    weakref.WeakKeyDictionary())


class StatementFailed(Exception):
    """Statement `index` of a trip failed with `cause`; the ones before it ran."""

    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(f"statement {index} failed: {cause}")
        self.index = index
        self.cause = cause


async def run_statements(raw: Any, statements: Sequence[Statement]) -> Results:
    """Run `statements` in order in ONE trip to the aiosqlite connection's thread (each
    `raw.execute` is a trip of its own) and return what each returned; raises
    `StatementFailed` at the first failure."""
    def run(connection: Any) -> Results:
        results: Results = []
        for index, (sql, parameters) in enumerate(statements):
            try:
                cursor = connection.execute(sql, parameters)
                results.append(cursor.fetchall() if cursor.description else None)
                cursor.close()
            except Exception as exc:
                raise StatementFailed(index, exc) from exc
        return results

    # aiosqlite's own way of running a function on its thread (`Connection._execute`), as
    # its `execute` does; the sqlite3 connection is only touched there.
    results: Results = await raw._execute(run, raw._conn)  # noqa: SLF001
    return results


@dataclass(frozen=True)
class Membership:
    """A transaction's place in a group: the group and its own savepoint (None for the
    member that began the group: nobody else's work is in it before that member ends),
    and what its `opening` statements returned."""

    state: _Connection
    group: _Group
    savepoint: str | None
    opened: Results = field(default_factory=list)


class OpeningFailed(Exception):
    """A statement of the transaction's `opening` failed (`cause`); `member` holds the
    connection's turn until `leave(member, cause)` undoes what it began."""

    def __init__(self, member: Membership, cause: Exception) -> None:
        super().__init__(str(cause))
        self.member = member
        self.cause = cause


async def join(trxlock: asyncio.Lock, raw_of: Callable[[], Awaitable[Any]],
               begin: Callable[[Sequence[Statement]], Awaitable[Results]],
               opening: Sequence[Statement] = ()) -> Membership:
    """Wait for the connection, open a group unless one is open, and start this
    transaction's savepoint, with `opening` in the same trip. `raw_of` makes sure the
    connection exists and returns it; `begin(opening)` starts the database transaction
    (with Tortoise's lock held) and runs `opening` after its BEGIN, by `run_statements`,
    returning what they all returned."""
    state = _connections.get(trxlock)
    if state is None:
        state = _connections[trxlock] = _Connection()
    await state.take_turn()
    try:
        group = state.group
        if group is not None and (await raw_of() is not group.raw
                                  or not group.raw.in_transaction):
            await _fail(state, group, GroupLost(
                "the SQLite transaction ended outside its group"))
            group = None
        if group is None:
            # The group's first member: its failure rolls the whole back.
            group, failure, opened = await _open(state, trxlock, raw_of, begin, opening)
            member = Membership(state, group, None, opened)
        else:
            member = Membership(state, group, f"bot_tx_{next(_names)}")
            failure = await _savepoint(member, opening)
    except BaseException:
        state.turn.release()
        raise
    if failure is not None:
        raise OpeningFailed(member, failure)
    return member


async def _open(state: _Connection, trxlock: asyncio.Lock,
                raw_of: Callable[[], Awaitable[Any]],
                begin: Callable[[Sequence[Statement]], Awaitable[Results]],
                opening: Sequence[Statement]) -> tuple[_Group, Exception | None, Results]:
    """BEGIN a group; the failure of an `opening` statement, which leaves it begun, or
    what the `opening` statements returned."""
    await trxlock.acquire()
    failure = None
    opened: Results = []
    try:
        raw = await raw_of()
        opened = (await begin(opening))[1:]
    except StatementFailed as exc:
        if exc.index == 0:  # the BEGIN itself
            trxlock.release()
            raise exc.cause from None
        failure = exc.cause
    except BaseException:
        trxlock.release()
        raise
    group = state.group = _Group(raw, trxlock)
    return group, failure, opened


async def _savepoint(member: Membership, opening: Sequence[Statement]) -> Exception | None:
    """Take the member's savepoint and run `opening` (what they return goes to
    `member.opened`); the failure of an `opening` statement (its savepoint taken). A
    failed SAVEPOINT fails the whole group."""
    state, group = member.state, member.group
    try:
        results = await run_statements(
            group.raw, [(f"SAVEPOINT {member.savepoint}", ()), *opening])
        member.opened.extend(results[1:])
    except StatementFailed as exc:
        if exc.index > 0:
            return exc.cause
        await _fail(state, group, exc.cause)
        raise exc.cause from None
    except BaseException as exc:
        await _fail(state, group, exc)
        raise
    return None


async def leave(member: Membership, exc: BaseException | None, *, timeout_s: float) -> None:
    """End this transaction: keep its work (no `exc`) or roll back to its savepoint, then
    commit the group now or leave that to whoever comes next. Returns once this
    transaction's work is committed; raises if it was not."""
    # Shielded: a deadline that cut a ROLLBACK TO short would leave this transaction's
    # work in the group, to be committed with the others.
    end = asyncio.ensure_future(_end(member, exc))
    done = await asyncio.wait_for(asyncio.shield(end), timeout_s)
    if done is not None:
        await asyncio.wait_for(asyncio.shield(done), timeout_s)


async def _end(member: Membership, exc: BaseException | None) -> asyncio.Future[None] | None:
    """Release or roll back the savepoint, then commit, hand on or end the group; what
    to wait for before this transaction's work is durable (None: nothing of it kept)."""
    state, group = member.state, member.group
    done: asyncio.Future[None] | None = None
    try:
        try:
            # Kept work stays under its savepoint: the group's COMMIT releases every
            # savepoint still open (https://sqlite.org/lang_savepoint.html), so a RELEASE
            # per member would be a round trip to the database thread for nothing; a later
            # member's ROLLBACK TO its own (newer) savepoint leaves this work alone.
            if exc is not None and member.savepoint is None:
                await _rollback(state, group)  # the group held only this member's work
                return None
            if exc is not None:
                await group.raw.execute(f"ROLLBACK TO {member.savepoint}")
                await group.raw.execute(f"RELEASE {member.savepoint}")
        except BaseException as failure:
            await _fail(state, group, failure)
            if exc is None:
                raise
            return None
        if exc is None:
            done = asyncio.get_running_loop().create_future()
            # Its error is read by `leave`, or by nobody if `leave` gave up waiting.
            done.add_done_callback(_read_error)
            group.members.append(done)
        if state.waiting and len(group.members) < MAX_MEMBERS:
            if group.flusher is None:
                group.flusher = asyncio.create_task(_flush(state, group))
        elif group.members:
            try:
                await _commit(state, group)
            except Exception:  # noqa: BLE001 - `done` carries it to this member
                return done
        else:
            await _rollback(state, group)  # nothing of anyone's to keep
    finally:
        state.turn.release()
    return done


async def _flush(state: _Connection, group: _Group) -> None:
    """Commit `group` once the transactions that were waiting when it was handed on have
    run (they queue on the turn ahead of this)."""
    await state.take_turn()
    try:
        if state.group is group:
            if group.members:
                await _commit(state, group)
            else:
                await _rollback(state, group)
    except Exception as exc:  # noqa: BLE001 - its members have the error; log it once
        log.warning("a group commit failed: %s", exc)
    finally:
        state.turn.release()


async def _commit(state: _Connection, group: _Group) -> None:
    """COMMIT the group and tell its members; shielded from cancellation, since each
    member is waiting to be told."""
    await asyncio.shield(_commit_now(state, group))


async def _commit_now(state: _Connection, group: _Group) -> None:
    try:
        if not group.raw.in_transaction:
            raise GroupLost("the SQLite transaction ended outside its group")
        await group.raw.commit()
    except BaseException as exc:
        await _fail(state, group, exc)
        raise
    state.group = None
    group.trxlock.release()
    for member in group.members:
        if not member.done():
            member.set_result(None)


async def _rollback(state: _Connection, group: _Group) -> None:
    """End a group none of whose members kept anything."""
    await asyncio.shield(_fail(state, group, GroupLost("nothing to commit")))


async def _fail(state: _Connection, group: _Group, exc: BaseException) -> None:
    """The group's transaction is broken: roll it back, fail every member, let go."""
    if state.group is not group:
        return
    state.group = None
    try:
        if group.raw.in_transaction:
            await group.raw.rollback()
    except Exception as failure:  # noqa: BLE001 - the connection is gone: nothing to undo
        log.debug("rollback of a failed group failed: %s", failure)
    finally:
        group.trxlock.release()
    error = exc if isinstance(exc, Exception) else GroupLost(repr(exc))
    for member in group.members:
        if not member.done():
            member.set_exception(error)


def _read_error(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()
