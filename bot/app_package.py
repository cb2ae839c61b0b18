"""The Teams app package: manifest.json and the two icons, zipped for upload.

The committed `manifest/manifest.json` is the template. Packaging fills in what differs
per deployment (the bot's app id, the public host, the RSC permissions conversation
capture needs when `CAPTURE_CONVERSATION` is on) and rebuilds the command lists from
the handler, so the commands Teams suggests are always the ones the bot understands.
`python -m bot.app_package` writes the handler's command lists (and the version) back
into the committed manifest after a command changes.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot import __version__
from bot.config import Settings
from bot.teams.commands import all_routes
from bot.teams.router import CommandSpec

MANIFEST_DIR = Path(__file__).resolve().parents[1] / "manifest"
MAX_DESCRIPTION = 128  # Teams' limit for a command's description
GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

# Teams suggests at most ten commands per scope; every other one is a `help` away.
# Channels run the response; group chats also need `list`; in a 1:1 chat people mostly
# look things up and move the incident along.
SUGGESTED: dict[str, tuple[str, ...]] = {
    "team": ("declare", "status", "update", "note", "commander", "investigator",
             "commandeer", "room", "mitigated", "help"),
    "groupChat": ("declare", "status", "list", "update", "note", "commander",
                  "investigator", "commandeer", "room", "help"),
    "personal": ("list", "status", "declare", "room", "note", "update", "commandeer",
                 "mitigated", "resolved", "help"),
}


def handler_commands() -> dict[str, CommandSpec]:
    """The commands the bot understands, read from the handler itself."""
    return all_routes().commands


def command_lists(commands: Mapping[str, CommandSpec]) -> list[dict[str, Any]]:
    """The manifest's `commandLists`: one per scope, summaries clipped to Teams' limit."""
    missing = sorted({v for verbs in SUGGESTED.values() for v in verbs} - set(commands))
    if missing:
        raise ValueError(f"the manifest suggests commands the bot lacks: {missing}")
    return [
        {"scopes": [scope],
         "commands": [{"title": verb, "description": _clip(commands[verb].summary)}
                      for verb in verbs]}
        for scope, verbs in SUGGESTED.items()
    ]


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1].rstrip() + "…"


def load_manifest(folder: Path = MANIFEST_DIR) -> dict[str, Any]:
    """The committed manifest template."""
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return manifest


def dump_manifest(manifest: Mapping[str, Any]) -> str:
    """The manifest as committed: two-space indent, UTF-8, final newline."""
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def with_handler_commands(manifest: dict[str, Any]) -> dict[str, Any]:
    """`manifest` with the handler's command lists and the package version."""
    manifest["version"] = __version__
    manifest["bots"][0]["commandLists"] = command_lists(handler_commands())
    return manifest


# What lets Teams send the bot every message in a team's channels and in a chat, not only
# those that @mention it (CAPTURE_CONVERSATION; Microsoft's "Receive all conversation
# messages" and, for the manifest's `webApplicationInfo` that RSC needs from manifest
# 1.12 on, "Test resource-specific consent permissions in Teams"). docs/uploading-the-app.md
# says what each adds.
CONVERSATION_PERMISSIONS = ("ChannelMessage.Read.Group", "ChatMessage.Read.Chat")


def with_conversation(manifest: dict[str, Any], app_id: str) -> dict[str, Any]:
    """`manifest` asking for the RSC permissions of conversation capture."""
    manifest["webApplicationInfo"] = {"id": app_id, "resource": f"api://botid-{app_id}"}
    manifest["authorization"] = {"permissions": {"resourceSpecific": [
        {"name": name, "type": "Application"} for name in CONVERSATION_PERMISSIONS]}}
    return manifest


def manifest_for(settings: Settings, *, folder: Path = MANIFEST_DIR) -> dict[str, Any]:
    """The manifest for this deployment: its app id, its public host, current commands."""
    if not settings.app_id:
        raise ValueError("MicrosoftAppId is not set: the Teams app package needs the "
                         "bot's app id (a GUID from its Azure Bot registration)")
    if not GUID.fullmatch(settings.app_id):
        raise ValueError(f"MicrosoftAppId {settings.app_id!r} is not a GUID")
    manifest = with_handler_commands(load_manifest(folder))
    manifest["id"] = settings.app_id
    manifest["bots"][0]["botId"] = settings.app_id
    for extension in manifest.get("composeExtensions", []):
        extension["botId"] = settings.app_id  # the message action runs on the same bot
    manifest.pop("validDomains", None)  # the template's is a placeholder
    if settings.public_base_url:
        manifest["validDomains"] = [_host(settings.public_base_url)]
    if settings.capture_conversation:
        with_conversation(manifest, settings.app_id)
    return manifest


def _host(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"PUBLIC_BASE_URL {url!r} is not an http(s) URL")
    return parts.hostname


def build_package(settings: Settings, out_path: Path | str, *,
                  folder: Path = MANIFEST_DIR) -> Path:
    """Write the zip Teams accepts for upload: manifest.json and the icons at its root."""
    manifest = manifest_for(settings, folder=folder)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", dump_manifest(manifest))
        for icon in manifest["icons"].values():
            package.write(folder / icon, icon)
    return out


if __name__ == "__main__":
    path = MANIFEST_DIR / "manifest.json"
    path.write_text(dump_manifest(with_handler_commands(load_manifest())), encoding="utf-8")
    print(f"updated {path}")
