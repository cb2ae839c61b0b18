"""Who attended a Teams meeting Incident Command Room: with TEAMS_ATTENDANCE on, the real
bot reads the loopback Graph's attendance reports (one per ended session, paged) while the
incident is open; joins and leaves reach the card (as who attended), the timeline and the
review, matched to the incident's people by Entra object id (docs/teams-meetings.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.errors import BridgeError
from bot.incidents.attendance import CheckInvestigatorJoined, PollMeet, PollTeams
from bot.incidents.pir_builder import build_record
from bot.store.incident_models import Incident, RoomSession
from bot.store.models import Job
from bot.web.review_markdown import render_markdown
from tests.fakes.activities import ADA, GRACE
from tests.fakes.graph import ARTIFACT_PERMISSION, Attendee, FakeGraph
from tests.scenario import Team, timeline_texts
from tests.test_video_teams import session, teams_bridge, teams_settings  # noqa: F401

NOW = datetime.now(UTC).replace(microsecond=0)


async def _teams_team(start_bot: Any, url: str, graph: FakeGraph, connector: Any,
                      **extra: Any) -> tuple[Team, Incident]:
    team = Team(await start_bot(teams_settings(url, graph, **extra)), connector)
    await team.say("setup")
    return team, await team.commanded()










def _meeting(graph: FakeGraph) -> str:
    [meeting] = graph.meetings
    return str(meeting["id"])


async def test_a_report_after_a_session_ends_puts_its_stays_on_the_record(
    start_bot, sqlite_url, graph, connector
):
    team, incident = await _teams_team(start_bot, sqlite_url, graph, connector,
                                       teams_attendance=True)
    assert incident.room_meeting_id and incident.room_meeting_id.startswith("teams:")
    await team.run_job(PollTeams.KIND)  # the session is going on: Graph has no report yet
    assert await RoomSession.filter(incident_id=incident.id).count() == 0
    assert "Attendance: Teams reports who attended after a session ends" in team.live_card()

    start = NOW - timedelta(minutes=40)
    graph.end_session(_meeting(graph), [
        # Teams' meeting name differs from the bot's: only the Entra id can match it.
        Attendee("Lovelace, Ada (Contoso)", ((start, start + timedelta(minutes=25)),),
                 entra_id=ADA.aad_object_id, email="ada@contoso.com"),
        Attendee("Sam Guest", ((start + timedelta(minutes=2), start + timedelta(minutes=10)),)),
        Attendee("Grace Hopper", ((start + timedelta(minutes=5), start + timedelta(minutes=9)),
                                  (start + timedelta(minutes=12), None)),
                 entra_id=GRACE.aad_object_id),
    ], started=start, ended=NOW - timedelta(minutes=5))
    await team.run_job(PollTeams.KIND)
    await team.run_job(PollTeams.KIND)  # the same report again changes nothing

    stays = await RoomSession.filter(incident_id=incident.id).order_by("joined_at")
    assert [(s.name, s.person_id) for s in stays] == [
        ("Lovelace, Ada (Contoso)", ADA.id), ("Sam Guest", None), ("Grace Hopper", GRACE.id),
        ("Grace Hopper", GRACE.id)]
    assert stays[-1].left_at is None  # Graph lacked the leave time
    joins = await timeline_texts(incident, "room_joined")
    assert len(joins) == 4
    assert joins[0].startswith('Ada Lovelace (Investigator) joined the Incident Command Room '
                               'as "Lovelace, Ada (Contoso)" at ')
    assert joins[0].endswith("(Teams attendance report).")
    assert joins[2].startswith("Grace Hopper (Commander) joined the Incident Command Room at ")
    leaves = await timeline_texts(incident, "room_left")
    assert [t.split(" at ")[0] for t in leaves] == [
        "Grace Hopper (Commander) left the Incident Command Room after 4 min",
        "Sam Guest left the Incident Command Room after 8 min",
        "Ada Lovelace (Investigator) left the Incident Command Room after 25 min"]
    card = team.live_card()
    assert "Attended the room: Investigator Ada Lovelace, Commander Grace Hopper, Sam Guest" \
        in card
    assert "In the room" not in card
    review = render_markdown(await build_record(await Incident.get(id=incident.id)))
    assert "Ada Lovelace" in review and "25 min" in review and "Sam Guest" in review
    records = [r.path for r in graph.attendance_requests if r.path.split("?")[0].endswith(
        "/attendanceRecords")]
    assert any("%24skiptoken=2" in p or "$skiptoken=2" in p for p in records)  # two pages


async def test_a_throttled_read_waits_for_the_next_poll(start_bot, sqlite_url, graph,
                                                       connector):
    team, incident = await _teams_team(start_bot, sqlite_url, graph, connector,
                                       teams_attendance=True)
    graph.end_session(_meeting(graph), [
        Attendee("Ada Lovelace", ((NOW - timedelta(minutes=9), NOW - timedelta(minutes=2)),),
                 entra_id=ADA.aad_object_id)],
        started=NOW - timedelta(minutes=9), ended=NOW - timedelta(minutes=2))
    graph.fail_attendance(429, retry_after="7")

    await team.run_job(PollTeams.KIND)
    assert await RoomSession.filter(incident_id=incident.id).count() == 0
    assert await Job.filter(kind=PollTeams.KIND, status="pending").count() == 1
    assert await timeline_texts(incident, "room_not_joined") == []
    await team.run_job(PollTeams.KIND)

    [stay] = await RoomSession.filter(incident_id=incident.id)
    assert stay.person_id == ADA.id
    assert [r.status for r in graph.attendance_requests][:2] == [429, 200]
    assert "Attended the room: Investigator Ada Lovelace" in team.live_card()


async def test_a_withheld_permission_says_so_once_naming_it_and_stops(
    start_bot, sqlite_url, graph, connector
):
    team, incident = await _teams_team(start_bot, sqlite_url, graph, connector,
                                       teams_attendance=True)
    graph.attendance_forbidden = True

    await team.run_job(PollTeams.KIND)

    [note] = await timeline_texts(incident, "room_not_joined")
    assert note.startswith("Attendance of the Incident Command Room is not available: "
                           "Microsoft Graph refused the Graph app")
    assert ARTIFACT_PERMISSION in note and "access policy" in note
    assert len([c for c in connector.of_kind("reply") if note in c.text]) == 1
    assert (await Incident.get(id=incident.id)).room_meeting_id is None
    assert await Job.filter(kind=PollTeams.KIND, status="pending").count() == 0
    assert "Attended the room" not in team.live_card()
    assert "Attendance:" not in team.live_card()


async def test_attendance_is_off_by_default_and_room_says_it_is_not_available(
    start_bot, sqlite_url, graph, connector
):
    team, incident = await _teams_team(start_bot, sqlite_url, graph, connector)

    await team.say("room", thread=incident)
    await team.settle()

    assert incident.room_provider == "teams" and incident.room_meeting_id is None
    assert await Job.filter(kind__in=[PollTeams.KIND, PollMeet.KIND]).count() == 0
    assert graph.attendance_requests == []
    assert any("Attendance is not available: Microsoft Teams rooms report who attended only "
               "with TEAMS_ATTENDANCE on" in c.text for c in connector.of_kind("reply"))
    assert "Attended the room" not in team.live_card()


async def test_a_followed_teams_room_says_attendance_comes_after_a_session_and_never_nudges(
    start_bot, sqlite_url, graph, connector
):
    team, incident = await _teams_team(start_bot, sqlite_url, graph, connector,
                                       teams_attendance=True)

    await team.say("room", thread=incident)
    await team.settle()

    assert any("Teams meetings report attendance only after a session ends" in c.text
               for c in connector.of_kind("reply"))
    # Nobody is reported while a session goes on: a join check would nudge falsely.
    assert await Job.filter(kind=CheckInvestigatorJoined.KIND).count() == 0
    assert await Job.filter(kind=PollTeams.KIND, status="pending").count() == 1


# --- the bridge ------------------------------------------------------------------------


async def test_the_bridge_reads_every_report_and_interval(graph: FakeGraph, session  # noqa: F811
                                                          ) -> None:
    bridge = teams_bridge(graph, session)
    room = await bridge.create_room(topic="INC-1: db", request_id="req-1")
    first, second = NOW - timedelta(hours=2), NOW - timedelta(minutes=30)
    graph.end_session(room.meeting_id, [Attendee("Ada", ((first, None),), entra_id="aad-ada")],
                      started=first, ended=first + timedelta(minutes=20))
    for _ in range(3):  # three more sessions: four reports, two pages of them
        graph.end_session(room.meeting_id, [], started=second, ended=second)
    # The newest has three guests' records (two pages), as Graph writes them.
    graph.attendance_reports[room.meeting_id][0]["attendanceRecords"] = [
        {"emailAddress": f"p{n}@contoso.com", "role": "Attendee", "totalAttendanceInSeconds": 60,
         "identity": {"id": None, "displayName": None, "tenantId": None},
         "attendanceIntervals": [{"joinDateTime": "2024-05-01T10:00:00.1234567Z",
                                  "leaveDateTime": "2024-05-01T10:01:00.0000000Z",
                                  "durationInSeconds": 60}]} for n in range(3)]

    stays = await bridge.attendance(room.meeting_id)
    again = await bridge.attendance(room.meeting_id)

    assert sorted(s.key for s in stays) == sorted(s.key for s in again)
    assert len({s.key for s in stays}) == 4
    [ada] = [s for s in stays if s.entra_id == "aad-ada"]
    assert (ada.name, ada.joined_at, ada.left_at) == ("Ada", first, None)
    guests = [s for s in stays if s.entra_id is None]
    assert sorted(s.name for s in guests) == ["p0@contoso.com", "p1@contoso.com",
                                               "p2@contoso.com"]
    assert guests[0].joined_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    reports = [r for r in graph.attendance_requests if r.path.split("?")[0].endswith(
        "/attendanceReports")]
    assert len(reports) == 2 * 2  # four reports, two a page, read twice


async def test_the_bridge_names_what_graph_refused(graph: FakeGraph, session  # noqa: F811
                                                   ) -> None:
    bridge = teams_bridge(graph, session)
    room = await bridge.create_room(topic="INC-1: db", request_id="req-1")

    graph.fail_attendance(503)
    with pytest.raises(BridgeError) as busy:
        await bridge.attendance(room.meeting_id)
    with pytest.raises(BridgeError) as unknown:
        await bridge.attendance("bm8tc3VjaC1tZWV0aW5n")
    graph.access_policy.clear()
    with pytest.raises(BridgeError) as no_policy:
        await bridge.attendance(room.meeting_id)

    assert busy.value.retryable is True
    assert unknown.value.retryable is False and "HTTP 404" in str(unknown.value)
    assert no_policy.value.retryable is False
    assert ARTIFACT_PERMISSION in str(no_policy.value)
    assert "no application access policy" in str(no_policy.value)
