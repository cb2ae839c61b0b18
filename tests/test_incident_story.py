"""The whole incident story through /api/messages and the loopback connector, on SQLite
and PostgreSQL, in both spaces (a thread in the incidents channel, or a channel of its own
made through the loopback Graph): declare, handover, a wrong Accept, the right Accept,
commandeer, the record, a new title, mitigation, close."""

from __future__ import annotations

import pytest

from bot.incidents.spaces import ArchiveChannel
from bot.store.incident_models import (
    Commandeer,
    Handover,
    HandoverStatus,
    Incident,
    IncidentStatus,
    TimelineEvent,
)
from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS, User
from tests.fakes.connector import FakeConnector
from tests.fakes.graph import FakeGraph
from tests.scenario import Team, channel_team, eventually, thread_posts

BOB = User("29:1bob-dba", "Bob Dba", "aad-bob")


@pytest.fixture(params=["thread", "channel"])
async def team(request: pytest.FixtureRequest, start_bot, database_url: str,
               graph: FakeGraph, connector: FakeConnector) -> Team:
    """A team that ran `setup` in its incidents channel; in channel space also `setup
    space channel`, so that each incident gets a channel of its own."""
    if request.param == "channel":
        return await channel_team(start_bot, database_url, graph, connector)
    team = Team(await start_bot(make_settings(database_url)), connector)
    await team.say("setup")
    return team


@pytest.mark.slow
async def test_the_whole_incident_story(team: Team, connector, graph: FakeGraph):
    await team.settle()
    before = len(connector.calls)  # the setup answers
    incident = await team.declare("Checkout latency sev2 @Ada @Grace", mentions=(ADA, GRACE))

    # Declared: number, thread with the live card (in the incidents channel, or first in
    # the incident's own channel), Ada investigating, Grace asked.
    channels = graph.team_channels()
    own_channel = bool(channels)
    if own_channel:
        [channel] = channels
        assert channel["displayName"] == "inc-1-checkout-latency"
        assert incident.channel_id == channel["id"]
    else:
        assert incident.channel_id == teams.CHANNEL_ID and graph.channel_requests == []
    assert incident.number == 1 and incident.severity == 2
    [create] = [c for c in connector.of_kind("create_conversation")
                if c.body["activity"].get("attachments")]
    assert create.body["channelData"]["channel"]["id"] == incident.channel_id
    assert incident.thread_id.startswith(incident.channel_id + ";messageid=")
    assert "INC-1 · SEV2 · Investigating" in create.text
    assert incident.investigator_name == "Ada Lovelace" and incident.commander_id is None
    request = await eventually(lambda: _posted(connector, incident, "please take the"))
    assert request.body["attachments"][0]["content"]["msteams"]["entities"][0]["mentioned"][
        "id"] == GRACE.id
    handover = await team.latest_handover()
    await team.settle()
    assert "nobody yet (asked: Grace Hopper, not yet accepted)" in team.card_updates()[-1].text

    # Linus presses Grace's Accept: refused, nothing changes.
    data = {"handoverId": handover.id, "incidentId": incident.id}
    refused = await team.press("handover.accept", data, sender=LINUS)
    assert refused["value"] == "Only Grace Hopper can answer this request."
    assert (await Handover.get(id=handover.id)).status is HandoverStatus.PENDING
    assert (await Incident.get(id=incident.id)).commander_id is None

    # Grace accepts: she is Commander, the card is updated in place.
    accepted = await team.press("handover.accept", data, sender=GRACE)
    assert accepted["type"] == "application/vnd.microsoft.card.adaptive"
    assert "Accepted by Grace Hopper" in str(accepted["value"])
    incident = await Incident.get(id=incident.id)
    assert incident.commander_id == GRACE.id
    await team.settle()
    card_update = [u for u in team.card_updates() if u.activity_id == incident.card_activity_id]
    assert "Grace Hopper" in card_update[-1].text
    assert card_update[-1].conversation_id == incident.thread_id

    # Investigator handover: Ada keeps the role until Linus accepts, then is released.
    await team.say("investigator @Linus", sender=GRACE, mentions=(LINUS,), thread=incident)
    pending = await team.latest_handover()
    assert (await Incident.get(id=incident.id)).investigator_id == ADA.id
    await team.press("handover.accept", {"handoverId": pending.id, "incidentId": incident.id},
                     sender=LINUS)
    assert (await Incident.get(id=incident.id)).investigator_id == LINUS.id
    released = await eventually(lambda: _posted(connector, incident, "</at> is released"))
    assert "<at>Linus T</at>" in released.body["text"]

    # Ada no longer holds a role: she cannot commandeer. Grace can.
    await team.say("commandeer @Bob", sender=ADA, mentions=(BOB,), thread=incident)
    assert "Only the Incident Commander or the Investigator" in (
        await eventually(lambda: _replied(connector, "Only the Incident Commander"))).body["text"]
    await team.say("commandeer @Bob we need a DBA for the replica lag", sender=GRACE,
                   mentions=(BOB,), thread=incident)
    dm = await eventually(lambda: _first(connector, "send"))
    [chat] = [c for c in connector.of_kind("create_conversation") if not c.body["isGroup"]]
    assert chat.body["members"] == [{"id": BOB.id}]
    assert dm.conversation_id.startswith("a:")
    assert "we need a DBA for the replica lag" in dm.text
    request = await Commandeer.get()
    answer = await team.press("commandeer.join", {"commandeerId": request.id,
                                                  "incidentId": incident.id},
                              sender=BOB, conversation_id=dm.conversation_id)
    assert "You answered: joining" in str(answer["value"])
    await eventually(lambda: _posted(connector, incident, "Bob Dba is joining"))

    # The record.
    for text in ("note p99 at 4s since 09:12, dashboard https://grafana/d/checkout",
                 "hypothesis replica lag after the 09:00 deploy",
                 "hypothesis 1 confirmed", "task @Ada roll back the 09:00 deploy",
                 "impact EU checkout, about 30% of orders", "update rollback in progress"):
        await team.say(text, sender=LINUS, mentions=(ADA,), thread=incident)
    await team.say("task 1 done", sender=ADA, thread=incident)
    await team.say("title Checkout latency after the 09:00 deploy", sender=LINUS,
                   thread=incident)
    await eventually(lambda: _posted(connector, incident, "Linus T renamed INC-1: Checkout "
                                     "latency → Checkout latency after the 09:00 deploy"))
    if own_channel:
        await eventually(lambda: _channel_named(
            graph, "inc-1-checkout-latency-after-the-09-00-deploy"))
    await team.say("mitigated", sender=LINUS, thread=incident)
    await team.say("resolved", sender=GRACE, thread=incident)

    # Close waits for the review; only the Commander may waive it.
    await team.say("close", sender=GRACE, thread=incident)
    await eventually(lambda: _replied(connector, "closes once its review is done"))
    await team.say("review waive duplicate of INC-0 analysis", sender=LINUS, thread=incident)
    await eventually(lambda: _replied(connector, "Only the Incident Commander can waive"))
    await team.say("review waive small blast radius, root cause known", sender=GRACE,
                   thread=incident)
    await team.say("close", sender=GRACE, thread=incident)

    incident = await Incident.get(id=incident.id)
    assert incident.status is IncidentStatus.CLOSED
    assert incident.mitigated_at and incident.resolved_at and incident.closed_at
    events = [e.kind for e in await TimelineEvent.filter(incident=incident).order_by("at", "id")]
    # The room and the channel are made in the background, so their events' places in the
    # timeline vary.
    assert events.count("room") == 1
    kinds = [k for k in events if k not in ("room", "channel")]
    assert kinds == [
        "declared", "role_requested", "role_accepted", "role_requested", "role_accepted",
        "commandeered", "commandeer_answer", "note", "hypothesis", "hypothesis_settled", "task",
        "impact", "update", "task_done", "title", "mitigated", "review_opened", "resolved",
        "review_waived", "closed",
    ]
    channel_events = [e.text for e in await TimelineEvent.filter(
        incident=incident, kind="channel").order_by("at", "id")]
    assert channel_events == ([
        "INC-1 has its own channel: inc-1-checkout-latency",
        "Channel renamed to inc-1-checkout-latency-after-the-09-00-deploy.",
    ] if own_channel else [])
    await team.settle()
    final_card = [u for u in team.card_updates() if u.activity_id == incident.card_activity_id][-1]
    assert "INC-1 · SEV2 · Closed" in final_card.text
    assert "Checkout latency after the 09:00 deploy" in final_card.text
    assert "rollback in progress" in final_card.text
    assert "EU checkout" in final_card.text
    assert "[Join the Incident Command Room](https://meet.jit.si/Incident-" in final_card.text
    assert "Incident Command Room" in dm.text  # the commandeer card carries the room

    # Where it was talked about: every card update and post in the incident's thread; in
    # the incidents channel only the declare command's answer (and, in channel space, the
    # one line saying where the incident's channel is).
    assert all(u.conversation_id == incident.thread_id for u in team.card_updates())
    in_incidents_channel = [c for c in connector.calls[before:]
                            if (c.conversation_id or "").startswith(teams.CHANNEL_ID)
                            and c.conversation_id != incident.thread_id]
    assert [c.text.startswith("Declared INC-1") for c in in_incidents_channel] == [True]
    announced = [c for c in connector.of_kind("create_conversation")
                 if c.body["isGroup"] and not c.body["activity"].get("attachments")]
    assert [c.text.startswith("INC-1 SEV2: Checkout latency. Its channel:")
            for c in announced] == ([True] if own_channel else [])
    if own_channel:  # closing archives the channel, once the closing posts are in
        await team.fire_timers(ArchiveChannel.KIND)
        await eventually(lambda: _archived(graph))


async def _channel_named(graph: FakeGraph, name: str) -> bool:
    return [c["displayName"] for c in graph.team_channels()] == [name]


async def _archived(graph: FakeGraph) -> bool:
    return all(c["archived"] for c in graph.team_channels())


async def _posted(connector, incident: Incident, fragment: str):
    incident = await Incident.get(id=incident.id)
    found = [c for c in thread_posts(connector, incident) if fragment in c.text]
    return found[-1] if found else None


async def _replied(connector, fragment: str):
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


async def _first(connector, kind: str):
    found = connector.of_kind(kind)
    return found[0] if found else None
