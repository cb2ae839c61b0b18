"""The Zoom bridge runs the real zoomus against a loopback Zoom."""

from __future__ import annotations

import base64
import calendar
import logging
import socket
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from bot.config import Settings
from bot.errors import BridgeError
from integrations.video_factory import build_bridge
from integrations.zoom import ZoomBridge
from tests.fakes.zoom import FakeZoom

TOPIC = "INC-42: Checkout latency above 2 s"


def zoom_settings(fake: FakeZoom, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "zoom_account_id": fake.account_id,
        "zoom_client_id": fake.client_id,
        "zoom_client_secret": fake.client_secret,
        "zoom_api_base_url": fake.api_url,
        "zoom_oauth_url": fake.oauth_url,
        "video_timeout_s": 5.0,
        **overrides,
    }
    return Settings(_env_file=None, **values)


def zoom_bridge(fake: FakeZoom, **overrides: Any) -> Any:
    return build_bridge("zoom", zoom_settings(fake, **overrides))


def assert_no_secrets(fake: FakeZoom, *texts: str) -> None:
    for text in texts:
        assert fake.client_secret not in text
        assert fake.host_key not in text
        assert "start_url" not in text
        for token in fake.issued_tokens:
            assert token not in text


async def test_room_is_the_meeting_zoom_created(zoom: FakeZoom) -> None:
    room = await zoom_bridge(zoom).create_room(topic=TOPIC, request_id="req-1")

    meeting = zoom.meetings[0]
    assert room.provider == "zoom"
    assert room.join_url == meeting["join_url"]
    assert room.meeting_id == str(meeting["id"])
    assert room.passcode == meeting["password"]
    assert_no_secrets(zoom, repr(room))


async def test_token_request_uses_account_credentials_grant(zoom: FakeZoom) -> None:
    await zoom_bridge(zoom).create_room(topic=TOPIC, request_id="req-1")

    [token_call] = zoom.calls("token")
    assert token_call.body == {"grant_type": "account_credentials", "account_id": zoom.account_id}
    basic = base64.b64decode(token_call.headers["Authorization"].removeprefix("Basic "))
    assert basic.decode() == f"{zoom.client_id}:{zoom.client_secret}"


async def test_meeting_request_carries_topic_and_open_door_settings(zoom: FakeZoom) -> None:
    await zoom_bridge(zoom, zoom_host_user="oncall@example.com").create_room(
        topic=TOPIC, request_id="req-1"
    )

    [call] = zoom.calls("meetings")
    assert call.path == "/v2/users/oncall@example.com/meetings"
    assert call.headers["Authorization"] == f"Bearer {zoom.issued_tokens[0]}"
    assert call.body["topic"] == TOPIC
    assert call.body["type"] == 2
    assert call.body["start_time"].endswith("Z")
    assert abs(time.time() - _epoch(call.body["start_time"])) < 120
    assert call.body["settings"]["join_before_host"] is True
    assert call.body["settings"]["waiting_room"] is False


async def test_one_token_serves_many_rooms(zoom: FakeZoom) -> None:
    bridge = zoom_bridge(zoom)
    first = await bridge.create_room(topic=TOPIC, request_id="req-1")
    second = await bridge.create_room(topic="INC-43: Login errors", request_id="req-2")

    assert first.join_url != second.join_url
    assert len(zoom.calls("token")) == 1
    assert len(zoom.calls("meetings")) == 2


async def test_expired_token_is_renewed_once_and_the_meeting_created(zoom: FakeZoom) -> None:
    bridge = zoom_bridge(zoom)
    await bridge.create_room(topic=TOPIC, request_id="req-1")
    zoom.revoke_tokens()

    room = await bridge.create_room(topic=TOPIC, request_id="req-2")

    assert [c.status for c in zoom.calls("meetings")] == [201, 401, 201]
    assert len(zoom.calls("token")) == 2
    assert zoom.calls("meetings")[-1].headers["Authorization"] == f"Bearer {zoom.issued_tokens[1]}"
    assert room.join_url == zoom.meetings[-1]["join_url"]


async def test_401_after_renewing_the_token_is_not_retryable(zoom: FakeZoom) -> None:
    zoom.fail_next(401, times=2)

    with pytest.raises(BridgeError) as caught:
        await zoom_bridge(zoom).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is False
    assert caught.value.provider == "zoom"
    assert len(zoom.calls("token")) == 2
    assert len(zoom.calls("meetings")) == 2


async def test_token_older_than_50_minutes_is_renewed_before_the_call(zoom: FakeZoom) -> None:
    now = [1000.0]
    bridge = ZoomBridge(
        account_id=zoom.account_id, client_id=zoom.client_id, client_secret=zoom.client_secret,
        api_base_url=zoom.api_url, oauth_url=zoom.oauth_url, timeout_s=5, clock=lambda: now[0],
    )
    await bridge.create_room(topic=TOPIC, request_id="req-1")
    now[0] += 49 * 60
    await bridge.create_room(topic=TOPIC, request_id="req-2")
    assert len(zoom.calls("token")) == 1

    now[0] += 2 * 60
    await bridge.create_room(topic=TOPIC, request_id="req-3")

    assert len(zoom.calls("token")) == 2
    assert [c.status for c in zoom.calls("meetings")] == [201, 201, 201]


async def test_rate_limit_is_retryable_and_says_when(zoom: FakeZoom) -> None:
    zoom.fail_next(429, retry_after="7")

    with pytest.raises(BridgeError) as caught:
        await zoom_bridge(zoom).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is True
    assert "429" in str(caught.value)
    assert "retry after 7" in str(caught.value)


async def test_server_error_is_retryable(zoom: FakeZoom) -> None:
    zoom.fail_next(500)

    with pytest.raises(BridgeError) as caught:
        await zoom_bridge(zoom).create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is True
    assert "500" in str(caught.value)


async def test_unknown_host_user_is_not_retryable(zoom: FakeZoom) -> None:
    with pytest.raises(BridgeError) as caught:
        await zoom_bridge(zoom, zoom_host_user="nobody@example.com").create_room(
            topic=TOPIC, request_id="req-1"
        )

    assert caught.value.retryable is False
    assert "User does not exist" in str(caught.value)


async def test_hung_meeting_call_fails_retryably_within_the_timeout(zoom: FakeZoom) -> None:
    bridge = zoom_bridge(zoom, video_timeout_s=1.0)
    zoom.hang_next(5)

    started = time.monotonic()
    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert time.monotonic() - started < 1.6
    assert caught.value.retryable is True


async def test_hung_token_request_fails_retryably_within_the_timeout(zoom: FakeZoom) -> None:
    # zoomus gives its token request no timeout: only the bridge's deadline bounds it.
    bridge = zoom_bridge(zoom, video_timeout_s=1.0)
    zoom.hang_next(3, endpoint="token")

    started = time.monotonic()
    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert time.monotonic() - started < 1.6
    assert caught.value.retryable is True


async def test_wrong_client_secret_is_not_retryable(zoom: FakeZoom) -> None:
    bridge = zoom_bridge(zoom, zoom_client_secret="not-the-secret-123")

    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is False
    assert "ZOOM_CLIENT_SECRET" in str(caught.value)
    assert "not-the-secret-123" not in str(caught.value)
    assert zoom.calls("meetings") == []


async def test_unreachable_zoom_is_retryable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    bridge = ZoomBridge(
        account_id="a", client_id="b", client_secret="c",
        api_base_url=f"http://127.0.0.1:{port}/v2",
        oauth_url=f"http://127.0.0.1:{port}/oauth/token",
        timeout_s=2,
    )

    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert caught.value.retryable is True
    assert "could not be reached" in str(caught.value)


async def test_no_secret_token_or_host_key_in_rooms_errors_or_logs(
    zoom: FakeZoom, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bridge = zoom_bridge(zoom)
    rooms = [await bridge.create_room(topic=TOPIC, request_id="req-1")]
    zoom.revoke_tokens()
    rooms.append(await bridge.create_room(topic=TOPIC, request_id="req-2"))
    messages = []
    for status in (500, 429, 404):
        zoom.fail_next(status)
        with pytest.raises(BridgeError) as caught:
            await bridge.create_room(topic=TOPIC, request_id="req-3")
        messages.append(str(caught.value))
    zoom.fail_next(401, times=2)
    with pytest.raises(BridgeError) as caught:
        await bridge.create_room(topic=TOPIC, request_id="req-4")
    messages.append(str(caught.value))

    assert len(zoom.issued_tokens) == 3
    assert_no_secrets(zoom, caplog.text, *messages, *(repr(r) for r in rooms))
    assert zoom.client_secret not in repr(bridge)


async def test_building_the_bridge_makes_no_request(zoom: FakeZoom) -> None:
    bridge = zoom_bridge(zoom)

    assert bridge.name == "zoom"
    assert zoom.requests == []


async def test_missing_zoom_credentials_are_not_retryable() -> None:
    settings = Settings(_env_file=None, zoom_account_id="acct", zoom_client_id="id")

    with pytest.raises(BridgeError) as caught:
        build_bridge("zoom", settings)

    assert caught.value.retryable is False
    assert caught.value.provider == "zoom"


# 16:30:45.5 in Paris (UTC+2 in summer) is 14:30:45 UTC; Zoom works to the second.
REVIEW_AT = datetime(2031, 6, 3, 16, 30, 45, 500_000, tzinfo=timezone(timedelta(hours=2)))
REVIEW_AT_UTC = datetime(2031, 6, 3, 14, 30, 45, tzinfo=UTC)
PEOPLE = ["ic@example.com", "", "  ", "scribe@example.com", "IC@example.com"]


async def schedule(bridge: Any, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "topic": "INC-42 Post Incident Review", "starts_at": REVIEW_AT, "duration_min": 45,
        "attendees": PEOPLE, "request_id": "pir-42", **overrides,
    }
    return await bridge.schedule_meeting(**values)


async def test_review_meeting_request_carries_utc_start_duration_and_invitees(
    zoom: FakeZoom,
) -> None:
    await schedule(zoom_bridge(zoom, zoom_host_user="oncall@example.com"))

    [call] = zoom.calls("meetings")
    assert call.path == "/v2/users/oncall@example.com/meetings"
    assert call.body["topic"] == "INC-42 Post Incident Review"
    assert call.body["type"] == 2
    assert call.body["start_time"] == "2031-06-03T14:30:45Z"
    assert call.body["timezone"] == "UTC"
    assert call.body["duration"] == 45
    settings = call.body["settings"]
    assert settings["meeting_invitees"] == [
        {"email": "ic@example.com"}, {"email": "scribe@example.com"}
    ]
    assert settings["join_before_host"] is True
    assert settings["waiting_room"] is False


async def test_review_meeting_is_the_one_zoom_scheduled(zoom: FakeZoom) -> None:
    meeting = await schedule(zoom_bridge(zoom))

    created = zoom.meetings[0]
    assert meeting.provider == "zoom"
    assert meeting.join_url == created["join_url"]
    assert meeting.meeting_id == str(created["id"])
    assert meeting.starts_at == REVIEW_AT_UTC
    assert meeting.starts_at.utcoffset() == timedelta(0)
    assert meeting.invited == ("ic@example.com", "scribe@example.com")
    assert created["settings"]["meeting_invitees"] == [
        {"email": "ic@example.com"}, {"email": "scribe@example.com"}
    ]
    assert_no_secrets(zoom, repr(meeting))


async def test_review_meeting_shares_the_token_and_renews_it_on_401(zoom: FakeZoom) -> None:
    bridge = zoom_bridge(zoom)
    await bridge.create_room(topic=TOPIC, request_id="req-1")
    zoom.revoke_tokens()

    meeting = await schedule(bridge)

    assert [c.status for c in zoom.calls("meetings")] == [201, 401, 201]
    assert len(zoom.calls("token")) == 2
    assert meeting.join_url == zoom.meetings[-1]["join_url"]


async def test_review_meeting_without_attendees_invites_nobody(zoom: FakeZoom) -> None:
    meeting = await schedule(zoom_bridge(zoom), attendees=["", None])

    assert zoom.calls("meetings")[0].body["settings"]["meeting_invitees"] == []
    assert meeting.invited == ()


async def test_review_meeting_rate_limit_is_retryable(zoom: FakeZoom) -> None:
    zoom.fail_next(429, retry_after="3")

    with pytest.raises(BridgeError) as caught:
        await schedule(zoom_bridge(zoom))

    assert caught.value.retryable is True
    assert caught.value.provider == "zoom"
    assert "retry after 3" in str(caught.value)
    assert_no_secrets(zoom, str(caught.value))


async def test_review_meeting_for_an_unknown_host_is_not_retryable(zoom: FakeZoom) -> None:
    with pytest.raises(BridgeError) as caught:
        await schedule(zoom_bridge(zoom, zoom_host_user="nobody@example.com"))

    assert caught.value.retryable is False
    assert "User does not exist" in str(caught.value)


async def test_review_meeting_needs_an_aware_start(zoom: FakeZoom) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        await schedule(zoom_bridge(zoom), starts_at=datetime(2031, 6, 3, 14, 30))

    assert zoom.requests == []


def _epoch(zoom_time: str) -> float:
    return calendar.timegm(time.strptime(zoom_time, "%Y-%m-%dT%H:%M:%SZ"))
