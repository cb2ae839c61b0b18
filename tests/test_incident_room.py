"""The Incident Command Room, made in the background for every declared incident, with
the real zoomus and googleapiclient code talking to loopback Zoom and Google."""

from __future__ import annotations

import pytest

from bot.incidents.rooms import CreateRoom
from bot.store.incident_models import Incident
from tests.conftest import make_settings
from tests.fakes.activities import GRACE
from tests.fakes.google import write_service_account
from tests.fakes.zoom import FakeZoom
from tests.scenario import Team, eventually, thread_posts


def _zoom_settings(url: str, zoom: FakeZoom, **extra):
    return make_settings(url, zoom_account_id=zoom.account_id, zoom_client_id=zoom.client_id,
                         zoom_client_secret=zoom.client_secret, zoom_api_base_url=zoom.api_url,
                         zoom_oauth_url=zoom.oauth_url, video_timeout_s=2.0, **extra)


async def _room_of(incident: Incident) -> Incident | None:
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.room_url else None


async def test_a_declared_incident_gets_a_zoom_room_on_its_card(start_bot, database_url, zoom,
                                                                connector):
    team = Team(await start_bot(_zoom_settings(database_url, zoom)), connector)

    incident = await team.declare("Checkout latency sev2")

    incident = await eventually(lambda: _room_of(incident))
    assert incident.room_provider == "zoom"
    assert incident.room_url.startswith("https://") and "zoom" in incident.room_url
    [meeting] = zoom.calls("meetings")
    assert meeting.body["topic"] == "INC-1: Checkout latency"
    assert meeting.body["settings"]["join_before_host"] is True
    assert meeting.body["settings"]["waiting_room"] is False
    await team.settle()
    assert incident.room_url in team.card_updates()[-1].text
    post = [c for c in thread_posts(connector, incident) if "Incident Command Room" in c.text]
    assert incident.room_url in post[0].text


async def test_the_card_first_says_the_room_is_being_made(start_bot, sqlite_url, zoom,
                                                          connector):
    zoom.hang_next(1.5)
    team = Team(await start_bot(_zoom_settings(sqlite_url, zoom)), connector)

    await team.declare("db down")

    [create] = connector.of_kind("create_conversation")
    assert "Creating the Incident Command Room on Zoom" in create.text


async def test_a_meet_room_through_google_with_domain_wide_delegation(start_bot, sqlite_url,
                                                                     google, connector, tmp_path):
    account = write_service_account(tmp_path, google.token_uri)
    google.public_key = account.public_key
    settings = make_settings(sqlite_url, google_service_account_file=str(account.path),
                             google_delegated_user="ic@example.com",
                             google_api_endpoint=google.url)
    team = Team(await start_bot(settings), connector)

    incident = await eventually(lambda: _room_of_latest(team))

    assert incident.room_provider == "meet"
    assert incident.room_url == "https://meet.google.com/abc-mnop-xyz"
    assert google.grants[0].sub == "ic@example.com"


async def _room_of_latest(team: Team) -> Incident | None:
    if not await Incident.exists():
        await team.declare("search down")
    return await _room_of(await Incident.all().order_by("-id").first())


async def test_with_zoom_failing_every_try_the_incident_still_gets_a_jitsi_room(
    start_bot, sqlite_url, zoom, connector
):
    zoom.fail_next(500, times=10)
    team = Team(await start_bot(_zoom_settings(sqlite_url, zoom)), connector)
    incident = await team.declare("db down")

    async def fell_back() -> Incident | None:
        await team.fire_timers(CreateRoom.KIND)  # time passes: retries become due
        return await _room_of(incident)

    incident = await eventually(fell_back)
    assert incident.room_provider == "jitsi"
    assert len(zoom.calls("meetings")) == 3
    notice = [c for c in thread_posts(connector, incident) if "Using Jitsi instead" in c.text]
    assert "Zoom could not create the Incident Command Room" in notice[0].text
    assert zoom.client_secret not in str([c.body for c in connector.calls])


async def test_the_room_command_shows_the_link_and_makes_a_new_room(local_team_factory):
    team, connector = await local_team_factory()
    incident = await team.declare("db down")
    incident = await eventually(lambda: _room_of(incident))

    await team.say("room", thread=incident)
    shown = await eventually(lambda: _reply(connector, "Incident Command Room (Jitsi)"))
    assert incident.room_url in shown.text

    await team.say("room meet", thread=incident)
    failure = await eventually(lambda: _thread(connector, incident, "Google Meet could not"))
    assert "GOOGLE_SERVICE_ACCOUNT_FILE" in failure.text
    newer = await eventually(lambda: _room_changed(incident))
    assert newer.room_provider == "jitsi"

    await team.say("room zoom", sender=GRACE, thread=incident)
    await eventually(lambda: _reply(connector, "Only the people working INC-1"))


@pytest.fixture
def local_team_factory(start_bot, sqlite_url, connector):
    async def make():
        return Team(await start_bot(make_settings(sqlite_url)), connector), connector

    return make


async def _reply(connector, fragment: str):
    found = [c for c in connector.of_kind("reply") if fragment in c.text]
    return found[-1] if found else None


async def _thread(connector, incident: Incident, fragment: str):
    incident = await Incident.get(id=incident.id)
    found = [c for c in thread_posts(connector, incident) if fragment in c.text]
    return found[-1] if found else None


async def _room_changed(incident: Incident) -> Incident | None:
    fresh = await Incident.get(id=incident.id)
    return fresh if fresh.room_url and fresh.room_url != incident.room_url else None
