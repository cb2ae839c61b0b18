"""One Microsoft Graph call with the process's app-only token, in words a person can act on.

Shared by the Graph integrations that create things in Teams (incident channels, private
incident chats): a 401 fetches a new token once; a timeout, an unreachable Graph or a
refused token become `BridgeError`s naming the setting to check.
Graph's errors are `{"error": {"code", "message"}}` (https://learn.microsoft.com/graph/errors).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from bot.errors import BridgeError
from integrations.graph_token import GraphToken

logger = logging.getLogger(__name__)


class GraphCalls:
    """Sends Graph requests for one integration (`provider` names it in errors)."""

    provider = "graph"

    def __init__(self, session: aiohttp.ClientSession, *, api_url: str, token: GraphToken,
                 app_id: str, timeout_s: float = 15.0) -> None:
        self._session = session
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._app_id = app_id
        self._timeout_s = timeout_s

    async def _call(self, method: str, path: str, body: dict[str, Any] | None
                    ) -> tuple[int, dict[str, Any], str | None]:
        async with graph_errors(self.provider, self._timeout_s):
            status, answer, retry_after = await self._send(method, path, body)
            if status == 401:
                logger.info("Graph answered 401; fetching a new token once")
                self._token.forget()
                status, answer, retry_after = await self._send(method, path, body)
        return status, answer, retry_after

    async def _send(self, method: str, path: str, body: dict[str, Any] | None
                    ) -> tuple[int, dict[str, Any], str | None]:
        headers = {"Authorization": f"Bearer {await self._token.bearer()}"}
        async with self._session.request(method, self._api_url + path, json=body,
                                         headers=headers) as resp:
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                answer = None
            return (resp.status, answer if isinstance(answer, dict) else {},
                    resp.headers.get("Retry-After"))



@asynccontextmanager
async def graph_errors(provider: str, timeout_s: float) -> AsyncIterator[None]:
    """Graph calls within `timeout_s`; no answer in time, the token refused, Graph out of
    reach and a token answer without a token become `BridgeError`s that say what to check."""
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except TimeoutError:
        raise BridgeError(f"Microsoft Graph did not answer within {timeout_s:g} s",
                          provider=provider) from None
    except aiohttp.ClientResponseError as exc:  # the token endpoint refused
        if exc.status == 429 or exc.status >= 500:
            raise BridgeError(f"Microsoft Entra was busy issuing the Graph token (HTTP "
                              f"{exc.status})", provider=provider) from None
        raise BridgeError(f"Microsoft Entra refused the Graph app's credentials (HTTP "
                          f"{exc.status}); check GRAPH_TENANT_ID, GRAPH_CLIENT_ID and "
                          "GRAPH_CLIENT_SECRET", provider=provider, retryable=False) from None
    except aiohttp.ClientError as exc:
        raise BridgeError(f"Microsoft Graph could not be reached ({type(exc).__name__})",
                          provider=provider) from None
    except (KeyError, ValueError):  # a token answer without an access_token
        raise BridgeError("Microsoft Entra answered without an access token",
                          provider=provider, retryable=False) from None


def graph_error(answer: dict[str, Any]) -> tuple[str, str]:
    """Graph's error resource: `{"error": {"code": ..., "message": ...}}`."""
    error = answer.get("error")
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or "")[:100], str(error.get("message") or "")[:300]
