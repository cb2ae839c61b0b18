"""A loopback Trello REST API: "Create a new Card", as Trello answers it.

`POST /1/cards` takes the API key and token in the `Authorization: OAuth
oauth_consumer_key="…", oauth_token="…"` header or as `key` and `token` query parameters,
and the card's fields as JSON, a form or query parameters. It checks what Trello checks
(the key, then the token, a list id of 24 hex digits that exists, a name of at most 16,384
characters) and answers 200 with the card, or Trello's plain-text refusals ("invalid key",
"invalid token", "invalid value for idList"). Faults: the next calls can answer a status
(429 with Trello's JSON limit body, 5xx, ...) or hang.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Request, serve

_OAUTH_PARAM = re.compile(r'(\w+)="([^"]*)"')
_TRELLO_ID = re.compile(r"[0-9a-f]{24}")
BOARD_ID = "5abbe4b7ddc1b351ef961414"


@dataclass
class Fault:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    hang_s: float = 0.0


@dataclass
class FakeTrello:
    """Start with `await fake.start()`; point the client at `api_url` with `key`, `token`
    and `list_id`."""

    key: str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
    token: str = "ATTA" + "5e" * 30
    list_id: str = "5abbe4b7ddc1b351ef961415"
    requests: list[Request] = field(default_factory=list)
    # One entry per card made: the request's "path", "headers", "query" and "body", and the "card".
    created: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._faults: list[Fault] = []
        self._numbers = itertools.count(1)
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        return f"{self.url}/1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/1/cards", self._create_card)
        self._runner, url = await serve(app)
        self.url = url.rstrip("/")

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, status: int, *, times: int = 1, headers: dict[str, str] | None = None,
                  text: str | None = None) -> None:
        """Answer the next `times` calls with `status`, `headers` and Trello's usual body."""
        self._faults.extend(Fault(status, dict(headers or {}), text) for _ in range(times))

    def hang_next(self, seconds: float) -> None:
        """Hold the next call for `seconds`, then create the card as usual."""
        self._faults.append(Fault(hang_s=seconds))

    async def _create_card(self, request: web.Request) -> web.StreamResponse:
        body: Any
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
        else:
            body = dict(await request.post())
        recorded = Request(request.method, request.path, dict(request.headers), body)
        self.requests.append(recorded)
        response = await self._fault() or self._answer(request, body)
        recorded.status = response.status
        return response

    def _answer(self, request: web.Request, body: Any) -> web.Response:
        oauth = dict(_OAUTH_PARAM.findall(request.headers.get("Authorization", "")))
        key = oauth.get("oauth_consumer_key") or request.query.get("key")
        token = oauth.get("oauth_token") or request.query.get("token")
        if key != self.key:
            return _text(401, "invalid key")
        if token != self.token:
            return _text(401, "invalid token")
        if body is None:
            return _text(400, "Invalid JSON")
        fields = {**request.query, **(body if isinstance(body, dict) else {})}
        list_id = fields.get("idList")
        if not isinstance(list_id, str) or not _TRELLO_ID.fullmatch(list_id):
            return _text(400, "invalid value for idList")
        if list_id != self.list_id:
            return _text(404, "could not find the list")
        name = fields.get("name", "")
        if not isinstance(name, str) or len(name) > 16384:
            return _text(400, "invalid value for name")
        desc = fields.get("desc", "")
        if not isinstance(desc, str) or len(desc) > 16384:
            return _text(400, "invalid value for desc")
        card = self._card(name, desc)
        self.created.append({"path": request.path, "headers": dict(request.headers),
                             "query": dict(request.query), "body": body, "card": card})
        return web.json_response(card)

    def _card(self, name: str, desc: str) -> dict[str, Any]:
        number = next(self._numbers)
        short_link = "".join(secrets.choice(string.ascii_letters + string.digits)
                             for _ in range(8))
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
        return {
            "id": secrets.token_hex(12), "badges": {}, "checkItemStates": [], "closed": False,
            "dateLastActivity": "2026-11-27T09:40:00.000Z", "desc": desc, "descData": {},
            "due": None, "dueComplete": False, "idBoard": BOARD_ID, "idChecklists": [],
            "idLabels": [], "idList": self.list_id, "idMembers": [], "idShort": number,
            "labels": [], "manualCoverAttachment": False, "name": name, "pos": 65536,
            "shortLink": short_link, "shortUrl": f"https://trello.com/c/{short_link}",
            "url": f"https://trello.com/c/{short_link}/{number}-{slug}",
        }

    async def _fault(self) -> web.Response | None:
        if not self._faults:
            return None
        fault = self._faults.pop(0)
        if fault.hang_s:
            try:
                await asyncio.wait_for(self._release.wait(), fault.hang_s)
            except TimeoutError:
                pass
            return None
        if fault.status == 429 and fault.text is None:
            return web.json_response({"error": "API_TOKEN_LIMIT_EXCEEDED",
                                      "message": "Rate limit exceeded"},
                                     status=429, headers=fault.headers)
        usual = {401: "invalid token", 400: "invalid value for idList",
                 404: "could not find the list"}
        text = fault.text if fault.text is not None else usual.get(fault.status,
                                                                   "Internal Server Error")
        return _text(fault.status, text, headers=fault.headers)


def _text(status: int, text: str, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain",
                        headers=headers)
