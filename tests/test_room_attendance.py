"""Who is in the Incident Command Room: Zoom's signed webhooks through the real
`/api/zoom/events`, matched to the people working the incident, on the card, the timeline,
the review and in the Investigator's join check."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.incidents.attendance import CheckInvestigatorJoined, MatchByEmail
from bot.incidents.pir_builder import build_record
from bot.store.incident_models import (
    Commandeer,
    Incident,
    IncidentStatus,
    RoomSession,
    TimelineEvent,
)
from bot.store.models import Job
from bot.web.review_html import render_html
from bot.web.review_markdown import render_markdown
from tests.conftest import RunningBot, make_settings
from tests.fakes.activities import ADA, GRACE, LINUS
from tests.fakes.zoom import FakeZoom, ZoomWebhooks
from tests.scenario import Team, eventually, thread_posts, timeline_texts, with_room

SECRET = "zoomWebhookSecret-" + "x1Y2" * 4
HOSTILE = "<script>alert(1)</script> **bold** [x](http://evil) <at>Grace Hopper</at> | ~ #"


def _settings(url: str, zoom: FakeZoom, **extra: Any):
    values: dict[str, Any] = dict(
        zoom_account_id=zoom.account_id, zoom_client_id=zoom.client_id,
        zoom_client_secret=zoom.client_secret, zoom_api_base_url=zoom.api_url,
        zoom_oauth_url=zoom.oauth_url, video_timeout_s=2.0, zoom_webhook_secret_token=SECRET)
    values.update(extra)
    return make_settings(url, **values)


async def _post(bot: RunningBot, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    async with bot.session.post(bot.server.make_url("/api/zoom/events"), data=body,
                                headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def _send(bot: RunningBot, hooks: ZoomWebhooks, event: dict[str, Any],
                **signing: Any) -> tuple[int, Any]:
    return await _post(bot, *hooks.signed(event, **signing))








def _card_text(team: Team) -> str:
    return team.live_card()


async def _started(start_bot, url: str, zoom: FakeZoom, connector, **extra: Any
                   ) -> tuple[Team, Incident, dict[str, Any]]:
    team = Team(await start_bot(_settings(url, zoom, **extra)), connector)
    incident = await team.commanded()
    return team, incident, zoom.meetings[-1]


async def test_zoom_url_validation_is_answered_with_the_hmac_of_the_plain_token(
        start_bot, sqlite_url, zoom):
    bot = await start_bot(_settings(sqlite_url, zoom))
    hooks = ZoomWebhooks(SECRET)

    status, body = await _send(bot, hooks, hooks.url_validation("qgg8vlvZRS6UYooatFL8Aw"))

    assert status == 200
    expected = hmac.new(SECRET.encode(), b"qgg8vlvZRS6UYooatFL8Aw", hashlib.sha256).hexdigest()
    assert body == {"plainToken": "qgg8vlvZRS6UYooatFL8Aw", "encryptedToken": expected}
    # Signed with another secret, the same request proves nothing: refused.
    status, _ = await _send(bot, hooks, hooks.url_validation("qgg8"), secret="other")
    assert status == 401


async def test_a_bad_or_missing_signature_is_refused_and_records_nothing(
        start_bot, sqlite_url, zoom, connector):
    team, incident, meeting = await _started(start_bot, sqlite_url, zoom, connector)
    hooks = ZoomWebhooks(SECRET)
    join = hooks.participant("joined", meeting, name="Ada Lovelace")

    status, _ = await _send(team.bot, hooks, join, secret="not-the-secret")
    assert status == 401
    headers, body = hooks.signed(join)
    del headers["x-zm-signature"]
    assert (await _post(team.bot, headers, body))[0] == 401
    headers, body = hooks.signed(join)
    assert (await _post(team.bot, headers, body.replace(b"Ada", b"Eve")))[0] == 401  # tampered

    assert await RoomSession.all().count() == 0
    assert await timeline_texts(incident, "room_joined") == []
    # The same event, signed as Zoom signs it, is recorded: the refusals were the signature.
    assert (await _send(team.bot, hooks, join))[0] == 200
    assert await RoomSession.all().count() == 1


async def test_an_old_timestamp_is_a_replay_and_is_refused(start_bot, sqlite_url, zoom,
                                                          connector):
    team, incident, meeting = await _started(start_bot, sqlite_url, zoom, connector)
    hooks = ZoomWebhooks(SECRET)
    join = hooks.participant("joined", meeting, name="Ada Lovelace")

    status, _ = await _send(team.bot, hooks, join, timestamp=int(time.time()) - 6 * 60)

    assert status == 401
    assert await RoomSession.all().count() == 0
    assert (await _send(team.bot, hooks, join, timestamp=int(time.time()) - 60))[0] == 200


async def test_the_investigator_joining_shows_on_the_card_once_and_leaving_ends_the_stay(
        start_bot, database_url, zoom, connector):
    team, incident, meeting = await _started(start_bot, database_url, zoom, connector)
    assert "Nobody in the room yet" in _card_text(team)
    hooks = ZoomWebhooks(SECRET)
    joined_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=20)
    join = hooks.participant("joined", meeting, name="ada lovelace", at=joined_at)

    for _ in range(2):  # Zoom delivers again when it is unsure the first one arrived
        status, _ = await _send(team.bot, hooks, join)
        assert status == 200
    await _send(team.bot, hooks, hooks.participant("joined", meeting, name="Sam Guest",
                                                   key="p-guest"))
    await team.settle()

    assert "In the room: Investigator Ada Lovelace, Sam Guest" in _card_text(team)
    [stay] = await RoomSession.filter(person_id=ADA.id)
    assert stay.name == "ada lovelace" and stay.left_at is None
    assert await timeline_texts(incident, "room_joined") == [
        "Ada Lovelace (Investigator) joined the Incident Command Room.",
        "Sam Guest joined the Incident Command Room."]

    leave = hooks.participant("left", meeting, name="ada lovelace",
                              at=joined_at + timedelta(minutes=12))
    for _ in range(2):
        assert (await _send(team.bot, hooks, leave))[0] == 200
    await team.settle()

    assert "In the room: Sam Guest" in _card_text(team)
    assert "In the room: Investigator" not in _card_text(team)
    assert (await RoomSession.get(id=stay.id)).left_at == joined_at + timedelta(minutes=12)
    assert await timeline_texts(incident, "room_left") == [
        "Ada Lovelace (Investigator) left the Incident Command Room after 12 min."]


async def test_events_that_are_not_for_an_open_incidents_room_are_answered_and_ignored(
        start_bot, sqlite_url, zoom, connector):
    team, incident, meeting = await _started(start_bot, sqlite_url, zoom, connector)
    hooks = ZoomWebhooks(SECRET)

    other = {**meeting, "id": 99_999_999_999}
    assert (await _send(team.bot, hooks, hooks.participant("joined", other, name="X")))[0] == 200
    status, body = await _send(team.bot, hooks, {"event": "meeting.started", "payload": {}})
    assert (status, body) == (200, {"ignored": "meeting.started"})
    broken = b"{not json"
    headers, _ = hooks.signed({})
    mac = hmac.new(SECRET.encode(), f"v0:{headers['x-zm-request-timestamp']}:".encode() + broken,
                   hashlib.sha256).hexdigest()
    headers["x-zm-signature"] = f"v0={mac}"
    assert (await _post(team.bot, headers, broken))[0] == 400
    await Incident.filter(id=incident.id).update(status=IncidentStatus.CLOSED)
    assert (await _send(team.bot, hooks, hooks.participant("joined", meeting, name="Ada Lovelace"))
            )[0] == 200

    assert await RoomSession.all().count() == 0


async def test_without_the_secret_the_endpoint_is_not_there_and_the_card_says_nothing(
        start_bot, sqlite_url, zoom, connector):
    team, incident, meeting = await _started(start_bot, sqlite_url, zoom, connector,
                                             zoom_webhook_secret_token="")
    hooks = ZoomWebhooks(SECRET)

    status, _ = await _send(team.bot, hooks, hooks.participant("joined", meeting, name="Ada"))

    assert status == 404
    assert incident.room_meeting_id is None
    assert "in the room" not in _card_text(team).lower()
    assert not await Job.filter(kind=CheckInvestigatorJoined.KIND).exists()


async def test_a_jitsi_room_says_plainly_that_attendance_is_not_available(
        start_bot, sqlite_url, connector):
    team = Team(await start_bot(make_settings(sqlite_url, zoom_webhook_secret_token=SECRET)),
                connector)
    incident = await team.declare("search down")
    incident = await eventually(lambda: with_room(incident))
    await team.settle()

    assert incident.room_provider == "jitsi" and incident.room_meeting_id is None
    assert "in the room" not in _card_text(team).lower()
    await team.say("room", thread=incident)
    answer = await eventually(lambda: _reply_with(connector, "Incident Command Room (Jitsi)"))
    assert "Attendance is not available: Jitsi rooms do not report who joins them." in answer.text
    record = await build_record(await Incident.get(id=incident.id))
    assert "Attendance is not available: Jitsi rooms" in render_markdown(record)


async def _reply_with(connector, fragment: str):
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


async def test_the_review_lists_who_was_in_the_room_and_for_how_long_with_names_inert(
        start_bot, sqlite_url, zoom, connector):
    team, incident, meeting = await _started(start_bot, sqlite_url, zoom, connector)
    hooks = ZoomWebhooks(SECRET)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for name, key, minutes in (("Ada Lovelace", "p-ada", (0, 30)), (HOSTILE, "p-x", (5, 10)),
                               ("Ada Lovelace", "p-ada", (40, 55))):
        for event, at in (("joined", minutes[0]), ("left", minutes[1])):
            await _send(team.bot, hooks, hooks.participant(
                event, meeting, name=name, key=key, at=start + timedelta(minutes=at)))

    record = await build_record(await Incident.get(id=incident.id))
    html, markdown = render_html(record), render_markdown(record)

    assert "<h2>Attendance</h2>" in html and "## Attendance" in markdown
    assert ("<strong>Ada Lovelace</strong> — 45 min in total: 2026-03-02 09:00 UTC to "
            "2026-03-02 09:30 UTC; 2026-03-02 09:40 UTC to 2026-03-02 09:55 UTC") in html
    assert "not matched to a Teams person) — 5 min in total" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<at>" not in markdown and "\\<script\\>" in markdown and "\\*\\*bold\\*\\*" in markdown
    assert "[x](http" not in markdown


async def test_the_commander_is_told_privately_when_the_investigator_has_not_joined(
        start_bot, sqlite_url, zoom, connector):
    team, incident, meeting = await _started(start_bot, sqlite_url, zoom, connector,
                                             room_join_check=timedelta(minutes=7))
    job = await _join_check()
    room_made = (await TimelineEvent.get(incident_id=incident.id, kind="room")).at
    assert job.due_ms - int(room_made.timestamp() * 1000) in range(7 * 60_000 - 2000,
                                                                 7 * 60_000 + 2000)

    await team.fire_timers(CheckInvestigatorJoined.KIND)  # seven minutes pass
    nudge = await eventually(lambda: _sent_to(connector, GRACE, "has not joined"))

    assert nudge.text.startswith("INC-1: Ada Lovelace (Investigator) has not joined the "
                                 "Incident Command Room 7 min after it was made.")
    assert incident.room_url in nudge.text
    assert await timeline_texts(incident, "room_not_joined") == [
        "Ada Lovelace (Investigator) has not joined the Incident Command Room 7 min after it "
        "was made. The Commander was told privately."]
    assert not [c for c in thread_posts(connector, incident) if "has not joined" in c.text]


async def test_no_nudge_when_the_investigator_joined_in_time(start_bot, sqlite_url, zoom,
                                                           connector):
    team, incident, meeting = await _started(start_bot, sqlite_url, zoom, connector)
    hooks = ZoomWebhooks(SECRET)
    await _send(team.bot, hooks, hooks.participant("joined", meeting, name="Ada Lovelace"))
    await _send(team.bot, hooks, hooks.participant("left", meeting, name="Ada Lovelace"))

    await team.fire_timers(CheckInvestigatorJoined.KIND)
    await eventually(_join_check_done)
    await team.settle()

    assert await timeline_texts(incident, "room_not_joined") == []
    assert not [c for c in connector.of_kind("send") if "has not joined" in c.text]


async def _join_check():
    return await Job.get(kind=CheckInvestigatorJoined.KIND)


async def _join_check_done() -> bool:
    return (await _join_check()).status.value == "done"


async def _sent_to(connector, user, fragment: str):
    chats = {c.response["id"] for c in connector.of_kind("create_conversation")
             if c.body.get("members") == [{"id": user.id}]}
    found = [c for c in connector.of_kind("send")
             if c.conversation_id in chats and fragment in c.text]
    return found[-1] if found else None


async def test_a_commandeered_person_joining_shows_joined_the_room_on_their_request(
        start_bot, sqlite_url, zoom, connector):
    team, incident, meeting = await _started(start_bot, sqlite_url, zoom, connector)
    await team.say("commandeer @Linus knows the payment gateway", sender=GRACE,
                   mentions=(LINUS,), thread=incident)
    request = await eventually(lambda: Commandeer.get_or_none(incident_id=incident.id))
    await team.settle()
    hooks = ZoomWebhooks(SECRET)

    await _send(team.bot, hooks, hooks.participant("joined", meeting, name="Linus T"))
    post = await eventually(lambda: _thread_with(connector, incident, "Linus T joined"))

    assert post.text.startswith("Linus T joined the Incident Command Room (commandeered by "
                                "<at>Grace Hopper</at>)")
    assert (await Commandeer.get(id=request.id)).joined_room_at is not None
    card = await team.press("commandeer.join", {"commandeerId": request.id,
                                                "incidentId": incident.id},
                            sender=LINUS, conversation_id=f"a:1on1-{LINUS.id}")
    assert "You joined the room at" in str(card)
    record = await build_record(await Incident.get(id=incident.id))
    assert "; joined the room at " in render_markdown(record)


async def _thread_with(connector, incident: Incident, fragment: str):
    found = [c for c in thread_posts(connector, incident) if fragment in c.text]
    return found[-1] if found else None


async def test_a_participant_is_matched_by_the_email_teams_knows(start_bot, sqlite_url, zoom,
                                                                connector):
    team, incident, meeting = await _started(start_bot, sqlite_url, zoom, connector)
    connector.members[ADA.id] = {"id": ADA.id, "name": ADA.name, "email": "ada@example.com"}
    connector.members[GRACE.id] = {"id": GRACE.id, "name": GRACE.name,
                                   "userPrincipalName": "Grace@Example.com"}
    hooks = ZoomWebhooks(SECRET)

    await _send(team.bot, hooks, hooks.participant("joined", meeting, name="iPhone 15",
                                                   email="grace@example.com"))
    await team.fire_timers(MatchByEmail.KIND)
    stay = await eventually(lambda: RoomSession.get_or_none(person_id=GRACE.id))
    await team.settle()

    assert stay.person_name == "Grace Hopper"
    assert "In the room: Commander Grace Hopper" in _card_text(team)
