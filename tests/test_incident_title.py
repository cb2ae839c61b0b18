"""`title <new title>` through the real endpoint: the card, the timeline, the thread, the
answer where it was typed, and (in channel space) the incident's channel renamed."""

from __future__ import annotations

import re

from bot.incidents.event_kinds import TitleChanged
from bot.incidents.limits import MAX_TITLE
from bot.incidents.spaces import RenameChannel
from bot.store.incident_models import Incident, IncidentStatus, TimelineEvent
from bot.store.models import Job, JobStatus
from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, LINUS
from tests.fakes.connector import Call, FakeConnector
from tests.fakes.graph import TEAM_GROUP_ID, FakeGraph
from tests.scenario import Team, channel_team, eventually, thread_posts


def one_to_one(user: teams.User) -> str:
    return f"a:1on1-{user.id}"


async def in_chat(team: Team, text: str, *, sender: teams.User = ADA) -> None:
    status, _ = await team.bot.post(teams.personal_message(team.connector.url, text,
                                                           sender=sender))
    assert status == 200


def shown(call: Call) -> str:
    return re.sub(r"</?at>", "", call.text)


def sent_since(connector: FakeConnector, before: int, conversation: str) -> list[Call]:
    return [c for c in connector.calls[before:]
            if c.kind == "reply" and c.conversation_id == conversation]


async def titles(incident: Incident) -> list[TimelineEvent]:
    return await TimelineEvent.filter(incident_id=incident.id, kind="title").order_by("id")


async def thread_team(start_bot, sqlite_url: str, connector: FakeConnector) -> Team:
    team = Team(await start_bot(make_settings(sqlite_url)), connector)
    await team.say("setup")
    return team


async def test_title_renames_the_incident_in_its_thread(start_bot, sqlite_url, connector):
    team = await thread_team(start_bot, sqlite_url, connector)
    incident = await team.declare("db down sev2")
    await team.settle()
    before = len(connector.calls)

    await team.say("title Primary DB down in   eu-west", thread=incident)
    await team.settle()

    incident = await Incident.get(id=incident.id)
    assert incident.title == "Primary DB down in eu-west"
    said = "Ada Lovelace renamed INC-1: db down → Primary DB down in eu-west"
    assert [shown(c) for c in sent_since(connector, before, incident.thread_id)] == [said]
    [event] = await titles(incident)
    assert event.text == said and event.actor_id == ADA.id
    assert TitleChanged.from_json(event.data or {}) == TitleChanged(
        "db down", "Primary DB down in eu-west")
    [card] = [u for u in connector.calls[before:] if u.kind == "update"
              and u.activity_id == incident.card_activity_id]
    assert "Primary DB down in eu-west" in card.text and "db down" not in card.text


async def test_title_from_a_one_to_one_is_answered_there_and_said_once_in_the_thread(
    start_bot, sqlite_url, connector
):
    team = await thread_team(start_bot, sqlite_url, connector)
    incident = await team.declare("db down sev2")
    await team.settle()
    before = len(connector.calls)

    await in_chat(team, "title INC-1 Replica lag after the 09:00 deploy")
    await team.settle()

    said = "Ada Lovelace renamed INC-1: db down → Replica lag after the 09:00 deploy"
    [mine] = sent_since(connector, before, one_to_one(ADA))
    assert shown(mine).startswith(said)
    assert "/l/message/" in mine.markup and str(incident.card_activity_id) in mine.markup
    assert [shown(c) for c in sent_since(connector, before, incident.thread_id)] == [said]
    assert (await Incident.get(id=incident.id)).title == "Replica lag after the 09:00 deploy"


async def test_a_long_title_is_clipped_like_a_declared_one(start_bot, sqlite_url, connector):
    team = await thread_team(start_bot, sqlite_url, connector)
    incident = await team.declare("db down sev2")

    await team.say("title " + "payments " * 40, thread=incident)

    renamed = await eventually(lambda: _titled(incident, "payments"))
    assert len(renamed.title) == MAX_TITLE and renamed.title.endswith("…")


async def _titled(incident: Incident, start: str) -> Incident | None:
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.title.startswith(start) else None


async def test_what_title_refuses_is_said_and_changes_nothing(start_bot, sqlite_url,
                                                              connector):
    team = await thread_team(start_bot, sqlite_url, connector)
    incident = await team.declare("db down sev2")

    await team.say("title", thread=incident)
    await eventually(lambda: _replied(connector, "Usage: `@incident title <new title>`"))
    await team.say("title db down", thread=incident)
    await eventually(lambda: _replied(connector, "INC-1 is already titled 'db down'."))
    await team.say("title hijacked", sender=LINUS, thread=incident)
    refused = await eventually(lambda: _replied(connector, "Only the people working INC-1"))
    assert "change the title" in refused.text
    await Incident.filter(id=incident.id).update(status=IncidentStatus.CLOSED)
    await in_chat(team, "title INC-1 too late")
    await eventually(lambda: _replied(connector, "INC-1 is closed; its timeline is final."))

    assert (await Incident.get(id=incident.id)).title == "db down"
    assert await titles(incident) == []


async def _replied(connector: FakeConnector, fragment: str) -> Call | None:
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


async def test_in_channel_space_title_renames_the_channel(start_bot, sqlite_url, graph,
                                                          connector):
    team = await channel_team(start_bot, sqlite_url, graph, connector)
    incident = await team.declare("db down sev2")
    [channel] = graph.team_channels()
    assert channel["displayName"] == "inc-1-db-down"

    await team.say("title Primary DB: failover!", thread=incident)

    await eventually(lambda: _named(graph, "inc-1-primary-db-failover"))
    [patch] = [r for r in graph.channel_requests if r.method == "PATCH"]
    assert patch.path == f"/v1.0/teams/{TEAM_GROUP_ID}/channels/{channel['id']}"
    assert patch.body == {"displayName": "inc-1-primary-db-failover"}
    incident = await eventually(lambda: _space_named(incident, "inc-1-primary-db-failover"))
    events = [e.text for e in await TimelineEvent.filter(incident_id=incident.id)
              .order_by("id")]
    assert events[-2:] == ["Ada Lovelace renamed INC-1: db down → Primary DB: failover!",
                           "Channel renamed to inc-1-primary-db-failover."]
    await team.settle()
    posts = thread_posts(connector, incident)
    assert any("renamed INC-1" in p.text for p in posts)
    assert all(p.conversation_id.startswith(channel["id"]) for p in posts)


async def test_a_pattern_without_the_title_keeps_the_channel_name(start_bot, sqlite_url,
                                                                  graph, connector):
    team = await channel_team(start_bot, sqlite_url, graph, connector,
                              pattern="inc-{number}-{sev}")
    incident = await team.declare("db down sev2")

    await team.say("title Primary DB failover", thread=incident)
    await eventually(lambda: _titled(incident, "Primary DB failover"))
    await eventually(lambda: _rename_jobs_finished())

    assert [r for r in graph.channel_requests if r.method == "PATCH"] == []
    assert [c["displayName"] for c in graph.team_channels()] == ["inc-1-sev2"]
    assert (await Job.filter(kind=RenameChannel.KIND).count()) == 1  # it ran, and renamed nothing


async def _rename_jobs_finished() -> bool:
    jobs = await Job.filter(kind=RenameChannel.KIND)
    return bool(jobs) and all(j.status == JobStatus.DONE for j in jobs)


async def _named(graph: FakeGraph, name: str) -> bool:
    return any(c["displayName"] == name for c in graph.team_channels())


async def _space_named(incident: Incident, name: str) -> Incident | None:
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.space_name == name else None
