"""Teams meetings as the Incident Command Room: the bridge against a loopback Microsoft
Graph, and the real bot's room job making them (docs/teams-meetings.md)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import aiohttp
import pytest

from bot.config import Settings
from bot.errors import BridgeError
from bot.incidents.rooms import CreateRoom
from bot.store.incident_models import Incident
from integrations.graph_token import GraphToken
from integrations.video_factory import Graph, build_bridge
from tests.bot_process import SCRIPT, bot_env
from tests.conftest import make_settings
from tests.fakes.graph import ORGANIZER_ID, FakeGraph
from tests.scenario import Team, eventually, thread_posts

TOPIC = "INC-42: Checkout latency above 2 s"
SECRET = "graph-s3cret-value"


def graph_values(graph: FakeGraph, **overrides: Any) -> dict[str, Any]:
    base = graph.url.rstrip("/")
    return {"graph_client_id": "bot-graph-app", "graph_client_secret": SECRET,
            "graph_token_url": f"{base}/token", "graph_api_url": f"{base}/v1.0",
            "teams_meeting_organizer": ORGANIZER_ID, "video_timeout_s": 2.0, **overrides}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def teams_bridge(graph: FakeGraph, session: aiohttp.ClientSession, **overrides: Any) -> Any:
    settings = Settings(_env_file=None, **graph_values(graph, **overrides))
    token = GraphToken(session, token_url=settings.graph_token, client_id="bot-graph-app",
                       client_secret=SECRET)
    return build_bridge("teams", settings, graph=Graph(session, token))


# --- the bridge ------------------------------------------------------------------------


async def test_room_is_the_meeting_graph_created(graph: FakeGraph, session) -> None:
    room = await teams_bridge(graph, session).create_room(topic=TOPIC, request_id="req-1")

    [meeting] = graph.meetings
    assert room.provider == "teams"
    assert room.join_url == meeting["joinWebUrl"]
    assert room.join_url.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert room.meeting_id == meeting["id"]


async def test_meeting_request_is_create_or_get_for_the_organizer_with_the_request_id(
    graph: FakeGraph, session
) -> None:
    await teams_bridge(graph, session).create_room(topic=TOPIC, request_id="req-1")

    [call] = graph.meeting_requests
    assert (call.method, call.path) == (
        "POST", f"/v1.0/users/{ORGANIZER_ID}/onlineMeetings/createOrGet")
    assert call.headers["Authorization"] == "Bearer graph-1"
    assert call.body["subject"] == TOPIC
    assert call.body["externalId"] == "req-1"
    start = datetime.fromisoformat(call.body["startDateTime"])
    assert start.utcoffset() == timedelta(0)
    assert abs(time.time() - start.timestamp()) < 120


async def test_a_retry_of_the_same_request_gets_the_same_meeting(graph: FakeGraph,
                                                                 session) -> None:
    bridge = teams_bridge(graph, session)
    first = await bridge.create_room(topic=TOPIC, request_id="req-1")

    again = await bridge.create_room(topic=TOPIC, request_id="req-1")
    other = await bridge.create_room(topic=TOPIC, request_id="req-2")

    assert again.join_url == first.join_url
    assert other.join_url != first.join_url
    assert [r.status for r in graph.meeting_requests] == [201, 200, 201]
    assert len(graph.meetings) == 2


async def test_one_graph_token_serves_many_rooms_and_is_renewed_after_a_401(
    graph: FakeGraph, session
) -> None:
    bridge = teams_bridge(graph, session)
    await bridge.create_room(topic=TOPIC, request_id="req-1")
    await bridge.create_room(topic=TOPIC, request_id="req-2")
    assert graph.tokens_issued == 1

    bridge._token._token = "expired"  # what Graph no longer accepts: it answers 401
    await bridge.create_room(topic=TOPIC, request_id="req-3")

    assert [r.status for r in graph.meeting_requests] == [201, 201, 401, 201]
    assert graph.tokens_issued == 2


async def test_no_access_policy_for_the_organizer_is_not_retryable_and_says_what_to_grant(
    graph: FakeGraph, session
) -> None:
    graph.access_policy.clear()

    with pytest.raises(BridgeError) as caught:
        await teams_bridge(graph, session).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is False
    assert caught.value.provider == "teams"
    words = str(caught.value)
    assert "New-CsApplicationAccessPolicy" in words
    assert "Grant-CsApplicationAccessPolicy" in words
    assert ORGANIZER_ID in words and "bot-graph-app" in words
    assert [r.status for r in graph.meeting_requests] == [403]


async def test_a_missing_permission_is_not_retryable_and_names_it(graph: FakeGraph,
                                                                 session) -> None:
    graph.meetings_forbidden = True

    with pytest.raises(BridgeError) as caught:
        await teams_bridge(graph, session).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is False
    assert "OnlineMeetings.ReadWrite.All" in str(caught.value)
    assert "admin consent" in str(caught.value)
    assert "access policy" not in str(caught.value)


async def test_an_unknown_organizer_is_not_retryable(graph: FakeGraph, session) -> None:
    with pytest.raises(BridgeError) as caught:
        await teams_bridge(graph, session, teams_meeting_organizer=str(_other_id())
                           ).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is False
    assert "404" in str(caught.value) and "TEAMS_MEETING_ORGANIZER" in str(caught.value)


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_server_errors_are_retryable(graph: FakeGraph, session,
                                                          status: int) -> None:
    graph.fail_meetings(status, retry_after="7" if status == 429 else None)

    with pytest.raises(BridgeError) as caught:
        await teams_bridge(graph, session).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is True
    assert str(status) in str(caught.value)
    if status == 429:
        assert "retry after 7 s" in str(caught.value)
    assert graph.meetings == []


async def test_a_hung_graph_fails_retryably_within_the_timeout(graph: FakeGraph,
                                                               session) -> None:
    graph.hang_meetings(3)
    bridge = teams_bridge(graph, session, video_timeout_s=1.0)

    started = time.monotonic()
    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert time.monotonic() - started < 1.6
    assert caught.value.retryable is True


async def test_an_unreachable_graph_is_retryable(session) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(_env_file=None, graph_client_id="a", graph_client_secret="b",
                        graph_token_url=f"http://127.0.0.1:{port}/token",
                        graph_api_url=f"http://127.0.0.1:{port}/v1.0",
                        teams_meeting_organizer=ORGANIZER_ID)
    token = GraphToken(session, token_url=settings.graph_token, client_id="a",
                       client_secret="b")
    bridge = build_bridge("teams", settings, graph=Graph(session, token))

    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is True
    assert "could not be reached" in str(caught.value)


async def test_without_graph_the_bridge_is_not_built(graph: FakeGraph) -> None:
    with pytest.raises(BridgeError) as caught:
        build_bridge("teams", Settings(_env_file=None, **graph_values(graph)))

    assert caught.value.retryable is False
    assert "TEAMS_MEETING_ORGANIZER" in str(caught.value)


async def test_review_meeting_is_an_online_meeting_at_that_time_inviting_nobody(
    graph: FakeGraph, session
) -> None:
    at = datetime(2031, 6, 3, 9, 30, 0, 250_000, tzinfo=timezone(timedelta(hours=-4)))

    meeting = await teams_bridge(graph, session).schedule_meeting(
        topic="INC-42 Post Incident Review", starts_at=at, duration_min=45,
        attendees=["ic@example.com"], request_id="pir-42")

    [call] = graph.meeting_requests
    assert call.body["startDateTime"] == "2031-06-03T13:30:00+00:00"
    assert call.body["endDateTime"] == "2031-06-03T14:15:00+00:00"
    assert call.body["externalId"] == "pir-42"
    assert meeting.join_url == graph.meetings[0]["joinWebUrl"]
    assert meeting.starts_at == datetime(2031, 6, 3, 13, 30, tzinfo=UTC)
    assert meeting.invited == ()


# --- settings --------------------------------------------------------------------------


@pytest.mark.parametrize("chain", [{"video_provider": "teams"},
                                   {"video_provider": "zoom", "video_fallback": "teams,jitsi"}])
def test_teams_in_the_chain_without_graph_or_organizer_is_a_configuration_error(
    chain: dict[str, str]
) -> None:
    with pytest.raises(ValueError) as caught:
        make_settings("sqlite://x", graph_client_id="app", graph_client_secret="s",
                      graph_tenant_id="t", **chain)

    assert "missing: TEAMS_MEETING_ORGANIZER" in str(caught.value)
    named = "VIDEO_PROVIDER" if chain["video_provider"] == "teams" else "VIDEO_FALLBACK"
    assert f"{named} names teams" in str(caught.value)


def test_teams_attendance_without_teams_rooms_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="TEAMS_ATTENDANCE reads Teams meetings' attendance"):
        make_settings("sqlite://x", teams_attendance=True)


def test_the_organizer_must_be_an_object_id_not_a_sign_in_name() -> None:
    with pytest.raises(ValueError, match="is not an Entra object id"):
        make_settings("sqlite://x", teams_meeting_organizer="oncall@contoso.com")

    settings = make_settings("sqlite://x", video_provider="teams", graph_client_id="app",
                             graph_client_secret="s", graph_tenant_id="t",
                             teams_meeting_organizer=f" {ORGANIZER_ID} ")
    assert settings.video_chain == ["teams", "jitsi"]
    assert settings.teams_meeting_organizer == ORGANIZER_ID


def test_the_bot_refuses_to_start_with_teams_and_no_graph_saying_what_is_missing(tmp_path):
    result = subprocess.run(
        [SCRIPT, "run"], env=bot_env(f"sqlite://{tmp_path}/bot.sqlite3", VIDEO_PROVIDER="teams",
                                     GRAPH_CLIENT_ID="", GRAPH_CLIENT_SECRET="",
                                     GRAPH_TENANT_ID="", TEAMS_MEETING_ORGANIZER=""),
        cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "cannot start" in result.stderr
    assert "GRAPH_CLIENT_ID, GRAPH_CLIENT_SECRET, GRAPH_TENANT_ID, TEAMS_MEETING_ORGANIZER" \
        in result.stderr
    assert "docs/teams-meetings.md" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


# --- the real bot ----------------------------------------------------------------------


def teams_settings(url: str, graph: FakeGraph, **overrides: Any) -> Settings:
    return make_settings(url, **graph_values(graph, video_provider="teams", **overrides))


async def _room_of(incident: Incident) -> Incident | None:
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.room_url else None


async def test_a_declared_incident_gets_a_teams_meeting_on_its_card(start_bot, database_url,
                                                                   graph, connector):
    team = Team(await start_bot(teams_settings(database_url, graph)), connector)

    incident = await team.declare("Checkout latency sev2")

    incident = await eventually(lambda: _room_of(incident))
    [meeting] = graph.meetings
    assert incident.room_provider == "teams"
    assert incident.room_url == meeting["joinWebUrl"]
    [call] = graph.meeting_requests
    assert call.path == f"/v1.0/users/{ORGANIZER_ID}/onlineMeetings/createOrGet"
    assert call.headers["Authorization"].startswith("Bearer graph-")
    assert call.body["subject"] == "INC-1: Checkout latency"
    assert call.body["externalId"] == incident.room_request
    await team.settle()
    assert incident.room_url in team.card_updates()[-1].text
    [post] = [c for c in thread_posts(connector, incident) if incident.room_url in c.text]
    assert "Incident Command Room on Microsoft Teams" in post.text
    assert SECRET not in str([c.body for c in connector.calls])


async def test_without_the_access_policy_the_room_falls_back_to_jitsi_saying_what_to_grant(
    start_bot, sqlite_url, graph, connector
):
    graph.access_policy.clear()
    team = Team(await start_bot(teams_settings(sqlite_url, graph)), connector)

    incident = await team.declare("db down")

    incident = await eventually(lambda: _room_of(incident))
    assert incident.room_provider == "jitsi"
    assert [r.status for r in graph.meeting_requests] == [403]  # not retried
    await team.settle()
    [notice] = [c for c in thread_posts(connector, incident) if "Using Jitsi instead" in c.text]
    assert "Microsoft Teams could not create the Incident Command Room" in notice.text
    assert "Grant-CsApplicationAccessPolicy" in notice.text
    assert ORGANIZER_ID in notice.text
    assert SECRET not in str([c.body for c in connector.calls])


async def test_a_throttled_meeting_is_retried_and_made_once(start_bot, sqlite_url, graph,
                                                           connector):
    graph.fail_meetings(429, retry_after="1")
    team = Team(await start_bot(teams_settings(sqlite_url, graph)), connector)
    incident = await team.declare("db down")

    async def made() -> Incident | None:
        await team.fire_timers(CreateRoom.KIND)  # time passes: the retry becomes due
        return await _room_of(incident)

    incident = await eventually(made)
    assert incident.room_provider == "teams"
    assert [r.status for r in graph.meeting_requests] == [429, 201]
    assert len(graph.meetings) == 1
    assert incident.room_url == graph.meetings[0]["joinWebUrl"]


async def test_a_meeting_whose_answer_was_lost_is_found_again_not_made_twice(
    start_bot, sqlite_url, graph, connector
):
    graph.hang_meetings(1.5)  # Graph makes the meeting, but after the bot stopped waiting
    team = Team(await start_bot(teams_settings(sqlite_url, graph, video_timeout_s=1.0)),
                connector)
    incident = await team.declare("db down")
    await eventually(lambda: _async(len(graph.meetings) == 1))

    async def made() -> Incident | None:
        await team.fire_timers(CreateRoom.KIND)
        return await _room_of(incident)

    incident = await eventually(made)
    assert incident.room_provider == "teams"
    assert [r.status for r in graph.meeting_requests] == [201, 200]
    assert len(graph.meetings) == 1
    assert incident.room_url == graph.meetings[0]["joinWebUrl"]


async def test_room_teams_makes_a_teams_meeting_and_the_usage_lists_teams(
    start_bot, sqlite_url, graph, connector
):
    settings = make_settings(sqlite_url, **graph_values(graph))  # rooms on Jitsi by default
    team = Team(await start_bot(settings), connector)
    incident = await eventually(lambda: _room_of_declared(team))
    assert incident.room_provider == "jitsi"

    await team.say("room teams", thread=incident)

    newer = await eventually(lambda: _room_changed(incident))
    assert newer.room_provider == "teams"
    assert newer.room_url == graph.meetings[0]["joinWebUrl"]
    await team.say("room skype", thread=incident)
    usage = await eventually(lambda: _reply(connector, "room zoom|meet|teams|jitsi"))
    assert "Usage" in usage.text


async def _async(value: Any) -> Any:
    return value


async def _room_of_declared(team: Team) -> Incident | None:
    if not await Incident.exists():
        await team.declare("search down")
    return await _room_of(await Incident.all().order_by("-id").first())


async def _room_changed(incident: Incident) -> Incident | None:
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.room_url and fresh.room_url != incident.room_url else None


async def _reply(connector, fragment: str):
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


def _other_id() -> str:
    return "0f0f0f0f-1111-2222-3333-444444444444"
