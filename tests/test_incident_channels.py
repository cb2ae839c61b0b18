"""A channel per incident (`setup space channel`, docs/incident-channels.md): the real bot
against the loopback Bot Connector and a loopback Microsoft Graph."""

from __future__ import annotations

from bot.incidents import spaces
from bot.incidents.spaces import ArchiveChannel, OpenChannel
from bot.store.incident_models import Incident, TeamSettings
from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.connector import Call, FakeConnector
from tests.fakes.graph import TEAM_GROUP_ID, FakeGraph
from tests.scenario import (
    GRAPH_SECRET,
    Team,
    channel_settings,
    channel_team,
    eventually,
    thread_posts,
)

FORBIDDEN = set("~#%&*{}+/\\:<>?|'\";")


def announcements(connector: FakeConnector) -> list[Call]:
    """New posts the bot started in the incidents channel, other than incident threads."""
    return [c for c in connector.of_kind("create_conversation")
            if c.body["channelData"]["channel"]["id"] == teams.CHANNEL_ID
            and not c.body["activity"].get("attachments")]


def thread_starts(connector: FakeConnector, channel_id: str) -> list[Call]:
    return [c for c in connector.of_kind("create_conversation")
            if c.body["channelData"]["channel"]["id"] == channel_id
            and c.body["activity"].get("attachments")]


async def test_declaring_makes_a_channel_whose_first_post_is_the_card(
    start_bot, sqlite_url, graph, connector
):
    team = await channel_team(start_bot, sqlite_url, graph, connector)

    incident = await team.declare("Checkout API 502 sev2")

    [channel] = graph.team_channels()
    assert channel["displayName"] == "inc-1-checkout-api-502"
    assert channel["membershipType"] == "standard"
    assert incident.channel_id == channel["id"]
    assert incident.thread_id.startswith(channel["id"] + ";messageid=")
    [create] = [r for r in graph.channel_requests if r.method == "POST"]
    assert create.path == f"/v1.0/teams/{TEAM_GROUP_ID}/channels"
    assert create.body["membershipType"] == "standard"
    [start] = thread_starts(connector, channel["id"])
    assert "INC-1" in start.text and "Checkout API 502" in start.text
    assert thread_starts(connector, teams.CHANNEL_ID) == []
    await team.settle()
    [announcement] = announcements(connector)
    assert "INC-1 SEV2: Checkout API 502" in announcement.text
    assert f"[inc-1-checkout-api-502]({channel['webUrl']})" in announcement.markup
    assert GRAPH_SECRET not in str([c.body for c in connector.calls])


async def test_later_posts_go_to_the_incident_channel(start_bot, sqlite_url, graph,
                                                      connector):
    team = await channel_team(start_bot, sqlite_url, graph, connector)
    await team.settle()
    before = len(connector.calls)  # the setup answers
    incident = await team.declare("db down sev2", mentions=(teams.GRACE,))
    await team.settle()
    [channel] = graph.team_channels()

    await team.say("note replica lag 40 s", thread=incident)
    await team.say("update failover in progress", thread=incident)
    await team.settle()

    posts = thread_posts(connector, incident)
    assert posts, "nothing was posted in the incident's channel"
    assert all(p.conversation_id.startswith(channel["id"]) for p in posts)
    in_incidents_channel = [c for c in connector.calls[before:] if c.kind == "reply"
                            and (c.conversation_id or "").startswith(teams.CHANNEL_ID)]
    # Only the declare command's own answer is where it was typed.
    assert all("Declared INC-1" in c.text for c in in_incidents_channel)
    assert any("Commander" in p.text for p in posts)  # the role card asked there
    assert any("Noted" in c.text for c in connector.of_kind("reply")
               if c.conversation_id == incident.thread_id)
    assert any("failover in progress" in p.text for p in posts)
    updates = team.card_updates()
    assert updates and all(u.conversation_id.startswith(channel["id"]) for u in updates)
    assert len(announcements(connector)) == 1


async def test_a_new_post_in_the_incident_channel_is_about_that_incident(
    start_bot, sqlite_url, graph, connector
):
    team = await channel_team(start_bot, sqlite_url, graph, connector)
    incident = await team.declare("db down sev2")
    await team.declare("search down sev3")  # Ada works on two: a number would be needed

    await team.say("note replica lag 40 s", channel=incident.channel_id)

    await eventually(lambda: _reply(connector, "Noted on INC-1"))


async def test_sev_renames_the_channel_when_its_pattern_names_the_severity(
    start_bot, sqlite_url, graph, connector
):
    team = await channel_team(start_bot, sqlite_url, graph, connector,
                              pattern="inc-{number}-{sev}-{title-slug}")
    incident = await team.declare("search slow sev3")
    [channel] = graph.team_channels()
    assert channel["displayName"] == "inc-1-sev3-search-slow"

    await team.say("sev sev1", thread=incident)

    await eventually(lambda: _named(graph, "inc-1-sev1-search-slow"))
    [patch] = [r for r in graph.channel_requests if r.method == "PATCH"]
    assert patch.path == f"/v1.0/teams/{TEAM_GROUP_ID}/channels/{channel['id']}"
    assert patch.body == {"displayName": "inc-1-sev1-search-slow"}
    # The name is stored once Graph has answered, in the job's own transaction after
    # the PATCH: the fake has seen the request a moment before that commits.
    await eventually(lambda: _stored_name(incident.id, "inc-1-sev1-search-slow"))


async def _stored_name(incident_id: int, name: str) -> bool:
    return (await Incident.get(id=incident_id)).space_name == name


async def _named(graph: FakeGraph, name: str) -> bool:
    return any(c["displayName"] == name for c in graph.team_channels())


async def test_close_archives_the_channel_after_the_closing_posts(
    start_bot, sqlite_url, graph, connector
):
    team = await channel_team(start_bot, sqlite_url, graph, connector)
    incident = await team.declare("db down sev3")
    # Ada takes command (as if she had pressed "Be the Commander" on the card).
    await Incident.filter(id=incident.id).update(commander_id=teams.ADA.id,
                                                 commander_name=teams.ADA.name)
    await team.say("resolved", thread=incident)
    await team.say("review waive nothing to learn", thread=incident)

    await team.say("close", thread=incident)
    await team.settle()
    assert not graph.team_channels()[0]["archived"]  # the closing posts go first
    await team.fire_timers(ArchiveChannel.KIND)

    await eventually(lambda: _archived(graph))
    [archive] = [r for r in graph.channel_requests if r.path.endswith("/archive")]
    assert archive.path == (f"/v1.0/teams/{TEAM_GROUP_ID}/channels/"
                            f"{incident.channel_id}/archive")
    assert (await Incident.get(id=incident.id)).space_state == "archived"


async def _archived(graph: FakeGraph) -> bool:
    return graph.team_channels()[0]["archived"]


async def test_without_the_permission_the_incident_gets_a_thread_saying_why(
    start_bot, sqlite_url, graph, connector
):
    graph.channels_forbidden = True
    team = await channel_team(start_bot, sqlite_url, graph, connector)

    incident = await team.declare("db down sev2")

    assert incident.channel_id == teams.CHANNEL_ID
    assert thread_starts(connector, teams.CHANNEL_ID)
    assert [r.status for r in graph.channel_requests] == [403]  # not retried
    await team.settle()
    [why] = [p for p in thread_posts(connector, incident) if "channel of its own" in p.text]
    assert "Channel.Create" in why.text
    assert "This thread in the incidents channel is its place instead" in why.text
    assert "Traceback" not in why.text
    assert announcements(connector) == []


async def test_a_throttled_create_is_retried_and_makes_one_channel(
    start_bot, sqlite_url, graph, connector
):
    graph.fail_channels(429, retry_after="1")
    team = await channel_team(start_bot, sqlite_url, graph, connector)
    await team.say("declare db down sev2")

    async def opened() -> Incident | None:
        await team.fire_timers(OpenChannel.KIND)
        return await Incident.filter(space_state="open", thread_id__isnull=False).first()

    incident = await eventually(opened)
    assert [r.status for r in graph.channel_requests if r.method == "POST"] == [429, 201]
    assert len(graph.team_channels()) == 1
    assert incident.channel_id == graph.team_channels()[0]["id"]


async def test_a_hostile_title_gives_a_name_within_teams_rules(start_bot, sqlite_url, graph,
                                                               connector):
    team = await channel_team(start_bot, sqlite_url, graph, connector,
                              pattern="_.inc #{number}: {title-slug}")

    await team.declare('..<script>&"db"; 50% ~down~ {now} | a/b\\c: why? #1 sev2')

    [channel] = graph.team_channels()
    name = channel["displayName"]
    assert not FORBIDDEN & set(name)
    assert not name.startswith(("_", "."))
    assert name == "inc 1 script-db-50-down-now-a-b-c-why-1"


async def test_a_200_character_title_gives_a_50_character_name(start_bot, sqlite_url, graph,
                                                              connector):
    team = await channel_team(start_bot, sqlite_url, graph, connector)

    await team.declare("payments " * 22 + "sev2")

    [channel] = graph.team_channels()
    assert len(channel["displayName"]) <= 50
    assert channel["displayName"].startswith("inc-1-payments-payments")
    assert not channel["displayName"].endswith("-")


async def test_a_name_the_team_has_already_gets_a_number(start_bot, sqlite_url, graph,
                                                         connector):
    graph.channels.setdefault(TEAM_GROUP_ID, {})["19:old@thread.tacv2"] = {
        "id": "19:old@thread.tacv2", "displayName": "INC-1-db-down", "archived": True,
        "membershipType": "standard"}
    team = await channel_team(start_bot, sqlite_url, graph, connector)

    incident = await team.declare("db down sev2")

    names = [c["displayName"] for c in graph.team_channels()]
    assert names == ["INC-1-db-down", "inc-1-db-down-2"]
    assert [r.status for r in graph.channel_requests if r.method == "POST"] == [409, 201]
    assert incident.space_name == "inc-1-db-down-2"


async def test_admins_are_warned_once_near_the_channel_limit(start_bot, sqlite_url, graph,
                                                             connector):
    graph.add_channels(spaces.WARN_AT - 1)
    team = await channel_team(start_bot, sqlite_url, graph, connector)

    await team.declare("db down sev2")
    await team.declare("search down sev2")
    await team.settle()

    warnings = [c for c in announcements(connector) if "Admins:" in c.text]
    assert len(warnings) == 1
    assert f"this team has {spaces.WARN_AT} channels" in warnings[0].text
    assert "1,000" in warnings[0].text


async def test_at_the_channel_limit_the_incident_gets_a_thread_saying_why(
    start_bot, sqlite_url, graph, connector
):
    graph.add_channels(graph.channel_limit)
    team = await channel_team(start_bot, sqlite_url, graph, connector)

    incident = await team.declare("db down sev2")

    assert incident.channel_id == teams.CHANNEL_ID
    await team.settle()
    [why] = [p for p in thread_posts(connector, incident) if "channel of its own" in p.text]
    assert "maximum of 1000 channels" in why.text


async def test_setup_space_channel_without_graph_says_what_is_missing(
    start_bot, sqlite_url, connector
):
    team = Team(await start_bot(make_settings(sqlite_url)), connector)
    await team.say("setup")

    await team.say("setup space channel")

    answer = await eventually(lambda: _reply(connector, "Microsoft Graph app"))
    assert "GRAPH_CLIENT_ID" in answer.text and "Channel.Create" in answer.text
    assert not await TeamSettings.filter(space="channel").exists()


async def test_setup_space_channel_without_the_group_id_says_so(start_bot, sqlite_url, graph,
                                                                connector):
    bot = await start_bot(channel_settings(sqlite_url, graph))
    message = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} setup space "
                                    "channel")
    del message["channelData"]["team"]["aadGroupId"]

    status, _ = await bot.post(message)

    assert status == 200
    answer = await eventually(lambda: _reply(connector, "aadGroupId"))
    assert "group id" in answer.text
    assert not await TeamSettings.filter(space="channel").exists()


async def test_thread_space_is_the_default_and_makes_no_channel(start_bot, sqlite_url, graph,
                                                               connector):
    team = Team(await start_bot(channel_settings(sqlite_url, graph)), connector)
    await team.say("setup")

    incident = await team.declare("db down sev2")

    assert incident.channel_id == teams.CHANNEL_ID
    assert incident.space_state is None
    assert graph.channel_requests == []
    await team.settle()
    assert announcements(connector) == []


async def test_setup_space_thread_goes_back_to_threads(start_bot, sqlite_url, graph,
                                                       connector):
    team = await channel_team(start_bot, sqlite_url, graph, connector)
    await team.say("setup space thread")
    await eventually(lambda: _thread_space())

    incident = await team.declare("db down sev2")

    assert incident.channel_id == teams.CHANNEL_ID
    assert graph.channel_requests == []


async def _thread_space() -> bool:
    return await TeamSettings.filter(space="thread").exists()


async def _reply(connector: FakeConnector, fragment: str) -> Call | None:
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


def test_names_follow_teams_rules() -> None:
    incident = Incident(number=7, title="Ünïcode ☃ outage", severity=1)

    assert spaces.channel_name(None, incident) == "inc-7-ünïcode-outage"
    assert spaces.channel_name("{title-slug}", Incident(number=7, title="???", severity=1)) \
        == "inc-7"
    assert spaces.channel_name(None, incident, attempt=3).endswith("-3")
    long = Incident(number=12345, title="x" * 200, severity=1)
    assert len(spaces.channel_name(None, long, attempt=5)) == 50


