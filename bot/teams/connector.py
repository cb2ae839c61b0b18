"""The Bot Connector REST API (`/v3/conversations/...`) over one shared aiohttp session.

The stock SDK builds an msrest client per request and sends through `requests` in a thread
pool (docs/architecture.md, "Performance facts"); this client reuses one connection pool
and raises `ConnectorError` with the status and `Retry-After`, so callers decide about
retries.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from bot.errors import ConnectorError
from bot.teams.app_token import AppTokenProvider

# Conversation ids carry ";messageid=..." and ":"/"@"; Teams expects those unescaped.
_ID_SAFE = ":;=@,.-_~!$&'()*+"


def _path_id(value: str) -> str:
    return quote(value, safe=_ID_SAFE)


def _retry_after(header: str | None) -> float | None:
    """Seconds to wait, from either form of the Retry-After header."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(header)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


class ConnectorClient:
    """Sends, replies, updates, deletes and creates conversations on a channel's service."""

    def __init__(
        self, session: aiohttp.ClientSession, tokens: AppTokenProvider, *, timeout_s: float = 10
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(
        self, service_url: str, conversation_id: str, activity: dict[str, Any]
    ) -> dict[str, Any]:
        """Post a new message to a conversation (a new top-level post in a 1:1 or chat)."""
        path = f"v3/conversations/{_path_id(conversation_id)}/activities"
        return await self._call("POST", service_url, path, activity)

    async def reply(
        self, service_url: str, conversation_id: str, reply_to_id: str, activity: dict[str, Any]
    ) -> dict[str, Any]:
        """Post into the thread of `reply_to_id`."""
        path = (
            f"v3/conversations/{_path_id(conversation_id)}/activities/{_path_id(reply_to_id)}"
        )
        return await self._call("POST", service_url, path, activity)

    async def update(
        self, service_url: str, conversation_id: str, activity_id: str, activity: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace a message (a card) in place."""
        path = (
            f"v3/conversations/{_path_id(conversation_id)}/activities/{_path_id(activity_id)}"
        )
        return await self._call("PUT", service_url, path, activity)

    async def delete(
        self, service_url: str, conversation_id: str, activity_id: str
    ) -> dict[str, Any]:
        """Delete a message."""
        path = (
            f"v3/conversations/{_path_id(conversation_id)}/activities/{_path_id(activity_id)}"
        )
        return await self._call("DELETE", service_url, path, None)

    async def create_conversation(
        self, service_url: str, parameters: dict[str, Any]
    ) -> dict[str, Any]:
        """Start a channel thread or a 1:1 chat; the answer holds the new conversation id."""
        return await self._call("POST", service_url, "v3/conversations", parameters)

    async def get_member(
        self, service_url: str, conversation_id: str, member_id: str
    ) -> dict[str, Any]:
        """Look up one member of a conversation (Teams returns its aadObjectId, email, ...)."""
        path = f"v3/conversations/{_path_id(conversation_id)}/members/{_path_id(member_id)}"
        return await self._call("GET", service_url, path, None)

    async def _call(
        self, method: str, service_url: str, path: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        url = URL(service_url.rstrip("/") + "/" + path, encoded=True)
        headers = {"Content-Type": "application/json"} if body is not None else {}
        data = orjson.dumps(body) if body is not None else None
        authorization = await self._tokens.authorization()
        if authorization:
            headers["Authorization"] = authorization
        try:
            async with self._session.request(
                method, url, data=data, headers=headers, timeout=self._timeout
            ) as resp:
                if resp.status == 401:
                    self._tokens.invalidate()
                if resp.status >= 300:
                    text = (await resp.text())[:300]
                    raise ConnectorError(
                        f"connector {method} /{path} answered {resp.status}: {text}",
                        status=resp.status,
                        retry_after=_retry_after(resp.headers.get("Retry-After")),
                    )
                raw = await resp.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ConnectorError(f"{method} connector unreachable: {type(exc).__name__}") from exc
        try:
            answer = orjson.loads(raw) if raw.strip() else {}
        except orjson.JSONDecodeError:
            return {}
        return answer if isinstance(answer, dict) else {}
