"""Rate budgets (bot.store.pace) and how the dispatcher spends them: windows, holds after a
429, one budget shared by replicas, the most urgent message first, routine confirmations
merged into one."""

from __future__ import annotations

import aiohttp
import pytest

from bot.store.clock import now_ms
from bot.store.models import OutboxMessage, OutboxOperation, OutboxStatus, Urgency
from bot.store.pace import Budget, Hold, LocalPace, SharedPace, Window, wait_ms
from bot.store.unit_of_work import UnitOfWork
from bot.teams.app_token import AppTokenProvider
from bot.teams.connector import ConnectorClient
from bot.teams.outbox import OutboxDispatcher
from bot.teams.pacing import CONVERSATION, budgets, routine_lane, thread_of
from tests.conftest import make_settings

THREAD = "19:incidents@thread.tacv2;messageid=1764000000000"
PER_SECOND = Budget("k", (Window(3, 1), Window(4, 2)))


def test_a_call_fits_until_a_window_is_full_then_waits_for_its_oldest_to_leave():
    assert wait_ms([], PER_SECOND, 10_000) == 0
    assert wait_ms([9_900, 9_800], PER_SECOND, 10_000) == 0
    # Three in the last second: the oldest of them leaves at 9_700 + 1000.
    assert wait_ms([9_900, 9_800, 9_700], PER_SECOND, 10_000) == 701
    # Four in two seconds (but two in the last one): the 2 s window decides.
    assert wait_ms([9_900, 9_800, 8_500, 8_200], PER_SECOND, 10_000) == 201


def test_a_throttled_budget_waits_out_the_hold_then_goes_at_half_pace():
    hold = Hold(until_ms=10_500, slow_until_ms=70_000)
    assert wait_ms([], PER_SECOND, 10_000, hold) == 500
    assert wait_ms([], PER_SECOND, 10_600, hold) == 0
    assert wait_ms([10_600], PER_SECOND, 10_700, hold) == 901  # 3 // 2 = 1 per second ...
    assert wait_ms([70_950, 70_900], PER_SECOND, 71_000, hold) == 0  # ... until it ends


async def test_a_denied_call_spends_nothing_from_any_budget():
    pace = LocalPace()
    lane = Budget("lane", (Window(1, 60),))
    wide = Budget("wide", (Window(10, 60),))
    assert await pace.take([wide, lane]) is None
    denied = await pace.take([wide, lane])
    assert denied is not None and denied.budget == "lane" and denied.wait_ms > 59_000
    for _ in range(9):  # the denied call did not count against `wide`
        assert await pace.take([wide]) is None
    assert await pace.take([wide]) is not None


async def test_replicas_on_postgres_spend_one_budget(db):
    if not db.startswith("postgres"):
        pytest.skip("the shared budget is PostgreSQL's (SQLite serves one process)")
    first, second = SharedPace(), SharedPace()
    spend = budgets("tenant-1", thread_of(THREAD))
    granted = [await (first if n % 2 else second).take(spend) for n in range(8)]
    # Six in any second per thread (bot.teams.pacing.CONVERSATION): the replicas together.
    assert [g is None for g in granted] == [True] * CONVERSATION[0].calls + [False] * 2
    await first.hold(thread_of(THREAD), 30)
    assert (await second.take(budgets("tenant-1", thread_of(THREAD)))).wait_ms > 29_000


@pytest.fixture
async def dispatcher(db, connector):
    async with aiohttp.ClientSession() as session:
        tokens = AppTokenProvider(make_settings(db), session)
        yield OutboxDispatcher(ConnectorClient(session, tokens, timeout_s=1))


async def _enqueue(connector, text: str, **fields) -> OutboxMessage:
    async with UnitOfWork() as uow:
        return await uow.enqueue(operation=OutboxOperation.REPLY, service_url=connector.url,
                                 conversation_id=THREAD, activity_id=fields.pop("to", "1"),
                                 payload={"type": "message", "text": text}, **fields)


def _routine(n: int) -> dict:
    return {"ordering_key": routine_lane(THREAD), "urgency": Urgency.ROUTINE,
            "lane": routine_lane(THREAD), "merge_key": f"noted:1|{THREAD}",
            "merge_text": "Noted {n} entries on INC-1's timeline.", "to": str(n)}


async def test_routine_confirmations_waiting_together_leave_as_one(dispatcher, connector):
    for n in range(5):
        await _enqueue(connector, "Noted on INC-1's timeline.", **_routine(n))

    await dispatcher.dispatch_once()

    [call] = connector.delivered
    assert call.body["text"] == "Noted 5 entries on INC-1's timeline."
    assert call.activity_id == "4"  # in answer to the latest note
    rows = await OutboxMessage.all().order_by("id")
    assert {r.status for r in rows} == {OutboxStatus.SENT}
    assert [r.result for r in rows[1:]] == [{"merged_into": rows[0].id}] * 4


async def test_the_routine_lane_holds_later_confirmations_for_the_next_merge(dispatcher,
                                                                            connector):
    await _enqueue(connector, "Noted on INC-1's timeline.", **_routine(0))
    await dispatcher.dispatch_once()
    for n in range(1, 4):
        await _enqueue(connector, "Noted on INC-1's timeline.", **_routine(n))
    await dispatcher.dispatch_once()

    assert [c.body["text"] for c in connector.delivered] == ["Noted on INC-1's timeline."]
    waiting = await OutboxMessage.filter(status=OutboxStatus.PENDING)
    assert len(waiting) == 3 and min(r.due_ms for r in waiting) > now_ms() + 1000


async def test_the_most_urgent_waiting_message_of_a_thread_goes_first(dispatcher, connector):
    await _enqueue(connector, "Hypothesis 3 recorded.", ordering_key="answers")
    await _enqueue(connector, "Noted on INC-1's timeline.", **_routine(1))
    await _enqueue(connector, "Status update from Ada: failing over", ordering_key="incident:1",
                   urgency=Urgency.URGENT)

    await dispatcher.dispatch_once()

    assert [c.body["text"] for c in connector.delivered] == [
        "Status update from Ada: failing over", "Hypothesis 3 recorded.",
        "Noted on INC-1's timeline."]


async def test_a_spent_thread_waits_without_calling_teams(dispatcher, connector):
    for n in range(8):
        await _enqueue(connector, f"answer {n}")

    await dispatcher.dispatch_once()

    assert len(connector.calls) == CONVERSATION[0].calls  # no call made only to hear 429
    waiting = await OutboxMessage.filter(status=OutboxStatus.PENDING)
    assert len(waiting) == 2 and all(r.due_ms > now_ms() for r in waiting)
