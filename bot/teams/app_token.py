"""The bot's own access token for calls to the Bot Connector (client credentials, Entra)."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from bot.config import BOT_FRAMEWORK_SCOPE, Settings
from bot.errors import ConnectorError

# Renew this long before Entra's expiry so a token never dies mid-request.
_RENEW_MARGIN_S = 300


class AppTokenProvider:
    """Fetches and caches the app token; one fetch at a time however many callers wait."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._session = session
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        """Local mode sends no Authorization header at all, as the SDK does."""
        return bool(self._settings.app_id)

    async def authorization(self) -> str | None:
        """The `Authorization` header value for an outgoing call, or None in local mode."""
        if not self.enabled:
            return None
        if self._token is None or time.monotonic() >= self._renew_at:
            async with self._lock:
                if self._token is None or time.monotonic() >= self._renew_at:
                    await self._fetch()
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        """Forget the token after the connector said 401, so the next call fetches anew."""
        self._token = None

    async def _fetch(self) -> None:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._settings.app_id,
            "client_secret": self._settings.app_password.get_secret_value(),
            "scope": BOT_FRAMEWORK_SCOPE,
        }
        try:
            async with self._session.post(self._settings.token_url, data=form) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200 or "access_token" not in body:
                    # Entra's error text names the problem (bad secret, unknown app) and no secret.
                    reason = body.get("error_description") or body.get("error") or resp.reason
                    raise ConnectorError(
                        f"token endpoint answered {resp.status}: {str(reason)[:200]}",
                        status=resp.status,
                    )
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            raise ConnectorError(f"token endpoint unreachable: {type(exc).__name__}") from exc
        lifetime = float(body.get("expires_in", 3600))
        self._token = body["access_token"]
        self._renew_at = time.monotonic() + max(lifetime - _RENEW_MARGIN_S, lifetime / 2)
