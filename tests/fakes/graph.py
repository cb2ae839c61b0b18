"""A loopback Microsoft Graph: Entra client-credentials token and presence by user id."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serve


@dataclass
class FakeGraph:
    """`presence[aad_id] = ("Offline", out_of_office)`; unknown ids are left out."""

    presence: dict[str, tuple[str, bool]] = field(default_factory=dict)
    lookups: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    url: str = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1.0/communications/getPresencesByUserId", self._presences)
        self._runner, self.url = await serve(app)

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("scope") != "https://graph.microsoft.com/.default":
            return web.json_response({"error": "invalid_scope"}, status=400)
        self.tokens_issued += 1
        return web.json_response({"access_token": f"graph-{self.tokens_issued}",
                                  "expires_in": 3599, "token_type": "Bearer"})

    async def _presences(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer graph-"):
            return web.json_response({"error": {"code": "InvalidAuthenticationToken"}},
                                     status=401)
        body = await request.json()
        self.lookups.append({"ids": body["ids"], "auth": request.headers["Authorization"]})
        value = [
            {"id": i, "availability": self.presence[i][0], "activity": self.presence[i][0],
             "outOfOfficeSettings": {"message": None, "isOutOfOffice": self.presence[i][1]}}
            for i in body["ids"] if i in self.presence
        ]
        return web.json_response({"value": value})
