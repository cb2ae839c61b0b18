"""Outbox names are written and read in one module: every name reads back as written."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.teams.outbox_names import DirectChat, Order, RoleCard, ThreadStart, parse

ids = st.integers(min_value=1, max_value=2**53)
# Teams user ids contain colons ("29:1abc..."); tenant ids are GUIDs.
user_ids = st.text(st.characters(codec="ascii", exclude_characters="\x00"), min_size=1)
tenants = st.uuids().map(str)


@given(ids)
def test_a_thread_start_reads_back(incident_id: int) -> None:
    assert parse(str(ThreadStart(incident_id))) == ThreadStart(incident_id)


@given(ids)
def test_a_role_card_reads_back(handover_id: int) -> None:
    assert parse(str(RoleCard(handover_id))) == RoleCard(handover_id)


@given(tenants, user_ids)
def test_a_direct_chat_reads_back_with_its_person(tenant_id: str, user_id: str) -> None:
    chat = DirectChat.new(tenant_id, user_id)

    assert parse(str(chat)) == chat
    assert str(chat).startswith(DirectChat.prefix(tenant_id, user_id))
    assert Order.direct(tenant_id, user_id).key + ":" == DirectChat.prefix(tenant_id, user_id)


def test_the_stored_formats_are_those_existing_databases_hold() -> None:
    assert str(ThreadStart(7)) == "incident:7:thread"
    assert str(RoleCard(3)) == "handover:3:card"
    assert str(DirectChat("t", "29:u", "abc")) == "dm:t:29:u:abc"
    assert Order.incident(7).key == "incident:7"


def test_other_names_are_not_mistaken_for_one() -> None:
    assert [parse(n) for n in (None, "", "incident:x:thread", "handover::card", "dm:t",
                               "stakeholders:c")] == [None] * 6
