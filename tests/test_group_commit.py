"""Group commit on SQLite (bot/store/group_commit.py): transactions that queue for the one
connection share a COMMIT, and none is told it committed before that COMMIT returned."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot.store import group_commit
from bot.store.database import apply_migrations, close_database, open_database
from bot.store.models import ProcessedActivity
from bot.store.transactions import transaction


@pytest.fixture
async def raw(sqlite_url: str) -> AsyncIterator[Any]:
    """The bot's SQLite database opened as the bot opens it; yields its one aiosqlite
    connection, whose COMMITs the tests count."""
    await apply_migrations(sqlite_url)
    await open_database(sqlite_url)
    await ProcessedActivity.all().count()  # the connection opens on first use
    yield connections.get("default")._connection
    await close_database()


def count_commits(raw: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    commits: list[int] = []
    real = raw.commit

    async def counted() -> None:
        commits.append(1)
        await real()

    monkeypatch.setattr(raw, "commit", counted)
    return commits


def stored_keys(sqlite_url: str) -> set[str]:
    """What another connection reads: only what is committed."""
    path = Path(sqlite_url.removeprefix("sqlite://").split("?", 1)[0])
    with sqlite3.connect(path) as other:
        return {row[0] for row in other.execute("SELECT key FROM processed_activity")}


async def write(key: str, *, fail: bool = False, hold_s: float = 0.0) -> str:
    async with transaction() as conn:
        await ProcessedActivity.create(key=key, using_db=conn)
        if hold_s:
            await asyncio.sleep(hold_s)
        if fail:
            raise ValueError(key)
    return key


async def test_transactions_waiting_together_share_a_commit_and_each_is_durable_when_told(
        raw, sqlite_url, monkeypatch):
    commits = count_commits(raw, monkeypatch)
    durable_when_told: list[bool] = []

    async def told(key: str) -> None:
        await write(key)
        durable_when_told.append(key in stored_keys(sqlite_url))

    # The first holds the connection while nineteen others queue behind it.
    await asyncio.gather(told("first"), *(told(f"k{i}") for i in range(19)))

    assert durable_when_told == [True] * 20
    assert stored_keys(sqlite_url) == {"first", *(f"k{i}" for i in range(19))}
    assert 1 <= len(commits) <= 3  # one group, perhaps split where the queue emptied


async def test_a_transaction_alone_commits_at_once(raw, sqlite_url, monkeypatch):
    commits = count_commits(raw, monkeypatch)

    await write("alone")

    assert commits == [1]
    assert "alone" in stored_keys(sqlite_url)


async def test_a_failing_member_rolls_back_only_its_own_work(raw, sqlite_url, monkeypatch):
    commits = count_commits(raw, monkeypatch)

    results = await asyncio.gather(
        write("before", hold_s=0.05), write("broken", fail=True), write("after"),
        return_exceptions=True)

    assert results[0] == "before" and results[2] == "after"
    assert isinstance(results[1], ValueError)
    assert stored_keys(sqlite_url) == {"before", "after"}
    assert len(commits) == 1


async def test_a_failed_commit_fails_every_member_and_keeps_none(raw, sqlite_url,
                                                                 monkeypatch):
    async def full_disk() -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(raw, "commit", full_disk)

    results = await asyncio.gather(write("a", hold_s=0.05), write("b"), write("c"),
                                   return_exceptions=True)

    assert all(isinstance(r, Exception) for r in results), results
    monkeypatch.undo()
    assert stored_keys(sqlite_url) == set()
    await write("later")  # the connection is usable again, with nothing left over
    assert stored_keys(sqlite_url) == {"later"}


async def test_tortoises_own_transaction_waits_for_the_group(raw, sqlite_url):
    """A Tortoise transaction started outside ours (a library's `in_transaction()`) must
    neither commit a group's work early nor roll it back: it waits for the group."""
    async def tortoise_rollback() -> None:
        await asyncio.sleep(0.01)  # while the group below is open
        with pytest.raises(ValueError):
            async with in_transaction() as conn:
                await ProcessedActivity.create(key="tortoise", using_db=conn)
                raise ValueError("rolled back")

    await asyncio.gather(write("held", hold_s=0.05), write("queued"), tortoise_rollback())

    assert stored_keys(sqlite_url) == {"held", "queued"}


async def test_a_cancelled_member_leaves_nothing_and_the_group_goes_on(raw, sqlite_url):
    holder = asyncio.create_task(write("holder", hold_s=0.05))
    cancelled = asyncio.create_task(write("cancelled", hold_s=1.0))
    other = asyncio.create_task(write("other"))
    await asyncio.sleep(0.1)  # `cancelled` now holds the connection
    cancelled.cancel()

    assert await holder == "holder" and await other == "other"
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert stored_keys(sqlite_url) == {"holder", "other"}


async def test_the_first_member_failing_takes_only_its_own_work_with_it(raw, sqlite_url):
    """The member that began the group has no savepoint (nobody else's work is in the
    group before it ends): its failure rolls back the transaction, and those queued
    behind it start a new group."""
    results = await asyncio.gather(write("first", fail=True, hold_s=0.05), write("second"),
                                   write("third"), return_exceptions=True)

    assert isinstance(results[0], ValueError)
    assert results[1:] == ["second", "third"]
    assert stored_keys(sqlite_url) == {"second", "third"}


def count_trips(raw: Any, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Each round trip to the database thread, as the first word of its statements."""
    trips: list[list[str]] = []
    real_execute, real_run = raw.execute, group_commit.run_statements

    async def execute(sql: str, *args: Any) -> Any:
        trips.append([sql.split()[0]])
        return await real_execute(sql, *args)

    async def run(connection: Any, statements: Any) -> Any:
        trips.append([sql.split()[0] for sql, _ in statements])
        return await real_run(connection, statements)

    monkeypatch.setattr(raw, "execute", execute)
    monkeypatch.setattr(group_commit, "run_statements", run)
    return trips


async def test_a_group_costs_a_savepoint_per_later_member_and_no_release(raw, monkeypatch):
    """Each statement is a round trip to the database thread: kept work stays under its
    savepoint until the group's COMMIT releases them all."""
    trips = count_trips(raw, monkeypatch)

    await asyncio.gather(write("a", hold_s=0.05), *(write(f"k{i}") for i in range(5)))

    statements = [word for trip in trips for word in trip]
    assert statements.count("BEGIN") == 1
    assert statements.count("SAVEPOINT") == 5
    assert statements.count("RELEASE") == 0


async def claim(key: str, *, hold_s: float = 0.0) -> str:
    """A transaction that opens with its claim, as a command's unit of work does."""
    async with transaction(opening=[ProcessedActivity(key=key)]):
        if hold_s:
            await asyncio.sleep(hold_s)
    return key


async def test_the_opening_insert_travels_with_the_begin_or_savepoint(raw, sqlite_url,
                                                                      monkeypatch):
    """A command's claim on its activity costs no round trip of its own."""
    trips = count_trips(raw, monkeypatch)

    await asyncio.gather(claim("first", hold_s=0.05), *(claim(f"k{i}") for i in range(5)))

    assert trips == [["BEGIN", "INSERT"]] + [["SAVEPOINT", "INSERT"]] * 5
    assert stored_keys(sqlite_url) == {"first", *(f"k{i}" for i in range(5))}


async def test_the_opening_insert_writes_the_row_model_create_writes(raw, sqlite_url):
    await claim("opened")
    await ProcessedActivity.create(key="created")

    path = Path(sqlite_url.removeprefix("sqlite://").split("?", 1)[0])
    with sqlite3.connect(path) as other:
        rows = dict(other.execute("SELECT key, processed_at FROM processed_activity"))
    # The same columns, the time stored in the same form (Tortoise reads both back).
    assert set(rows) == {"opened", "created"}
    assert len(rows["opened"]) == len(rows["created"]) and rows["opened"][10] == " "
    assert rows["opened"].endswith("+00:00") and rows["created"].endswith("+00:00")
    read = {r.key: r.processed_at for r in await ProcessedActivity.all()}
    assert read["opened"] <= read["created"]


@pytest.mark.parametrize("duplicate", ["first", "later"])
async def test_a_failed_opening_insert_undoes_only_its_own_transaction(
        raw, sqlite_url, duplicate):
    """A redelivered activity's claim fails as Tortoise's IntegrityError, on the member
    that began the group or a later one, and takes nothing of the others with it."""
    await claim("seen")
    holder = "seen" if duplicate == "first" else "holder"
    tasks = [claim(holder, hold_s=0.05), write("next"), claim("seen"), write("last")]

    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(results[0 if duplicate == "first" else 2], IntegrityError), results
    kept = {"next", "last"} | ({"holder"} if duplicate == "later" else set())
    assert stored_keys(sqlite_url) == {"seen", *kept}
    await write("after")  # the connection is usable again, nothing left open
    assert "after" in stored_keys(sqlite_url)
