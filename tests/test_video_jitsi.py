"""Jitsi rooms: a link with an unguessable name, no network."""

from __future__ import annotations

import re

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
