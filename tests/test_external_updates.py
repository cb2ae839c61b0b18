"""The domain of external updates without Teams: who may publish, and the order in which
updates are handed to Statuspage (one sync job per public incident at a time)."""

from __future__ import annotations

import datetime as dt

import pytest
from tortoise.transactions import in_transaction

from bot.errors import CommandError, NotAllowedError
from bot.incidents import external
from bot.incidents import notices as say
from bot.incidents.context import Ctx, Origin, Policy
from bot.incidents.people import Person
from bot.store.incident_models import Incident
from bot.store.models import Job
from bot.store.status_models import PublicIncident, PublicStatus, PublicUpdate, SyncState

TENANT = "tenant-1"
COMMANDER = Person("29:cmd", "Cora Commander")
INVESTIGATOR = Person("29:inv", "Ivan Investigator")
POLICY = Policy(status_tenant_id=TENANT, statuspage_enabled=True, components=("API",))


def _ctx(actor: Person = COMMANDER, policy: Policy = POLICY) -> Ctx:
    return Ctx(actor=actor, origin=Origin(TENANT, "http://connector"), policy=policy,
               now=dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC))


async def _incident(tenant: str = TENANT) -> Incident:
    return await Incident.create(
        tenant_id=tenant, number=await Incident.filter(tenant_id=tenant).count() + 1,
        title="Internal: replica-7 fell over", severity=2,
        declared_at=dt.datetime(2026, 11, 27, 8, 0, tzinfo=dt.UTC),
        declared_by_id=COMMANDER.id, declared_by_name=COMMANDER.name,
        commander_id=COMMANDER.id, commander_name=COMMANDER.name,
        investigator_id=INVESTIGATOR.id, investigator_name=INVESTIGATOR.name,
        service_url="http://connector", channel_id="19:c")


async def _sync_jobs() -> list[int]:
    jobs = await Job.filter(kind=external.SyncUpdate.KIND, status="pending").order_by("id")
    return [int(j.payload["update_id"]) for j in jobs]


async def test_updates_reach_statuspage_one_at_a_time_in_order(db):
    incident = await _incident()
    async with in_transaction():
        first = await external.submit(_ctx(), incident.id, title="Slow API", components="api",
                                      status=PublicStatus.INVESTIGATING, text="Looking into it")
    for status, text in ((PublicStatus.IDENTIFIED, "Cause found"),
                         (PublicStatus.MONITORING, "Fix deployed")):
        async with in_transaction():
            await external.request(_ctx(), incident, text, status)
    updates = await PublicUpdate.all().order_by("id")
    assert [u.status.value for u in updates] == ["investigating", "identified", "monitoring"]
    assert all(u.sync_state is SyncState.PENDING for u in updates)
    assert await _sync_jobs() == [first.id]  # the later ones wait for it

    async with in_transaction():
        await external.synced(_ctx(), first.id, "sp-1")
    assert await _sync_jobs() == [first.id, updates[1].id]  # (no runner here: the first stays)
    ctx = _ctx()
    async with in_transaction():
        await external.sync_failed(ctx, updates[1].id, "Statuspage refused the update (400)")
    assert (await _sync_jobs())[-1] == updates[2].id
    [warning] = [n for n in ctx.notices if isinstance(n, say.ThreadPost)]
    assert "Statuspage refused the update (400)" in warning.text
    public = await PublicIncident.get()
    assert public.statuspage_id == "sp-1" and public.components == ["API"]


async def test_only_the_commander_publishes_unless_configured(db):
    incident = await _incident()
    with pytest.raises(NotAllowedError):
        await external.request(_ctx(INVESTIGATOR), incident, "hello")
    wider = Policy(status_tenant_id=TENANT, external_roles=frozenset({"investigator"}))
    ctx = _ctx(INVESTIGATOR, wider)
    await external.request(ctx, incident, "hello")
    [form] = ctx.notices
    assert form == say.PublicForm(incident.id, "hello", "investigating")


async def test_another_tenants_incident_cannot_go_public(db):
    incident = await _incident("tenant-2")
    with pytest.raises(CommandError, match="not set up"):
        await external.request(_ctx(), incident, "hello")


async def test_the_public_title_is_required_and_never_defaulted(db):
    incident = await _incident()
    with pytest.raises(CommandError, match="title customers will read"):
        await external.submit(_ctx(), incident.id, title="  ", components="", status=None,
                              text="Some requests fail")
    assert not await PublicIncident.exists()
