"""The Meet bridge runs the real google-api-python-client against a loopback Google."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jwt
import pytest

from bot.config import Settings
from bot.errors import BridgeError
from integrations.google_meet import MeetBridge
from integrations.video_factory import build_bridge
from tests.fakes.google import (
    ASSERTION_AUDIENCE,
    CALENDAR_SCOPE,
    JWT_BEARER,
    MEET_SCOPE,
    FakeGoogle,
    ServiceAccount,
    write_service_account,
)

TOPIC = "INC-42: Checkout latency above 2 s"
DELEGATE = "oncall@example.com"


@pytest.fixture
def account(google: FakeGoogle, tmp_path: Path) -> ServiceAccount:
    written = write_service_account(tmp_path, google.token_uri)
    google.public_key = written.public_key
    return written


def meet_settings(google: FakeGoogle, account: ServiceAccount, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "google_service_account_file": str(account.path),
        "google_delegated_user": DELEGATE,
        "google_api_endpoint": google.url,
        "video_timeout_s": 5.0,
        **overrides,
    }
    return Settings(_env_file=None, **values)


def meet_bridge(google: FakeGoogle, account: ServiceAccount, **overrides: Any) -> Any:
    return build_bridge("meet", meet_settings(google, account, **overrides))


async def test_room_is_the_meet_space_created(google: FakeGoogle, account: ServiceAccount) -> None:
    room = await meet_bridge(google, account).create_room(topic=TOPIC, request_id="req-1")

    assert room.provider == "meet"
    assert room.join_url == "https://meet.google.com/abc-mnop-xyz"
    assert room.passcode == "abc-mnop-xyz"
    assert room.meeting_id == "spaces/jQCFfuBOdN5z"
    [call] = google.calls("meet")
    assert (call.method, call.path, call.query) == ("POST", "/v2/spaces", {"alt": "json"})
    assert call.headers["Authorization"] == f"Bearer {google.grants[0].token}"


async def test_token_is_a_delegated_jwt_grant_for_the_meet_scope(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    await meet_bridge(google, account).create_room(topic=TOPIC, request_id="req-1")

    [token_call] = google.calls("token")
    assert token_call.body["grant_type"] == JWT_BEARER
    claims = jwt.decode(token_call.body["assertion"], options={"verify_signature": False})
    assert claims["iss"] == account.client_email
    assert claims["sub"] == DELEGATE
    assert claims["scope"] == MEET_SCOPE
    assert claims["aud"] == ASSERTION_AUDIENCE


async def test_disabled_meet_api_falls_back_to_a_calendar_event(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    google.meet_api_enabled = False

    room = await meet_bridge(google, account).create_room(topic=TOPIC, request_id="req-1")

    [insert, poll] = google.calls("calendar")
    assert (insert.method, insert.path) == ("POST", "/calendars/primary/events")
    assert insert.query["conferenceDataVersion"] == "1"
    assert insert.body["summary"] == TOPIC
    assert insert.body["start"]["timeZone"] == "UTC"
    create = insert.body["conferenceData"]["createRequest"]
    assert create == {"requestId": "req-1", "conferenceSolutionKey": {"type": "hangoutsMeet"}}
    assert (poll.method, poll.path) == ("GET", f"/calendars/primary/events/{insert.body['id']}")
    assert room.join_url == "https://meet.google.com/qwe-rtyu-iop"
    assert room.passcode == "qwe-rtyu-iop"
    assert room.meeting_id == insert.body["id"]


async def test_calendar_token_is_delegated_for_the_calendar_scope(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    google.meet_api_enabled = False

    await meet_bridge(google, account).create_room(topic=TOPIC, request_id="req-1")

    calendar_grants = [g for g in google.grants if CALENDAR_SCOPE in g.scopes]
    assert [(g.iss, g.sub) for g in calendar_grants] == [(account.client_email, DELEGATE)]
    auth = google.calls("calendar")[0].headers["Authorization"]
    assert auth == f"Bearer {calendar_grants[0].token}"


async def test_fallback_is_remembered_for_later_rooms(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    google.meet_api_enabled = False
    bridge = meet_bridge(google, account)
    await bridge.create_room(topic=TOPIC, request_id="req-1")

    await bridge.create_room(topic="INC-43: Login errors", request_id="req-2")

    assert len(google.calls("meet")) == 1
    assert len(google.events) == 2


async def test_meet_scope_not_delegated_falls_back_to_calendar(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    google.granted_scopes = {CALENDAR_SCOPE}

    room = await meet_bridge(google, account).create_room(topic=TOPIC, request_id="req-1")

    assert google.calls("meet") == []
    assert room.join_url == "https://meet.google.com/qwe-rtyu-iop"


async def test_conference_still_pending_after_polling_is_retryable(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    google.meet_api_enabled = False
    google.pending_polls = 100
    bridge = MeetBridge(
        service_account_file=str(account.path), delegated_user=DELEGATE,
        api_endpoint=google.url, timeout_s=5, poll_delays_s=(0.01, 0.01),
    )

    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is True
    assert len(google.calls("calendar")) == 3


async def test_retry_of_the_same_request_reuses_its_event(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    google.meet_api_enabled = False
    bridge = meet_bridge(google, account)
    first = await bridge.create_room(topic=TOPIC, request_id="req-1")

    again = await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert again == first
    assert len(google.events) == 1
    assert [c.status for c in google.calls("calendar")] == [200, 200, 409, 200]


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_server_errors_are_retryable(
    google: FakeGoogle, account: ServiceAccount, status: int
) -> None:
    google.fail_next(status)

    with pytest.raises(BridgeError) as caught:
        await meet_bridge(google, account).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is True
    assert caught.value.provider == "meet"
    assert str(status) in str(caught.value)


async def test_rate_limit_403_is_retryable_and_keeps_the_meet_api(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    google.fail_next(403, reason="RATE_LIMIT_EXCEEDED")
    bridge = meet_bridge(google, account)

    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is True
    assert google.calls("calendar") == []
    room = await bridge.create_room(topic=TOPIC, request_id="req-1")
    assert room.join_url == "https://meet.google.com/abc-mnop-xyz"


async def test_calendar_server_error_is_retryable(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    google.meet_api_enabled = False
    google.fail_next(500, endpoint="calendar")

    with pytest.raises(BridgeError) as caught:
        await meet_bridge(google, account).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is True


async def test_bad_request_is_not_retryable(google: FakeGoogle, account: ServiceAccount) -> None:
    google.fail_next(400)

    with pytest.raises(BridgeError) as caught:
        await meet_bridge(google, account).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is False


async def test_hung_meet_call_fails_retryably_within_the_timeout(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    bridge = meet_bridge(google, account, video_timeout_s=1.0)
    google.hang_next(5)

    started = time.monotonic()
    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert time.monotonic() - started < 1.6
    assert caught.value.retryable is True


async def test_key_the_token_endpoint_rejects_is_not_retryable(
    google: FakeGoogle, account: ServiceAccount, tmp_path: Path
) -> None:
    (tmp_path / "other").mkdir()
    google.public_key = write_service_account(tmp_path / "other", google.token_uri).public_key

    with pytest.raises(BridgeError) as caught:
        await meet_bridge(google, account).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is False
    assert "invalid_grant" in str(caught.value)


async def test_no_key_or_token_in_rooms_errors_or_logs(
    google: FakeGoogle, account: ServiceAccount, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bridge = meet_bridge(google, account)
    rooms = [await bridge.create_room(topic=TOPIC, request_id="req-1")]
    messages = []
    for status in (500, 429, 400):
        google.fail_next(status)
        with pytest.raises(BridgeError) as caught:
            await bridge.create_room(topic=TOPIC, request_id="req-2")
        messages.append(str(caught.value))
    google.meet_api_enabled = False
    rooms.append(await bridge.create_room(topic=TOPIC, request_id="req-3"))

    key_body = account.private_key_pem.splitlines()[1]
    for text in [caplog.text, *messages, *(repr(r) for r in rooms)]:
        assert key_body not in text
        for grant in google.grants:
            assert grant.token not in text
        for call in google.calls("token"):
            assert call.body["assertion"] not in text


async def test_building_the_bridge_makes_no_request(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    bridge = meet_bridge(google, account)

    assert bridge.name == "meet"
    assert google.requests == []


async def test_missing_delegated_user_is_not_retryable(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    with pytest.raises(BridgeError) as caught:
        build_bridge("meet", meet_settings(google, account, google_delegated_user=""))

    assert caught.value.retryable is False
    assert "GOOGLE_DELEGATED_USER" in str(caught.value)


async def test_unreadable_key_file_is_not_retryable(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, google_service_account_file=str(tmp_path / "missing.json"),
        google_delegated_user=DELEGATE,
    )

    with pytest.raises(BridgeError) as caught:
        build_bridge("meet", settings)

    assert caught.value.retryable is False


# 09:30 in New York (UTC-4 in summer) is 13:30 UTC.
REVIEW_AT = datetime(2031, 6, 3, 9, 30, 0, 250_000, tzinfo=timezone(timedelta(hours=-4)))
REVIEW_AT_UTC = datetime(2031, 6, 3, 13, 30, tzinfo=UTC)
PEOPLE = ["ic@example.com", "", "scribe@example.com", "  ", "Ic@Example.com"]


async def schedule(bridge: Any, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "topic": "INC-42 Post Incident Review", "starts_at": REVIEW_AT, "duration_min": 45,
        "attendees": PEOPLE, "request_id": "pir-42", **overrides,
    }
    return await bridge.schedule_meeting(**values)


async def test_review_meeting_is_a_calendar_event_sent_to_the_attendees(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    await schedule(meet_bridge(google, account))

    assert google.calls("meet") == []
    [insert, poll] = google.calls("calendar")
    assert (insert.method, insert.path) == ("POST", "/calendars/primary/events")
    assert insert.query["conferenceDataVersion"] == "1"
    assert insert.query["sendUpdates"] == "all"
    body = insert.body
    assert body["summary"] == "INC-42 Post Incident Review"
    assert body["start"] == {"dateTime": "2031-06-03T13:30:00+00:00", "timeZone": "UTC"}
    assert body["end"] == {"dateTime": "2031-06-03T14:15:00+00:00", "timeZone": "UTC"}
    assert body["attendees"] == [{"email": "ic@example.com"}, {"email": "scribe@example.com"}]
    create = body["conferenceData"]["createRequest"]
    assert create == {"requestId": "pir-42", "conferenceSolutionKey": {"type": "hangoutsMeet"}}
    assert (poll.method, poll.path) == ("GET", f"/calendars/primary/events/{body['id']}")
    assert google.invitations == [(body["id"], "ic@example.com"),
                                  (body["id"], "scribe@example.com")]


async def test_review_meeting_is_the_event_google_answered(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    meeting = await schedule(meet_bridge(google, account))

    [event] = google.events.values()
    assert meeting.provider == "meet"
    assert meeting.join_url == event["hangoutLink"] == "https://meet.google.com/qwe-rtyu-iop"
    assert meeting.meeting_id == event["id"]
    assert meeting.starts_at == REVIEW_AT_UTC
    assert meeting.starts_at.utcoffset() == timedelta(0)
    assert meeting.invited == ("ic@example.com", "scribe@example.com")
    assert [(a["email"], a["responseStatus"]) for a in event["attendees"]] == [
        ("ic@example.com", "needsAction"), ("scribe@example.com", "needsAction")
    ]


async def test_review_meeting_goes_through_calendar_even_with_the_meet_api(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    bridge = meet_bridge(google, account)
    room = await bridge.create_room(topic=TOPIC, request_id="req-1")

    meeting = await schedule(bridge)

    assert room.join_url == "https://meet.google.com/abc-mnop-xyz"
    assert meeting.join_url == "https://meet.google.com/qwe-rtyu-iop"
    assert len(google.calls("meet")) == 1
    assert bridge.calendar_only is False


async def test_retry_of_the_same_review_request_reuses_its_event(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    bridge = meet_bridge(google, account)
    first = await schedule(bridge)

    again = await schedule(bridge)

    assert again == first
    assert len(google.events) == 1
    assert [c.status for c in google.calls("calendar")] == [200, 200, 409, 200]
    assert len(google.invitations) == 2


async def test_review_meeting_rejected_attendee_is_not_retryable(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    with pytest.raises(BridgeError) as caught:
        await schedule(meet_bridge(google, account), attendees=["ic@example.com", "ic"])

    assert caught.value.retryable is False
    assert caught.value.provider == "meet"
    assert "schedule the meeting" in str(caught.value)
    assert "400" in str(caught.value)
    assert google.events == {}


async def test_review_meeting_calendar_server_error_is_retryable(
    google: FakeGoogle, account: ServiceAccount
) -> None:
    google.fail_next(503, endpoint="calendar")

    with pytest.raises(BridgeError) as caught:
        await schedule(meet_bridge(google, account))

    assert caught.value.retryable is True
    assert "503" in str(caught.value)
