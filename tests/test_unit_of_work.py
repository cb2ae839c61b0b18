"""One command, one transaction; an activity changes state at most once."""

from __future__ import annotations

import pytest
from tortoise import connections

from bot.incidents.checkins import CheckIn
from bot.store import jobs
from bot.store.clock import now_ms
from bot.store.database import apply_migrations, close_database, open_database
from bot.store.jobs import take_due_soon
from bot.store.models import OutboxMessage, OutboxOperation, ProcessedActivity
from bot.store.unit_of_work import AlreadyProcessed, UnitOfWork, activity_key


async def _command(key: str, text: str) -> None:
    async with UnitOfWork(activity_key=key) as uow:
        await uow.enqueue(operation=OutboxOperation.SEND, service_url="http://127.0.0.1:1/",
                          conversation_id="a:1", payload={"text": text})


async def test_the_same_activity_twice_changes_state_once(db):
    key = activity_key("19:c@thread.tacv2;messageid=1", "1764000000001")

    await _command(key, "first delivery")
    with pytest.raises(AlreadyProcessed):
        await _command(key, "redelivery")

    assert [m.payload["text"] for m in await OutboxMessage.all()] == ["first delivery"]
    assert await ProcessedActivity.filter(key=key).count() == 1


async def test_a_failed_command_does_not_mark_its_activity_processed(db):
    key = activity_key("a:1", "1764000000002")

    with pytest.raises(ValueError):
        async with UnitOfWork(activity_key=key) as uow:
            await uow.enqueue(operation=OutboxOperation.SEND, service_url="http://x/",
                              conversation_id="a:1", payload={})
            raise ValueError("validation failed half way")

    assert await ProcessedActivity.all().count() == 0
    assert await OutboxMessage.all().count() == 0
    await _command(key, "retry succeeds")
    assert await OutboxMessage.all().count() == 1


async def test_commit_wakes_the_dispatcher_only_when_something_was_enqueued(db):
    woken: list[bool] = []

    async with UnitOfWork(on_commit=lambda: woken.append(True)):
        pass
    async with UnitOfWork(on_commit=lambda: woken.append(True)) as uow:
        await uow.enqueue(operation=OutboxOperation.SEND, service_url="http://x/",
                          conversation_id="a:1", payload={})

    assert woken == [True]


def test_activity_keys_differ_per_conversation_and_are_fixed_length():
    a = activity_key("conv-1", "1")
    b = activity_key("conv-2", "1")
    assert a != b
    assert len(a) == len(b) == 64


async def test_only_a_job_due_now_wakes_the_job_runner(db):
    """A reminder an hour away is found by polling; a room to create now is not left
    waiting for the next poll, and nothing else pays for a claim query on commit."""
    woken: list[str] = []

    def wake() -> None:
        woken.append("runner" if take_due_soon() else "outbox only")

    async with UnitOfWork(on_commit=wake):
        await jobs.schedule(CheckIn(1), due_ms=now_ms() + 3_600_000)
    async with UnitOfWork(on_commit=wake):
        await jobs.schedule(CheckIn(2), due_ms=now_ms())
    async with UnitOfWork(on_commit=wake) as uow:
        await uow.enqueue(operation=OutboxOperation.SEND, service_url="http://x/",
                          conversation_id="a:1", payload={})

    assert woken == ["runner", "outbox only"]


async def test_an_sqlite_transaction_left_open_is_rolled_back_not_committed(sqlite_url):
    """A COMMIT that failed (a full disk) leaves SQLite's transaction open, and Tortoise's
    next BEGIN would commit it: a command the person was told had failed, written after
    all (and written twice, if they typed it again)."""
    await apply_migrations(sqlite_url)
    await open_database(sqlite_url)
    try:
        await ProcessedActivity.all().count()  # the connection opens on first use
        raw = connections.get("default")._connection  # the one aiosqlite connection
        await raw.execute("BEGIN")
        await raw.execute("INSERT INTO processed_activity (key, processed_at) "
                          "VALUES ('left-open', '2026-12-01 10:00:00')")

        await _command(activity_key("a:1", "after"), "the next command")

        assert not await ProcessedActivity.filter(key="left-open").exists()
        assert await ProcessedActivity.filter(key=activity_key("a:1", "after")).exists()
    finally:
        await close_database()
