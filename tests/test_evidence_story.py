"""Issue 19's story, end to end: evidence that records itself and a room that shows who is
in it. Two people chat in the incident's thread without mentioning the bot, one edits and
one deletes; the Investigator joins the Zoom room (a signed webhook) and the card shows
it; the Commander moves the room to Google Meet, where a participant appears through the
Meet API; the Investigator never joins the new room and the Commander is told privately.
The timeline and the review show exactly that. The real bot, the loopback Bot Connector,
Zoom (API and signed webhooks) and Google (the real google-api-python-client)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.incidents import review_links
from bot.incidents.attendance import CheckInvestigatorJoined, PollMeet
from bot.store.incident_models import Incident
from bot.store.models import Job
from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS
from tests.fakes.google import FakeGoogle, ServiceAccount, write_service_account
from tests.fakes.zoom import FakeZoom, ZoomWebhooks
from tests.scenario import Team, eventually, timeline_texts

SECRET = "zoomWebhookSecret-story-" + "k9" * 6


@pytest.fixture
def account(google: FakeGoogle, tmp_path: Path) -> ServiceAccount:
    written = write_service_account(tmp_path, google.token_uri)
    google.public_key = written.public_key
    return written




async def _room(incident: Incident, provider: str) -> Incident | None:
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.room_provider == provider and fresh.room_meeting_id else None


async def _page(team: Team, incident: Incident, fmt: str) -> str:
    path = await review_links.link("", incident.id, fmt=fmt, expires=int(time.time()) + 600)
    async with team.bot.session.get(team.bot.server.make_url(path)) as resp:
        assert resp.status == 200
        return await resp.text()


async def test_the_conversation_and_the_room_record_themselves(
    start_bot, database_url, connector, zoom: FakeZoom, google: FakeGoogle,
    account: ServiceAccount
):
    settings = make_settings(
        database_url, capture_conversation=True,
        zoom_account_id=zoom.account_id, zoom_client_id=zoom.client_id,
        zoom_client_secret=zoom.client_secret, zoom_api_base_url=zoom.api_url,
        zoom_oauth_url=zoom.oauth_url, zoom_webhook_secret_token=SECRET,
        google_service_account_file=str(account.path),
        google_delegated_user="oncall@example.com", google_api_endpoint=google.url,
        video_provider="zoom", video_timeout_s=5.0)
    team = Team(await start_bot(settings), connector)
    await team.say("setup")
    incident = await team.declare("Checkout latency sev2 @Ada @Grace", mentions=(ADA, GRACE))
    handover = await team.latest_handover()
    await team.press("handover.accept", {"handoverId": handover.id, "incidentId": incident.id},
                     sender=GRACE)
    incident = await eventually(lambda: _room(incident, "zoom"))
    await team.settle()
    asked_before = len(connector.calls)

    # Two people talk in the thread without mentioning the bot; one edits, one deletes.
    def said(text: str, sender: teams.User) -> dict:
        return teams.chat_message(connector.url, text, sender=sender,
                                  root_id=incident.card_activity_id)
    grace = said("p99 is 4.2 s since the 14:02 deploy", GRACE)
    linus = said("rolling back checkout-api to 1.41", LINUS)
    for activity in (grace, linus, teams.message_update(linus, "rolled back checkout-api "
                                                               "to 1.41, p99 at 900 ms"),
                     teams.message_delete(grace)):
        status, body = await team.bot.post(activity)
        assert (status, body) == (200, None)
    await team.settle()
    chatter = [c for c in connector.calls[asked_before:] if c.kind in ("reply", "send")]
    assert chatter == [], "the bot answered people talking among themselves"
    assert await timeline_texts(incident, "chat") == [
        "message deleted by its author",
        "rolled back checkout-api to 1.41, p99 at 900 ms"]

    # The Investigator joins the Zoom room: Zoom's signed webhook, and the card shows it.
    hooks = ZoomWebhooks(SECRET)
    headers, body = hooks.signed(hooks.participant(
        "joined", zoom.meetings[-1], name="Ada Lovelace",
        at=datetime.now(UTC) - timedelta(minutes=2)))
    async with team.bot.session.post(team.bot.server.make_url("/api/zoom/events"),
                                     data=body, headers=headers) as resp:
        assert resp.status == 200
    await team.settle()
    assert "In the room: Investigator Ada Lovelace" in team.live_card()

    # The Commander moves the room to Meet; someone joins it, seen through the Meet API.
    await team.say("room meet", sender=GRACE, thread=incident)
    incident = await eventually(lambda: _room(incident, "meet"))
    google.join("Linus T", at=datetime.now(UTC) - timedelta(minutes=1))
    await team.fire_timers(PollMeet.KIND)
    await eventually(lambda: timeline_texts(incident, "room_joined"), timeout=10)
    await eventually(lambda: Job.filter(kind=PollMeet.KIND, status="done").exists())
    await team.settle()
    assert "In the room: Linus T" in team.live_card()
    assert "Ada Lovelace" not in team.live_card().split("In the room:")[1].split("\n")[0]

    # The Investigator never joins the new room: the Commander is told privately.
    await team.fire_timers(CheckInvestigatorJoined.KIND)
    await eventually(lambda: timeline_texts(incident, "room_not_joined"))
    await team.settle()
    nudges = [c for c in connector.calls if c.kind in ("send", "reply")
              and (c.conversation_id or "") == f"a:1on1-{GRACE.id}"
              and "Ada Lovelace (Investigator) has not joined" in c.text]
    assert nudges, "the Commander was not told privately"

    # The timeline and the review show exactly that.
    assert await timeline_texts(incident, "room_joined") == [
        "Ada Lovelace (Investigator) joined the Incident Command Room.",
        "Linus T joined the Incident Command Room."]
    markdown = await _page(team, incident, "md")
    html = await _page(team, incident, "html")
    for page in (markdown, html):
        assert "rolled back checkout-api to 1.41, p99 at 900 ms" in page
        assert "message deleted by its author" in page
        assert "p99 is 4.2 s since the 14:02 deploy" not in page
        assert "rolling back checkout-api to 1.41" not in page  # the text before the edit
        assert "Ada Lovelace" in page and "Linus T" in page
    assert "Attendance" in markdown
