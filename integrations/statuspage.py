"""External updates mirrored to Atlassian Statuspage, through its REST API over aiohttp.

`POST {api}/pages/{page_id}/incidents` opens an incident with its first update;
`PATCH {api}/pages/{page_id}/incidents/{incident_id}` adds each later one. Bodies are JSON
(`{"incident": {"name", "status", "body", "component_ids", "components"}}`) and the key goes
in `Authorization: OAuth <key>`. Failures become `StatuspageError`: 420/429 (Statuspage's
rate limits), 408 and 5xx are retryable, honouring `Retry-After`; other refusals are final.

Creating an incident is not idempotent: after a timeout it may exist all the same, so a
retry can open a second one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from bot.errors import ProviderError

log = logging.getLogger(__name__)

USER_AGENT = "incident-bot"
_MESSAGE_MAX_CHARS = 200


class StatuspageError(ProviderError):
    """Statuspage did not take the update."""


@dataclass(frozen=True)
class PublicPost:
    """One external update as a status service needs it."""

    title: str
    status: str
    body: str
    components: tuple[str, ...]


class StatusService(Protocol):
    """Somewhere customers read incident updates; raises `StatuspageError`."""

    async def post(self, post: PublicPost, *, incident_id: str | None) -> str:
        """Open an incident (no `incident_id`) or update it; the service's incident id."""
        ...


class Statuspage:
    """One Statuspage page, one API key; component names map to Statuspage ids."""

    def __init__(self, session: aiohttp.ClientSession, *, page_id: str, api_key: str,
                 api_url: str = "https://api.statuspage.io/v1",
                 components: dict[str, str] | None = None, timeout_s: float = 10) -> None:
        self._session = session
        self._key = api_key
        self._page = page_id
        self._url = f"{api_url.rstrip('/')}/pages/{page_id}/incidents"
        self._components = {k: v for k, v in (components or {}).items() if v}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def __repr__(self) -> str:
        return f"Statuspage(page_id={self._page!r}, url={self._url!r})"

    async def post(self, post: PublicPost, *, incident_id: str | None) -> str:
        """Create the Statuspage incident, or PATCH the existing one with this update."""
        fields: dict[str, Any] = {"status": post.status, "body": post.body}
        ids = [self._components[name] for name in post.components if name in self._components]
        if ids:
            fields["component_ids"] = ids
            if post.status == "resolved":
                fields["components"] = {i: "operational" for i in ids}
        if incident_id is None:
            fields["name"] = post.title
            method, url = "POST", self._url
        else:
            method, url = "PATCH", f"{self._url}/{incident_id}"
        answer = await self._call(method, url, {"incident": fields})
        if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
            raise StatuspageError("Statuspage's answer has no incident id", retryable=False)
        statuspage_id: str = answer["id"]
        return statuspage_id

    async def _call(self, method: str, url: str, payload: dict[str, Any]) -> Any:
        headers = {"Authorization": f"OAuth {self._key}", "User-Agent": USER_AGENT}
        try:
            async with self._session.request(method, url, json=payload, headers=headers,
                                             timeout=self._timeout) as resp:
                answer = await _json(resp)
                if resp.status >= 300:
                    raise self._refusal(resp.status, resp.headers.get("Retry-After"), answer)
                return answer
        except TimeoutError:
            raise StatuspageError("Statuspage did not answer in time", retryable=True) from None
        except aiohttp.ClientError as exc:
            raise StatuspageError(f"Statuspage could not be reached ({type(exc).__name__})",
                                  retryable=True) from None

    def _refusal(self, status: int, retry_after: str | None, answer: Any) -> StatuspageError:
        rate_limited = status in (420, 429)
        retryable = rate_limited or status == 408 or status >= 500
        wait = None
        if retryable and retry_after:
            try:
                wait = max(0.0, float(retry_after))
            except ValueError:
                wait = None
        said = _message(answer)
        message = f"Statuspage {'failed' if status >= 500 else 'refused'} the update ({status})"
        message += f": {said}" if said else ""
        message = message.replace(self._key, "[key]") if self._key else message
        log.warning("%s (retryable: %s)", message, retryable)
        return StatuspageError(message, retryable=retryable, retry_after=wait, status=status)


async def _json(resp: aiohttp.ClientResponse) -> Any:
    try:
        return await resp.json(content_type=None)
    except ValueError:
        return None


def _message(answer: Any) -> str:
    """Statuspage's own words: `error` (a string or a list) or `message`."""
    if not isinstance(answer, dict):
        return ""
    said = answer.get("error") or answer.get("message") or ""
    if isinstance(said, list):
        said = "; ".join(str(s) for s in said)
    return str(said)[:_MESSAGE_MAX_CHARS]
