"""An app-only Microsoft Graph token (client credentials), cached until shortly before it
expires and shared by every Graph integration of one process."""

from __future__ import annotations

import asyncio
import time

import aiohttp

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class GraphToken:
    """`await token.bearer()` gives a valid access token; `forget()` after a 401."""

    def __init__(self, session: aiohttp.ClientSession, *, token_url: str, client_id: str,
                 client_secret: str, timeout_s: float = 5.0) -> None:
        self._session = session
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        """Graph said the token is no longer good: fetch a new one next time."""
        self._token = None

    async def bearer(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                form = {"grant_type": "client_credentials", "client_id": self._client_id,
                        "client_secret": self._client_secret, "scope": GRAPH_SCOPE}
                async with self._session.post(self._token_url, data=form,
                                              timeout=self._timeout) as resp:
                    resp.raise_for_status()
                    body = await resp.json(content_type=None)
                lifetime = float(body.get("expires_in", 3600))
                self._token = str(body["access_token"])
                self._renew_at = time.monotonic() + max(lifetime - 300, lifetime / 2)
            return self._token
