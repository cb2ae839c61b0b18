"""The queries built once (bot/store/prepared.py) find what Tortoise's own query finds."""

from __future__ import annotations

import datetime as dt

import pytest
from tortoise.signals import Signals, post_save

from bot.store import group_commit
from bot.store.incident_models import Incident
from bot.store.models import OutboxMessage, OutboxOperation, OutboxStatus, ProcessedActivity
from bot.store.prepared import (
    incidents_in_thread,
    incidents_numbered,
    numbered_read,
    unsent_after,
)
from bot.store.transactions import transaction


async def _incident(tenant: str, number: int, title: str) -> Incident:
    return await Incident.create(
        tenant_id=tenant, number=number, title=title, severity=2, channel_id="19:c",
        service_url="http://127.0.0.1:1/", declared_by_id="29:ada", declared_by_name="Ada",
        declared_at=dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC))


@pytest.mark.parametrize("lock", [False, True])
async def test_the_incident_numbered_is_the_one_tortoise_finds(db, lock):
    await _incident("tenant-a", 7, "Checkout down")
    await _incident("tenant-b", 7, "Other tenant's seven")
    await _incident("tenant-a", 8, "Search slow")

    async with transaction():
        found = await incidents_numbered("tenant-a", 7, lock=lock)
        expected = await Incident.filter(tenant_id="tenant-a", number=7)

    assert [i.id for i in found] == [i.id for i in expected]
    names = set(Incident._meta.fields_map) & set(Incident._meta.db_fields)
    assert len(names) > 30  # every column, the dates and enums included
    assert ({n: getattr(found[0], n) for n in names}
            == {n: getattr(expected[0], n) for n in names})


async def test_an_incident_read_ahead_is_the_one_the_query_finds(db, monkeypatch):
    """On SQLite the lookup travels with the BEGIN and its rows answer the transaction's
    first query; on PostgreSQL it simply runs then. Later queries always run."""
    incident = await _incident("tenant-a", 7, "Checkout down")
    trips: list[list[str]] = []
    real = group_commit.run_statements

    async def counted(raw, statements):
        trips.append([sql.split()[0] for sql, _ in statements])
        return await real(raw, statements)

    monkeypatch.setattr(group_commit, "run_statements", counted)
    async with transaction(reads=[numbered_read("tenant-a", 7)]):
        first = await incidents_numbered("tenant-a", 7, lock=True)
        await Incident.filter(id=incident.id).update(title="Checkout back")
        again = await incidents_numbered("tenant-a", 7, lock=True)

    names = set(Incident._meta.fields_map) & set(Incident._meta.db_fields)
    expected = await Incident.get(id=incident.id)
    assert {n: getattr(first[0], n) for n in names if n != "title"} == {
        n: getattr(expected, n) for n in names if n != "title"}
    assert first[0].title == "Checkout down"  # read when the transaction opened ...
    assert again[0].title == "Checkout back"  # ... and never served after anything else
    if db.startswith("sqlite"):
        assert trips == [["BEGIN", "SELECT"]]


async def test_rows_read_ahead_answer_only_their_own_query(db):
    await _incident("tenant-a", 7, "Seven")
    await _incident("tenant-a", 8, "Eight")

    async with transaction(reads=[numbered_read("tenant-a", 7)]):
        found = await incidents_numbered("tenant-a", 8, lock=True)

    assert [i.title for i in found] == ["Eight"]


@pytest.mark.parametrize("lock", [False, True])
async def test_the_incident_in_a_thread_is_the_one_tortoise_finds(db, lock):
    mine = await _incident("tenant-a", 7, "Checkout down")
    await Incident.filter(id=mine.id).update(thread_id="19:c;messageid=7")
    other = await _incident("tenant-b", 7, "Other tenant's seven")
    await Incident.filter(id=other.id).update(thread_id="19:c;messageid=7")

    async with transaction():
        found = await incidents_in_thread("tenant-a", "19:c;messageid=7", lock=lock)
        expected = await Incident.filter(tenant_id="tenant-a", thread_id="19:c;messageid=7")

    assert [i.id for i in found] == [i.id for i in expected] == [mine.id]
    assert await incidents_in_thread("tenant-a", "19:elsewhere", lock=lock) == []


async def test_no_incident_of_that_number_in_the_tenant_finds_none(db):
    await _incident("tenant-b", 3, "Elsewhere")

    assert await incidents_numbered("tenant-a", 3, lock=False) == []


async def test_the_messages_to_merge_are_the_ones_tortoise_finds(db):
    def row(merge_key: str, ordering_key: str, status: OutboxStatus) -> dict[str, object]:
        return dict(operation=OutboxOperation.REPLY, service_url="http://127.0.0.1:1/",
                    conversation_id="19:c", activity_id="1", payload={"text": "Noted."},
                    ordering_key=ordering_key, merge_key=merge_key, status=status, due_ms=0)

    first = await OutboxMessage.create(**row("noted:1|19:c", "routine:19:c", OutboxStatus.SENDING))
    for merge_key, ordering_key, status in [
            ("noted:1|19:c", "routine:19:c", OutboxStatus.PENDING),
            ("noted:1|19:c", "routine:19:c", OutboxStatus.SENT),
            ("noted:2|19:c", "routine:19:c", OutboxStatus.PENDING),
            ("noted:1|19:c", "routine:19:d", OutboxStatus.PENDING),
            ("noted:1|19:c", "routine:19:c", OutboxStatus.SENDING)]:
        await OutboxMessage.create(**row(merge_key, ordering_key, status))

    found = await unsent_after("noted:1|19:c", "routine:19:c", first.id)
    expected = await OutboxMessage.filter(
        merge_key="noted:1|19:c", ordering_key="routine:19:c", id__gt=first.id,
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]).order_by("id")

    assert [m.id for m in found] == [m.id for m in expected] and len(found) == 2
    assert [m.status for m in found] == [OutboxStatus.PENDING, OutboxStatus.SENDING]
    assert found[0].payload == {"text": "Noted."}


async def test_a_listener_on_an_unsignalled_model_is_still_called(db):
    """bot/store/quiet_model.py skips only the empty round of listeners."""
    heard: list[str] = []

    @post_save(ProcessedActivity)
    async def remember(sender, instance, created, using_db, update_fields) -> None:
        heard.append(instance.key)

    try:
        await ProcessedActivity.create(key="listened")
    finally:
        ProcessedActivity._listeners[Signals.post_save][ProcessedActivity].remove(remember)

    assert heard == ["listened"]
