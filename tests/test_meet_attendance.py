"""Who is in a Google Meet Incident Command Room: the real google-api-python-client reads
the loopback Google's conference records (participants and their sessions, paged) while
the incident is open; joins and leaves reach the card, the timeline and the review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.incidents.attendance import CheckInvestigatorJoined, PollMeet
from bot.incidents.pir_builder import build_record
from bot.store.incident_models import Incident, RoomSession
from bot.store.models import Job
from bot.web.review_markdown import render_markdown
from tests.conftest import make_settings
from tests.fakes.google import MEET_SCOPE, FakeGoogle, ServiceAccount, write_service_account
from tests.scenario import Team, eventually, timeline_texts

SPACE = "spaces/jQCFfuBOdN5z"


@pytest.fixture
def account(google: FakeGoogle, tmp_path: Path) -> ServiceAccount:
    written = write_service_account(tmp_path, google.token_uri)
    google.public_key = written.public_key
    return written


async def _meet_team(start_bot: Any, url: str, google: FakeGoogle, account: ServiceAccount,
                     connector: Any, **extra: Any) -> tuple[Team, Incident]:
    settings = make_settings(url, video_provider="meet",
                             google_service_account_file=str(account.path),
                             google_delegated_user="oncall@example.com",
                             google_api_endpoint=google.url, video_timeout_s=5.0, **extra)
    team = Team(await start_bot(settings), connector)
    await team.say("setup")
    return team, await team.commanded()










async def test_a_meet_participant_appears_through_the_api(
    start_bot, sqlite_url, google, account, connector
):
    team, incident = await _meet_team(start_bot, sqlite_url, google, account, connector)
    assert incident.room_meeting_id == SPACE
    now = datetime.now(UTC).replace(microsecond=0)
    google.join("Ada Lovelace", at=now - timedelta(minutes=3))
    google.join("Sam Guest", at=now - timedelta(minutes=2), signed_in=False)
    google.join("Grace Hopper", at=now - timedelta(minutes=1))  # three: two pages

    await team.run_job(PollMeet.KIND)

    card = team.live_card()
    assert "In the room: Investigator Ada Lovelace, Commander Grace Hopper, Sam Guest" in card
    assert await timeline_texts(incident, "room_joined") == [
        "Ada Lovelace (Investigator) joined the Incident Command Room.",
        "Sam Guest joined the Incident Command Room.",
        "Grace Hopper (Commander) joined the Incident Command Room."]
    reads = [r for r in google.calls("records") if r.path.endswith("/participants")]
    assert [r.query.get("pageToken") for r in reads] == [None, "2"]
    [listing] = [r for r in google.calls("records") if r.path == "/v2/conferenceRecords"]
    assert listing.query["filter"] == f'space.name = "{SPACE}"'
    assert all(MEET_SCOPE in g.scopes for g in google.grants)


async def test_leaves_are_recorded_once_and_polling_goes_on(
    start_bot, sqlite_url, google, account, connector
):
    team, incident = await _meet_team(start_bot, sqlite_url, google, account, connector)
    now = datetime.now(UTC).replace(microsecond=0)
    session = google.join("Ada Lovelace", at=now - timedelta(minutes=30))
    await team.run_job(PollMeet.KIND)
    google.leave(session, at=now - timedelta(minutes=5))

    await team.run_job(PollMeet.KIND)
    await team.run_job(PollMeet.KIND)  # the same report again changes nothing

    assert await timeline_texts(incident, "room_left") == [
        "Ada Lovelace (Investigator) left the Incident Command Room after 25 min."]
    assert await RoomSession.filter(incident_id=incident.id).count() == 1
    assert "Nobody in the room now" in team.live_card()
    assert await Job.filter(kind=PollMeet.KIND, status="pending").count() == 1
    review = render_markdown(await build_record(await Incident.get(id=incident.id)))
    assert "Ada Lovelace" in review and "25 min" in review


async def test_a_busy_google_waits_for_the_next_poll(
    start_bot, sqlite_url, google, account, connector
):
    team, incident = await _meet_team(start_bot, sqlite_url, google, account, connector)
    google.fail_next(429, endpoint="records", reason="RATE_LIMIT_EXCEEDED")
    google.join("Ada Lovelace", at=datetime.now(UTC) - timedelta(minutes=1))

    await team.run_job(PollMeet.KIND)
    assert await RoomSession.filter(incident_id=incident.id).count() == 0
    await team.run_job(PollMeet.KIND)

    assert await RoomSession.filter(incident_id=incident.id).count() == 1
    assert "In the room: Investigator Ada Lovelace" in team.live_card()


async def test_a_refusal_for_good_says_so_and_stops_following(
    start_bot, sqlite_url, google, account, connector
):
    team, incident = await _meet_team(start_bot, sqlite_url, google, account, connector)
    google.fail_next(403, endpoint="records")

    await team.run_job(PollMeet.KIND)

    [note] = await timeline_texts(incident, "room_not_joined")
    assert note.startswith("Attendance of the Incident Command Room is not available: "
                           "Google refused to read who is in the room (HTTP 403")
    assert any(note in c.text for c in connector.of_kind("reply"))
    assert (await Incident.get(id=incident.id)).room_meeting_id is None
    assert await Job.filter(kind=PollMeet.KIND, status="pending").count() == 0
    assert "In the room" not in team.live_card()


async def test_the_investigator_who_never_joins_a_meet_room_is_noticed(
    start_bot, sqlite_url, google, account, connector
):
    team, incident = await _meet_team(start_bot, sqlite_url, google, account, connector)
    google.join("Grace Hopper", at=datetime.now(UTC) - timedelta(minutes=1))
    await team.run_job(PollMeet.KIND)

    await team.fire_timers(CheckInvestigatorJoined.KIND)
    await eventually(lambda: timeline_texts(incident, "room_not_joined"))
    await team.settle()

    [note] = await timeline_texts(incident, "room_not_joined")
    assert "Ada Lovelace (Investigator) has not joined" in note
    private = [c for c in connector.calls if c.kind in ("send", "reply")
               and (c.conversation_id or "").startswith("a:")
               and "has not joined" in c.text]
    assert private, "the Commander was not told privately"


async def test_a_room_made_through_calendar_says_attendance_is_not_available(
    start_bot, sqlite_url, google, account, connector
):
    google.meet_api_enabled = False  # rooms come from Calendar events
    team, incident = await _meet_team(start_bot, sqlite_url, google, account, connector)

    await team.say("room", thread=incident)
    await team.settle()

    assert incident.room_meeting_id is None
    assert await Job.filter(kind=PollMeet.KIND).count() == 0
    assert any("Attendance is not available: this Google Meet room was made through "
               "Calendar" in c.text for c in connector.of_kind("reply"))
