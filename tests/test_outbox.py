"""The outbox delivers what a committed transaction enqueued, retries, and keeps order."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from bot.store.clock import now_ms
from bot.store.models import OutboxMessage, OutboxOperation, OutboxStatus
from bot.store.unit_of_work import UnitOfWork
from bot.teams.app_token import AppTokenProvider
from bot.teams.connector import ConnectorClient
from bot.teams.outbox import OutboxDispatcher
from bot.teams.pacing import thread_of
from tests.conftest import make_settings

THREAD = "19:incidents@thread.tacv2;messageid=1764000000000"


@pytest.fixture
async def dispatcher(db, connector):
    async with aiohttp.ClientSession() as session:
        tokens = AppTokenProvider(make_settings(db), session)
        yield OutboxDispatcher(ConnectorClient(session, tokens, timeout_s=1))


async def _enqueue(connector, text: str, *, thread: str = THREAD) -> OutboxMessage:
    async with UnitOfWork() as uow:
        return await uow.enqueue(
            operation=OutboxOperation.REPLY, service_url=connector.url,
            conversation_id=thread, activity_id="1764000000000",
            payload={"type": "message", "text": text},
        )


async def _make_due_now() -> None:
    await OutboxMessage.filter(status=OutboxStatus.PENDING).update(due_ms=now_ms())


async def test_a_committed_message_is_delivered_once(dispatcher, connector):
    await _enqueue(connector, "hello")

    assert await dispatcher.dispatch_once() == 1
    assert await dispatcher.dispatch_once() == 0

    [call] = connector.delivered
    assert call.body["text"] == "hello"
    row = await OutboxMessage.get()
    assert row.status is OutboxStatus.SENT
    assert row.result == {"id": call.activity_id and row.result["id"]}


async def test_a_rolled_back_transaction_sends_nothing(dispatcher, connector):
    with pytest.raises(RuntimeError):
        async with UnitOfWork() as uow:
            await uow.enqueue(operation=OutboxOperation.SEND, service_url=connector.url,
                              conversation_id=THREAD, payload={"text": "never"})
            raise RuntimeError("the command failed after enqueueing")

    assert await OutboxMessage.all().count() == 0
    assert await dispatcher.dispatch_once() == 0


async def test_429_is_retried_no_sooner_than_retry_after(dispatcher, connector):
    connector.fail_next(429, retry_after="7")
    await _enqueue(connector, "throttled")
    before = now_ms()

    await dispatcher.dispatch_once()

    row = await OutboxMessage.get()
    assert row.status is OutboxStatus.PENDING
    assert row.attempts == 1
    assert row.due_ms >= before + 7000
    assert await dispatcher.dispatch_once() == 0  # not due yet
    await _make_due_now()
    await dispatcher.dispatch_once()
    assert [c.answered for c in connector.calls] == [429]  # the thread itself is held
    await dispatcher.pace.hold(thread_of(THREAD), 0.001)  # as if the 7 s had passed
    await asyncio.sleep(0.01)
    await _make_due_now()
    await dispatcher.dispatch_once()
    assert [c.answered for c in connector.calls] == [429, 201]
    assert (await OutboxMessage.get()).status is OutboxStatus.SENT


async def test_500_then_a_timeout_then_success_loses_nothing(dispatcher, connector):
    connector.fail_next(500)
    connector.hang_next(2.0)  # longer than the client's 1 s timeout
    await _enqueue(connector, "persistent")

    for _ in range(3):
        await dispatcher.dispatch_once()
        await _make_due_now()

    assert [c.body["text"] for c in connector.delivered] == ["persistent"]
    row = await OutboxMessage.get()
    assert row.status is OutboxStatus.SENT
    assert row.attempts == 3


async def test_messages_of_one_thread_keep_their_order_when_the_first_is_retried(
    dispatcher, connector
):
    connector.fail_next(503)
    for text in ("first", "second", "third"):
        await _enqueue(connector, text)
    await _enqueue(connector, "other thread", thread="a:1on1-someone")

    await dispatcher.dispatch_once()
    assert [c.body["text"] for c in connector.delivered] == ["other thread"]

    await _make_due_now()
    await dispatcher.dispatch_once()

    texts = [c.body["text"] for c in connector.delivered]
    assert texts == ["other thread", "first", "second", "third"]


async def test_a_refused_message_is_marked_failed_and_does_not_block_the_thread(
    dispatcher, connector
):
    connector.fail_next(400)
    await _enqueue(connector, "malformed")
    await _enqueue(connector, "fine")

    await dispatcher.dispatch_once()
    await dispatcher.dispatch_once()

    statuses = [r.status for r in await OutboxMessage.all().order_by("id")]
    assert statuses == [OutboxStatus.FAILED, OutboxStatus.SENT]
    assert [c.body["text"] for c in connector.delivered] == ["fine"]


async def test_a_message_whose_sender_died_is_sent_after_its_lease_expires(dispatcher, connector):
    message = await _enqueue(connector, "orphaned")
    # A worker claimed it and died: status 'sending' with a lease that has run out.
    await OutboxMessage.filter(id=message.id).update(
        status=OutboxStatus.SENDING, locked_until_ms=now_ms() - 1
    )

    await dispatcher.dispatch_once()

    assert [c.body["text"] for c in connector.delivered] == ["orphaned"]


async def test_a_message_being_sent_is_not_claimed_twice(dispatcher, connector):
    message = await _enqueue(connector, "in flight")
    await OutboxMessage.filter(id=message.id).update(
        status=OutboxStatus.SENDING, locked_until_ms=now_ms() + 60_000
    )

    assert await dispatcher.dispatch_once() == 0
    assert connector.calls == []


async def test_the_background_dispatcher_sends_right_after_commit(dispatcher, connector):
    dispatcher.start()
    try:
        async with UnitOfWork(on_commit=dispatcher.wake) as uow:
            await uow.enqueue(operation=OutboxOperation.SEND, service_url=connector.url,
                              conversation_id="a:1on1-x", payload={"text": "now"})
        [call] = await connector.wait_for(1, timeout=0.5)
        assert call.kind == "send"
    finally:
        await dispatcher.stop()


async def test_concurrent_dispatchers_deliver_each_message_once(db, connector):
    for i in range(30):
        await _enqueue(connector, f"m{i}", thread=f"thread-{i % 5}")
    async with aiohttp.ClientSession() as session:
        tokens = AppTokenProvider(make_settings(db), session)
        workers = [OutboxDispatcher(ConnectorClient(session, tokens)) for _ in range(3)]
        for _ in range(15):
            await asyncio.gather(*(w.dispatch_once() for w in workers))

    texts = [c.body["text"] for c in connector.delivered]
    assert sorted(texts) == sorted(f"m{i}" for i in range(30))
    for k in range(5):
        in_thread = [t for t in texts if int(t[1:]) % 5 == k]
        assert in_thread == sorted(in_thread, key=lambda t: int(t[1:]))


async def test_a_throttled_busy_thread_does_not_hold_up_other_threads(dispatcher, connector):
    connector.fail_next(429, retry_after="60")
    for i in range(60):  # more than one claim batch behind the throttled head
        await _enqueue(connector, f"busy {i}")
    await _enqueue(connector, "elsewhere", thread="a:1on1-other")

    for _ in range(3):
        await dispatcher.dispatch_once()

    assert [c.body["text"] for c in connector.delivered] == ["elsewhere"]
    waiting = await OutboxMessage.filter(ordering_key=THREAD, status=OutboxStatus.PENDING)
    assert len(waiting) == 60
    assert min(m.due_ms for m in waiting) >= now_ms() + 50_000
