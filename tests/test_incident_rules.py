"""The rules around the story: defaults, idempotency, races, timers, permissions."""

from __future__ import annotations

import asyncio

import pytest

from bot.incidents import checkins, commandeer, handovers
from bot.store.incident_models import (
    Commandeer,
    Handover,
    HandoverStatus,
    Incident,
    TimelineEvent,
)
from bot.web import RUNTIME
from bot.web.recent import RecentActivities
from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS
from tests.scenario import Team, eventually, thread_posts


@pytest.fixture
def team(bot, connector) -> Team:
    return Team(bot, connector)


@pytest.fixture
def local_team(local_bot, connector) -> Team:
    return Team(local_bot, connector)


async def _reply_containing(connector, fragment: str):
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


async def test_without_a_severity_the_highest_is_assumed_and_said(local_team, connector):
    incident = await local_team.declare("payments down")

    assert incident.severity == 1
    reply = await eventually(lambda: _reply_containing(connector, "Declared INC-1"))
    assert "assuming the highest" in reply.text


async def test_declaring_is_idempotent_against_redelivery(team, connector):
    message = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} declare db down")

    await team.bot.post(message)
    # A restart forgets the in-memory guard; the database still knows the activity.
    team.bot.server.app[RUNTIME].recent = RecentActivities()
    await team.bot.post(message)

    await team.settle()
    assert await Incident.all().count() == 1
    assert len(connector.of_kind("create_conversation")) == 1


async def test_incident_numbers_are_unique_per_tenant_under_concurrency(team, connector):
    messages = [teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} declare n{i}")
                for i in range(8)]

    await asyncio.gather(*(team.bot.post(m) for m in messages))

    numbers = sorted(i.number for i in await Incident.all())
    assert numbers == list(range(1, 9))


async def test_two_concurrent_accepts_leave_exactly_one_holder(team, connector):
    incident = await team.declare("db down @Ada @Grace", mentions=(ADA, GRACE))
    handover = await team.latest_handover()
    data = {"handoverId": handover.id, "incidentId": incident.id}

    answers = await asyncio.gather(*(team.press("handover.accept", data, sender=GRACE)
                                     for _ in range(2)))

    assert (await Incident.get(id=incident.id)).commander_id == GRACE.id
    accepted = await TimelineEvent.filter(incident=incident, kind="role_accepted").count()
    assert accepted == 1
    assert sum("already accepted" in str(a["value"]) for a in answers) == 1


async def test_a_newer_request_for_a_role_replaces_the_pending_one(local_team):
    incident = await local_team.declare("db down @Ada @Grace", mentions=(ADA, GRACE))
    first = await local_team.latest_handover()

    await local_team.say("commander @Linus", mentions=(LINUS,), thread=incident)

    assert (await Handover.get(id=first.id)).status is HandoverStatus.SUPERSEDED
    late = await local_team.press("handover.accept", {"handoverId": first.id,
                                                      "incidentId": incident.id}, sender=GRACE)
    assert "already superseded" in late["value"]
    assert (await Incident.get(id=incident.id)).commander_id is None


async def test_a_declined_request_leaves_the_role_with_its_holder(local_team, connector):
    incident = await local_team.declare("db down")
    await local_team.say("investigator @Grace", mentions=(GRACE,), thread=incident)
    handover = await local_team.latest_handover()

    await local_team.press("handover.decline", {"handoverId": handover.id,
                                                "incidentId": incident.id}, sender=GRACE)

    assert (await Incident.get(id=incident.id)).investigator_id == ADA.id
    post = await eventually(lambda: _thread_post(connector, incident, "declined"))
    assert "<at>Ada Lovelace</at> keeps it" in post.text


async def test_card_data_for_another_incident_is_refused(local_team):
    incident = await local_team.declare("db down @Ada @Grace", mentions=(ADA, GRACE))
    handover = await local_team.latest_handover()

    answer = await local_team.press("handover.accept", {"handoverId": handover.id,
                                                        "incidentId": incident.id + 1},
                                    sender=GRACE)

    assert answer["value"] == "That role request does not exist."
    assert (await Incident.get(id=incident.id)).commander_id is None


async def test_identity_claimed_in_card_data_is_ignored(local_team):
    """The card's data is written by whoever crafted the card: only `from` says who pressed."""
    incident = await local_team.declare("db down @Ada @Grace", mentions=(ADA, GRACE))
    handover = await local_team.latest_handover()
    forged = {"handoverId": handover.id, "incidentId": incident.id, "from": {"id": GRACE.id},
              "userId": GRACE.id, "aadObjectId": GRACE.aad_object_id, "actor": GRACE.id}

    answer = await local_team.press("handover.accept", forged, sender=LINUS)

    assert "only" in answer["value"].lower() or "not" in answer["value"].lower()
    assert (await Incident.get(id=incident.id)).commander_id is None
    assert (await Handover.get(id=handover.id)).status is HandoverStatus.PENDING


async def test_an_unanswered_request_expires_and_the_requester_is_reminded(local_team, connector):
    incident = await local_team.declare("db down @Ada @Grace", mentions=(ADA, GRACE))
    handover = await local_team.latest_handover()

    await local_team.fire_timers(handovers.ExpireHandover.KIND)

    await eventually(lambda: _status_is(handover.id, HandoverStatus.EXPIRED))
    dm = await eventually(lambda: _sent_containing(connector, "did not answer"))
    [chat] = [c for c in connector.of_kind("create_conversation") if not c.body["isGroup"]]
    assert chat.body["members"] == [{"id": ADA.id}]
    assert dm.conversation_id == chat.response["id"]
    assert (await Incident.get(id=incident.id)).commander_id is None


async def test_an_unanswered_commandeer_reminds_the_commander(local_team, connector):
    incident = await local_team.declare("db down")
    await local_team.say("commandeer @Grace need the runbook owner", mentions=(GRACE,),
                         thread=incident)
    await eventually(lambda: _sent_containing(connector, "need the runbook owner"))

    await local_team.fire_timers(commandeer.RemindCommandeer.KIND)

    reminder = await eventually(lambda: _sent_containing(connector, "has not answered"))
    assert "Grace Hopper" in reminder.text
    # Ada (Investigator here) has a 1:1 chat created for her too.
    assert len([c for c in connector.of_kind("create_conversation") if not c.body["isGroup"]]) == 2


async def test_a_second_message_to_the_same_person_reuses_their_chat(local_team, connector):
    incident = await local_team.declare("db down")
    for why in ("first", "second"):
        await local_team.say(f"commandeer @Grace {why}", mentions=(GRACE,), thread=incident)
        await local_team.settle()

    chats = [c for c in connector.of_kind("create_conversation") if not c.body["isGroup"]]
    assert len(chats) == 1
    assert len(connector.of_kind("send")) == 2


async def test_check_ins_reach_the_investigator_and_support_requests_the_commander(
    local_team, connector
):
    incident = await local_team.declare("db down @Ada @Grace", mentions=(ADA, GRACE))
    handover = await local_team.latest_handover()
    await local_team.press("handover.accept", {"handoverId": handover.id,
                                               "incidentId": incident.id}, sender=GRACE)

    await local_team.fire_timers(checkins.CheckIn.KIND)
    card = await eventually(lambda: _sent_containing(connector, "How are you doing?"))
    answer = await local_team.press("checkin.help", {"incidentId": incident.id}, sender=ADA,
                                    conversation_id=card.conversation_id)

    assert "Commander has been told" in str(answer["value"])
    told = await eventually(lambda: _sent_containing(connector, "asked for support"))
    assert told.text.startswith("Ada Lovelace (Investigator) asked for support on INC-1")
    refused = await local_team.press("checkin.ok", {"incidentId": incident.id}, sender=LINUS)
    assert refused["value"] == "This check-in is for the Investigator."


async def test_only_role_holders_or_admins_change_severity(start_bot, sqlite_url, connector):
    bot = await start_bot(make_settings(sqlite_url, admin_user_ids=LINUS.aad_object_id))
    team = Team(bot, connector)
    incident = await team.declare("db down sev3")

    await team.say("sev sev1", sender=GRACE, thread=incident)
    refusal = await eventually(lambda: _reply_containing(connector, "Only the people working"))
    assert (await Incident.get(id=incident.id)).severity == 3
    assert "Investigator: Ada Lovelace" in refusal.text

    await team.say("sev sev1", sender=LINUS, thread=incident)
    await eventually(lambda: _severity_is(incident.id, 1))


async def test_the_declare_form_and_its_submission(local_team, connector):
    await local_team.say("declare")
    [form] = await connector.wait_for(1, kind="reply")
    assert "It is an incident if any of these is true" in form.text
    assert "There may be significant financial impact" in form.text

    answer = await local_team.press("declare.submit", {
        "title": "Search returns 500s", "severity": "2", "description": "since 10:02",
        "affected": "EU search"}, sender=GRACE, card_id=form.body.get("id", "9"))

    assert "Declared" in answer["value"]
    incident = await eventually(lambda: Incident.get_or_none(title="Search returns 500s"))
    assert (incident.severity, incident.investigator_id) == (2, GRACE.id)
    assert incident.affected == "EU search"


async def test_older_clients_action_submit_reaches_the_same_handler(local_team, connector):
    incident = await local_team.declare("db down @Ada @Grace", mentions=(ADA, GRACE))
    handover = await local_team.latest_handover()
    submit = teams.card_submit(connector.url, card_id="1", sender=GRACE, data={
        "verb": "handover.accept", "handoverId": handover.id, "incidentId": incident.id})

    status, _ = await local_team.bot.post(submit)

    assert status == 200
    assert (await Incident.get(id=incident.id)).commander_id == GRACE.id


async def test_commands_outside_a_thread_need_the_incident_named(local_team, connector):
    incident = await local_team.declare("db down")

    await local_team.say("note something", sender=GRACE)
    await eventually(lambda: _reply_containing(connector, "Which incident?"))
    await local_team.say(f"note INC-{incident.number} seen from the edge", sender=GRACE)

    await eventually(lambda: TimelineEvent.get_or_none(kind="note",
                                                      text="seen from the edge"))


async def test_list_and_status_show_the_current_picture(local_team, connector):
    first = await local_team.declare("db down sev2")
    await local_team.declare("search slow sev3", sender=GRACE)
    await local_team.say("hypothesis disk full on replica", thread=first)
    await local_team.say("task @Grace check the replica disk", mentions=(GRACE,), thread=first)

    await local_team.say("list")
    listing = await eventually(lambda: _reply_containing(connector, "Open incidents"))
    assert listing.text.index("INC-1") < listing.text.index("INC-2")

    await local_team.say("status", thread=first)
    status = await eventually(lambda: _reply_containing(connector, "Open hypotheses"))
    assert "1. disk full on replica" in status.text
    assert "1. check the replica disk (Grace Hopper)" in status.text


async def test_status_updates_go_to_the_stakeholder_channel(local_team, connector):
    await local_team.say("setup stakeholders", channel="19:stakeholders@thread.tacv2")
    incident = await local_team.declare("db down")

    await local_team.say("update failover started", thread=incident)

    post = await eventually(lambda: _stakeholder_post(connector))
    assert "INC-1 (db down) status update: failover started" in post.text
    assert thread_posts(connector, await Incident.get(id=incident.id))


async def _thread_post(connector, incident: Incident, fragment: str):
    incident = await Incident.get(id=incident.id)
    found = [c for c in thread_posts(connector, incident) if fragment in c.text]
    return found[-1] if found else None


async def _status_is(handover_id: int, status: HandoverStatus) -> bool:
    return (await Handover.get(id=handover_id)).status is status


async def _severity_is(incident_id: int, level: int) -> bool:
    return (await Incident.get(id=incident_id)).severity == level


async def _sent_containing(connector, fragment: str):
    found = [c for c in connector.of_kind("send") if fragment in c.text]
    return found[-1] if found else None


async def _stakeholder_post(connector):
    found = [c for c in connector.of_kind("create_conversation")
             if (c.body.get("channelData") or {}).get("channel", {}).get("id")
             == "19:stakeholders@thread.tacv2"]
    return found[-1] if found else None


async def test_two_racing_commandeer_answers_record_exactly_one(team, connector):
    incident = await team.declare("db down")
    await team.say("commandeer @Grace", mentions=(GRACE,), thread=incident)
    request = await eventually(lambda: Commandeer.first())
    data = {"commandeerId": request.id, "incidentId": incident.id}

    await asyncio.gather(team.press("commandeer.join", data, sender=GRACE),
                         team.press("commandeer.decline", data, sender=GRACE))

    answers = await TimelineEvent.filter(incident=incident, kind="commandeer_answer").count()
    assert answers == 1


async def test_nobody_ends_up_holding_both_single_roles(local_team):
    incident = await local_team.declare("db down")
    await local_team.say("commander @Grace", mentions=(GRACE,), thread=incident)
    command = await local_team.latest_handover()
    await local_team.say("investigator @Grace", mentions=(GRACE,), thread=incident)
    investigate = await local_team.latest_handover()

    await local_team.press("handover.accept", {"handoverId": command.id,
                                               "incidentId": incident.id}, sender=GRACE)
    late = await local_team.press("handover.accept", {"handoverId": investigate.id,
                                                      "incidentId": incident.id}, sender=GRACE)

    incident = await Incident.get(id=incident.id)
    assert (incident.commander_id, incident.investigator_id) == (GRACE.id, ADA.id)
    assert "already superseded" in late["value"] or "cannot hold both" in late["value"]


async def test_the_declarer_can_name_themself_commander(local_team):
    incident = await local_team.declare("db down @Grace @Ada", mentions=(GRACE, ADA))

    assert (incident.commander_id, incident.investigator_id) == (ADA.id, None)
    handover = await local_team.latest_handover()
    assert (handover.role, handover.to_id) == ("investigator", GRACE.id)
