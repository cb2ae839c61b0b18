"""Builds the configured video bridges from Settings, without touching the network."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from bot.config import TEAMS_NEEDS, Settings
from bot.errors import BridgeError
from integrations.google_meet import MeetBridge
from integrations.graph_token import GraphToken
from integrations.jitsi import JitsiBridge
from integrations.teams_meetings import TeamsMeetingBridge
from integrations.video import VideoBridge
from integrations.zoom import ZoomBridge


@dataclass(frozen=True)
class Graph:
    """The process's HTTP session and its one app-only Graph token (`bot.app`)."""

    session: aiohttp.ClientSession
    token: GraphToken


def build_bridge(name: str, settings: Settings, *, graph: Graph | None = None) -> VideoBridge:
    """Build the bridge for provider `name` ("zoom", "meet", "teams" or "jitsi"); Teams
    meetings need `graph`."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        known = ", ".join(_BUILDERS)
        raise ValueError(f"unknown video provider {name!r}; expected one of {known}") from None
    return builder(settings, graph)


class Bridges:
    """One bridge per provider for the life of the process (Zoom's token is reused)."""

    def __init__(self, settings: Settings, *, graph: Graph | None = None) -> None:
        self._settings = settings
        self._graph = graph
        self._built: dict[str, VideoBridge] = {}

    def get(self, name: str) -> VideoBridge:
        """The bridge for `name`; `BridgeError` (not retryable) if it cannot be built."""
        if name not in self._built:
            try:
                self._built[name] = build_bridge(name, self._settings, graph=self._graph)
            except ValueError as exc:
                raise BridgeError(str(exc), provider=name, retryable=False) from None
        return self._built[name]


def _zoom(settings: Settings, graph: Graph | None) -> VideoBridge:
    secret = settings.zoom_client_secret.get_secret_value()
    if not (settings.zoom_account_id and settings.zoom_client_id and secret):
        raise _missing("zoom", "ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET")
    # No token yet: the bridge fetches it in a worker thread when the first room is made.
    return ZoomBridge(
        account_id=settings.zoom_account_id,
        client_id=settings.zoom_client_id,
        client_secret=secret,
        api_base_url=settings.zoom_api_base_url,
        oauth_url=settings.zoom_oauth_url,
        host_user=settings.zoom_host_user,
        timeout_s=settings.video_timeout_s,
    )


def _meet(settings: Settings, graph: Graph | None) -> VideoBridge:
    if not (settings.google_service_account_file and settings.google_delegated_user):
        raise _missing("meet", "GOOGLE_SERVICE_ACCOUNT_FILE and GOOGLE_DELEGATED_USER")
    # Reads the key file (local disk only); tokens are fetched on first use.
    return MeetBridge(
        service_account_file=settings.google_service_account_file,
        delegated_user=settings.google_delegated_user,
        api_endpoint=settings.google_api_endpoint,
        timeout_s=settings.video_timeout_s,
    )


def _teams(settings: Settings, graph: Graph | None) -> VideoBridge:
    # Settings refuse to start without these when Teams is in the chain (bot.config); this
    # covers a bridge asked for by `room teams` on a bot configured without them.
    if graph is None or not settings.teams_meeting_organizer:
        raise _missing("teams", TEAMS_NEEDS)
    return TeamsMeetingBridge(graph.session, api_url=settings.graph_api_url, token=graph.token,
                              organizer=settings.teams_meeting_organizer,
                              app_id=settings.graph_client_id,
                              timeout_s=settings.video_timeout_s)


def _jitsi(settings: Settings, graph: Graph | None) -> VideoBridge:
    return JitsiBridge(settings.jitsi_base_url)


def _missing(provider: str, names: str) -> BridgeError:
    return BridgeError(f"{provider} needs {names} to be set", provider=provider, retryable=False)


_BUILDERS: dict[str, Callable[[Settings, Graph | None], VideoBridge]] = {
    "zoom": _zoom,
    "meet": _meet,
    "teams": _teams,
    "jitsi": _jitsi,
}
