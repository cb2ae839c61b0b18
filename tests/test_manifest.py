"""The Teams app manifest, its icons and the uploadable package."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from bot import __version__
from bot.app_package import (
    MANIFEST_DIR,
    build_package,
    command_lists,
    handler_commands,
    load_manifest,
)
from bot.config import Settings
from bot.teams.commands.file_message import COMMAND_ID
from bot.teams.router import CommandSpec

SCHEMAS = Path(__file__).resolve().parent / "schemas"  # copies; see SOURCES.md there
APP_ID = "3f2b9c1e-8d4a-4e6f-9b7c-1a2d3e4f5a6b"


@pytest.fixture
def validate():
    """Validate a manifest against Microsoft's published 1.19 schema (a copy in tests/)."""
    jsonschema = pytest.importorskip("jsonschema")
    path = SCHEMAS / "teams-manifest-1.19.schema.json"
    if not path.is_file():
        pytest.skip(f"Teams manifest schema not found at {path}")
    schema = json.loads(path.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def check(manifest: dict[str, Any]) -> None:
        error = jsonschema.exceptions.best_match(validator.iter_errors(manifest))
        assert error is None, f"{list(error.absolute_path)}: {error.message}"
        # The schema says draft-04, whose validators ignore its `const`; check it here.
        assert manifest["manifestVersion"] == "1.19"

    return check


def read_png(path: Path) -> tuple[int, int, int, list[bytes]]:
    """Width, height, channels and unfiltered rows of an 8-bit RGB or RGBA PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        header = body if kind == b"IHDR" else header
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, interlace) == (8, 0) and colour_type in (2, 6)
    channels = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * channels + 1
    rows, previous = [], bytes(stride - 1)
    for y in range(height):
        previous = unfilter(raw[y * stride], raw[y * stride + 1:(y + 1) * stride],
                            previous, channels)
        rows.append(previous)
    return width, height, channels, rows


def unfilter(kind: int, line: bytes, previous: bytes, step: int) -> bytes:
    """Undo one of PNG's five per-row filters (None, Sub, Up, Average, Paeth)."""
    out = bytearray(line)
    for i in range(len(out)):
        a = out[i - step] if i >= step else 0
        b, c = previous[i], previous[i - step] if i >= step else 0
        p = a + b - c
        paeth = min((abs(p - a), 0, a), (abs(p - b), 1, b), (abs(p - c), 2, c))[2]
        out[i] = (out[i] + (0, a, b, (a + b) // 2, paeth)[kind]) & 0xFF
    return bytes(out)


def settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)


def test_committed_manifest_is_valid_teams_1_19(validate):
    validate(load_manifest())


def test_committed_manifest_names_the_1_19_schema():
    manifest = load_manifest()
    assert manifest["manifestVersion"] == "1.19"
    assert manifest["$schema"] == ("https://developer.microsoft.com/en-us/json-schemas/"
                                   "teams/v1.19/MicrosoftTeams.schema.json")


def test_color_icon_is_192_square_on_the_accent_colour():
    width, height, channels, rows = read_png(MANIFEST_DIR / "color.png")
    assert (width, height) == (192, 192)
    accent = bytes.fromhex(load_manifest()["accentColor"][1:])
    assert rows[0][:3] == accent and rows[-1][-channels:][:3] == accent
    pixels = {row[i:i + 3] for row in rows for i in range(0, len(row), channels)}
    assert b"\xff\xff\xff" in pixels  # the white shield is drawn


def test_outline_icon_is_32_square_white_on_transparent():
    width, height, channels, rows = read_png(MANIFEST_DIR / "outline.png")
    assert (width, height, channels) == (32, 32, 4)
    pixels = [row[i:i + 4] for row in rows for i in range(0, len(row), 4)]
    assert all(p[:3] == b"\xff\xff\xff" for p in pixels if p[3])
    assert any(p[3] == 0 for p in pixels) and any(p[3] == 255 for p in pixels)


def test_committed_command_lists_are_the_handlers():
    manifest = load_manifest()
    assert manifest["bots"][0]["commandLists"] == command_lists(handler_commands()), (
        "manifest/manifest.json is out of date: run `python -m bot.app_package`")
    assert manifest["version"] == __version__


def test_command_lists_keep_to_teams_limits_and_cover_each_scope():
    commands = handler_commands()
    lists = load_manifest()["bots"][0]["commandLists"]
    assert sorted(s for lst in lists for s in lst["scopes"]) == sorted(
        load_manifest()["bots"][0]["scopes"])
    for lst in lists:
        titles = [c["title"] for c in lst["commands"]]
        assert len(titles) <= 10 and len(set(titles)) == len(titles)
        assert set(titles) <= set(commands) and "help" in titles
        assert all(len(c["title"]) <= 32 and len(c["description"]) <= 128
                   for c in lst["commands"])


def test_long_summary_is_clipped_to_128_characters():
    commands = dict(handler_commands())
    commands["note"] = CommandSpec("note", "note <text>", "x" * 200, commands["note"].run)
    notes = [c for lst in command_lists(commands) for c in lst["commands"]
             if c["title"] == "note"]
    assert notes and all(len(c["description"]) == 128 and c["description"].endswith("…")
                         for c in notes)


def _rsc(manifest: dict[str, Any]) -> list[dict[str, str]]:
    return manifest.get("authorization", {}).get("permissions", {}).get("resourceSpecific", [])


def test_manifest_asks_for_no_resource_specific_permissions_unless_configured(validate,
                                                                              tmp_path):
    # Mentions reach the bot without RSC, and the message action's invoke carries the
    # message itself; docs/uploading-the-app.md explains each permission left out, and
    # the two conversation capture adds.
    manifest = load_manifest()
    assert not _rsc(manifest)
    assert "webApplicationInfo" not in manifest
    with zipfile.ZipFile(build_package(settings(app_id=APP_ID), tmp_path / "a.zip")) as package:
        packaged = json.loads(package.read("manifest.json"))
    assert not _rsc(packaged) and "webApplicationInfo" not in packaged


def test_package_with_conversation_capture_asks_for_exactly_the_two_message_permissions(
    validate, tmp_path
):
    out = build_package(settings(app_id=APP_ID, capture_conversation="true"),
                        tmp_path / "app.zip")
    with zipfile.ZipFile(out) as package:
        manifest = json.loads(package.read("manifest.json"))
    assert _rsc(manifest) == [{"name": "ChannelMessage.Read.Group", "type": "Application"},
                              {"name": "ChatMessage.Read.Chat", "type": "Application"}]
    # RSC from manifest 1.12 on needs webApplicationInfo; its id is the bot's app.
    assert manifest["webApplicationInfo"]["id"] == APP_ID
    validate(manifest)


def test_message_action_files_messages_through_a_dialog():
    [extension] = load_manifest()["composeExtensions"]
    [action] = extension["commands"]
    assert action == {
        "id": COMMAND_ID, "type": "action", "title": "Add to incident timeline",
        "description": action["description"], "context": ["message"], "fetchTask": True}
    assert len(action["description"]) <= 128
    assert extension["botId"] == load_manifest()["bots"][0]["botId"]


def test_package_fills_in_app_id_and_host_and_stays_valid(validate, tmp_path):
    out = build_package(settings(app_id=APP_ID, public_base_url="https://Bot.Example.org:8443/x"),
                        tmp_path / "dist" / "incident-bot.zip")
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        assert package.read("outline.png") == (MANIFEST_DIR / "outline.png").read_bytes()
    assert manifest["id"] == manifest["bots"][0]["botId"] == APP_ID
    assert manifest["composeExtensions"][0]["botId"] == APP_ID
    assert manifest["validDomains"] == ["bot.example.org"]
    validate(manifest)


def test_package_without_public_url_drops_the_placeholder_domain(validate, tmp_path):
    out = build_package(settings(app_id=APP_ID), tmp_path / "app.zip")
    with zipfile.ZipFile(out) as package:
        manifest = json.loads(package.read("manifest.json"))
    assert "validDomains" not in manifest
    validate(manifest)


def test_package_refuses_an_empty_app_id(tmp_path):
    with pytest.raises(ValueError, match="MicrosoftAppId is not set"):
        build_package(settings(app_id=""), tmp_path / "app.zip")
    assert not (tmp_path / "app.zip").exists()


def test_package_refuses_an_app_id_that_is_not_a_guid(tmp_path):
    with pytest.raises(ValueError, match="not a GUID"):
        build_package(settings(app_id="incident-bot"), tmp_path / "app.zip")
