"""Incident rules checked on the domain directly: no Teams, no HTTP, one transaction each."""

from __future__ import annotations

import pytest

from bot.errors import CommandError, NotAllowedError
from bot.incidents import handovers, journal
from bot.incidents import notices as say
from bot.incidents.declare import Declaration, declare
from bot.incidents.event_kinds import Declared, EventKind
from bot.incidents.roles import Role, holder
from bot.store.incident_models import Incident, TimelineEvent
from tests.domain import ALICE, BOB, CAROL, Domain


async def _declared(domain: Domain, title: str = "Checkout API 502s") -> Incident:
    return await domain.run(ALICE, lambda ctx: declare(ctx, Declaration(title=title)))


async def test_a_declaration_without_severity_assumes_the_highest_and_opens_a_thread(
        domain: Domain):
    incident = await _declared(domain)

    event = await TimelineEvent.get(incident=incident, kind=EventKind.DECLARED)
    assert (incident.number, incident.severity) == (1, 1)
    assert Declared.from_json(event.data or {}) == Declared(1)
    assert say.ThreadOpened(incident.id) in domain.said
    assert holder(incident, Role.INVESTIGATOR) == ALICE


async def test_a_role_stays_with_its_holder_until_the_person_asked_accepts(domain: Domain):
    incident = await _declared(domain)
    request = await domain.run(ALICE, lambda ctx: handovers.request_role(
        ctx, incident, Role.INVESTIGATOR, BOB))

    assert holder(await Incident.get(id=incident.id), Role.INVESTIGATOR) == ALICE
    with pytest.raises(NotAllowedError):
        await domain.run(CAROL, lambda ctx: handovers.answer(ctx, request.id, accept=True))
    await domain.run(BOB, lambda ctx: handovers.answer(ctx, request.id, accept=True))

    assert holder(await Incident.get(id=incident.id), Role.INVESTIGATOR) == BOB
    with pytest.raises(CommandError, match="already accepted"):
        await domain.run(BOB, lambda ctx: handovers.answer(ctx, request.id, accept=False))


async def test_a_note_goes_on_the_timeline_with_who_wrote_it(domain: Domain):
    incident = await _declared(domain)

    await domain.run(BOB, lambda ctx: journal.note(ctx, incident, "p99 is 4 s since 09:50"))

    event = await TimelineEvent.get(incident=incident, kind=EventKind.NOTE)
    assert (event.actor_name, event.text) == ("Bob", "p99 is 4 s since 09:50")
