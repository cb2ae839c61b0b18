"""Jitsi rooms: a link with an unguessable name, no network."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.config import Settings
from integrations.jitsi import JitsiBridge
from integrations.video_factory import build_bridge

TOPIC = "INC-42: Checkout latency above 2 s"
SAFE_PATH = re.compile(r"[A-Za-z0-9_-]+")


async def test_room_link_is_the_server_followed_by_the_room_name() -> None:
    room = await JitsiBridge("https://jitsi.example.com/").create_room(
        topic=TOPIC, request_id="req-1"
    )

    assert room.provider == "jitsi"
    assert room.join_url == f"https://jitsi.example.com/{room.meeting_id}"
    assert room.passcode is None


async def test_room_name_starts_with_the_topic_words() -> None:
    room = await JitsiBridge("https://meet.jit.si").create_room(topic=TOPIC, request_id="r")

    assert room.meeting_id is not None
    assert room.meeting_id.startswith("Incident-INC-42-Checkout-Latency-")


async def test_room_name_uses_only_url_safe_characters() -> None:
    bridge = JitsiBridge("https://meet.jit.si")
    topic = "Ünïcode / slashes?query=#frag & <tags> «quotes» 数据库"

    room = await bridge.create_room(topic=topic, request_id="req-1")

    assert room.meeting_id is not None
    assert SAFE_PATH.fullmatch(room.meeting_id)
    assert room.meeting_id.startswith("Incident-Unicode-Slashes-Query-Frag-")


async def test_room_names_cannot_be_guessed() -> None:
    bridge = JitsiBridge("https://meet.jit.si")

    names = {(await bridge.create_room(topic=TOPIC, request_id="same")).meeting_id
             for _ in range(20)}

    assert len(names) == 20
    for name in names:
        assert name is not None
        random_part = name.removeprefix("Incident-INC-42-Checkout-Latency-")
        assert len(random_part) >= 24


async def test_topic_without_words_still_gives_a_room() -> None:
    room = await JitsiBridge("https://meet.jit.si").create_room(topic="!!!", request_id="r")

    assert room.meeting_id is not None
    assert SAFE_PATH.fullmatch(room.meeting_id)
    assert room.meeting_id.startswith("Incident-")


async def test_factory_builds_jitsi_from_settings_without_credentials() -> None:
    bridge = build_bridge("jitsi", Settings(_env_file=None, jitsi_base_url="https://j.example"))

    room = await bridge.create_room(topic=TOPIC, request_id="req-1")

    assert bridge.name == "jitsi"
    assert room.join_url.startswith("https://j.example/Incident-")


async def test_factory_rejects_an_unknown_provider() -> None:
    with pytest.raises(ValueError, match="webex"):
        build_bridge("webex", Settings(_env_file=None))


REVIEW_AT = datetime(2031, 6, 3, 16, 30, tzinfo=timezone(timedelta(hours=2)))


async def test_review_meeting_is_a_fresh_room_and_invites_nobody() -> None:
    bridge = JitsiBridge("https://jitsi.example.com")

    first = await bridge.schedule_meeting(
        topic="INC-42 Post Incident Review", starts_at=REVIEW_AT, duration_min=45,
        attendees=["ic@example.com"], request_id="pir-42",
    )
    second = await bridge.schedule_meeting(
        topic="INC-42 Post Incident Review", starts_at=REVIEW_AT, duration_min=45,
        attendees=["ic@example.com"], request_id="pir-42",
    )

    assert first.provider == "jitsi"
    assert first.join_url == f"https://jitsi.example.com/{first.meeting_id}"
    assert first.meeting_id is not None
    assert first.meeting_id.startswith("Incident-INC-42-Post-Incident-")
    assert first.starts_at == datetime(2031, 6, 3, 14, 30, tzinfo=UTC)
    assert first.starts_at.utcoffset() == timedelta(0)
    assert first.invited == ()
    assert second.join_url != first.join_url


@pytest.mark.parametrize(
    ("starts_at", "duration_min"),
    [(datetime(2031, 6, 3, 14, 30), 45), (REVIEW_AT, 0)],
    ids=["naive-start", "no-duration"],
)
async def test_review_meeting_rejects_a_naive_start_or_no_duration(
    starts_at: datetime, duration_min: int
) -> None:
    with pytest.raises(ValueError):
        await JitsiBridge("https://meet.jit.si").schedule_meeting(
            topic=TOPIC, starts_at=starts_at, duration_min=duration_min,
            attendees=[], request_id="r",
        )
