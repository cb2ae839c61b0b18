"""Presence from Microsoft Graph (`POST /communications/getPresencesByUserId`) over aiohttp.

Needs an app registration with the Presence.Read.All application permission; the token
comes from Entra with client credentials and is cached until shortly before it expires.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import aiohttp

from integrations.graph_token import GraphToken
from integrations.presence import Availability

log = logging.getLogger(__name__)
_BATCH = 650  # Graph's limit of ids per getPresencesByUserId call


class GraphPresence:
    """A PresenceSource backed by Graph; failures mean "unknown", never an error."""

    def __init__(self, session: aiohttp.ClientSession, *, api_url: str, token: GraphToken,
                 timeout_s: float = 5.0, on_error: Callable[[], None] = lambda: None) -> None:
        self._session = session
        self._on_error = on_error  # counts failures for /metrics
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def lookup(self, aad_object_ids: Iterable[str]) -> dict[str, Availability]:
        ids = sorted({i for i in aad_object_ids if i})
        found: dict[str, Availability] = {}
        try:
            for start in range(0, len(ids), _BATCH):
                found.update(await self._batch(ids[start : start + _BATCH]))
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as exc:
            # Presence only orders the candidates; without it, answers and timeouts decide.
            log.warning("Graph presence unavailable: %s", type(exc).__name__)
            self._on_error()
        return found

    async def _batch(self, ids: list[str]) -> dict[str, Availability]:
        headers = {"Authorization": f"Bearer {await self._token.bearer()}"}
        url = f"{self._api_url}/communications/getPresencesByUserId"
        async with self._session.post(url, json={"ids": ids}, headers=headers,
                                      timeout=self._timeout) as resp:
            if resp.status == 401:
                self._token.forget()
            resp.raise_for_status()
            body = await resp.json(content_type=None)
        return {
            item["id"]: Availability(
                availability=str(item.get("availability") or "PresenceUnknown"),
                out_of_office=bool((item.get("outOfOfficeSettings") or {}).get("isOutOfOffice")),
            )
            for item in body.get("value", [])
        }
