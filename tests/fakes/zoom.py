"""A loopback Zoom: Server-to-Server OAuth tokens and "Create a meeting", as Zoom answers.

`POST /oauth/token` checks the account_credentials grant and the app's Basic auth;
`POST /v2/users/{userId}/meetings` checks the Bearer token and answers 201 with the
fields Zoom documents (including `start_url` with a host key, which must never leak).
Faults: the next calls to an endpoint can answer an error status or hang.

`ZoomWebhooks` sends event notifications as Zoom signs them (written from Zoom's "Using
webhooks" page, not from the bot's code): compact JSON, `x-zm-request-timestamp` in Unix
seconds and `x-zm-signature: v0=<hex HMAC-SHA256(secret token, "v0:{ts}:{body}")>`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Request, serve


@dataclass
class Fault:
    status: int = 0
    retry_after: str | None = None
    hang_s: float = 0.0


@dataclass
class FakeZoom:
    """Start with `await fake.start()`; point zoomus at `api_url` and `oauth_url`."""

    account_id: str = "AcctFake-8dT2kq"
    client_id: str = "zFakeClientId0001"
    client_secret: str = "zFakeSecret-" + "s3cr3t" * 4
    users: set[str] = field(default_factory=lambda: {"me", "oncall@example.com"})
    requests: list[Request] = field(default_factory=list)
    issued_tokens: list[str] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    meetings: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._faults: dict[str, list[Fault]] = {"token": [], "meetings": []}
        self._ids = itertools.count(85_746_065_432)
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        return f"{self.url}/v2"

    @property
    def oauth_url(self) -> str:
        return f"{self.url}/oauth/token"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/oauth/token", self._token)
        app.router.add_post("/v2/users/{user_id}/meetings", self._create_meeting)
        self._runner, url = await serve(app)
        self.url = url.rstrip("/")

    async def stop(self) -> None:
        self._release.set()  # let hung requests finish so the server can close
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, status: int, *, endpoint: str = "meetings", times: int = 1,
                  retry_after: str | None = None) -> None:
        """Answer the next `times` calls to `endpoint` ("token" or "meetings") with `status`."""
        self._faults[endpoint].extend(Fault(status, retry_after) for _ in range(times))

    def hang_next(self, seconds: float, *, endpoint: str = "meetings") -> None:
        """Hold the next call to `endpoint` for `seconds`, then answer normally."""
        self._faults[endpoint].append(Fault(hang_s=seconds))

    def revoke_tokens(self) -> None:
        """Expire every token issued so far, as an hour passing would."""
        self.valid_tokens.clear()

    def calls(self, endpoint: str) -> list[Request]:
        """Requests to "token" or "meetings", in arrival order."""
        marker = "/oauth/token" if endpoint == "token" else "/meetings"
        return [r for r in self.requests if r.path.endswith(marker)]

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = dict(await request.post())
        recorded = self._record(request, form)
        response = await self._fault("token") or self._issue_token(request, form)
        recorded.status = response.status
        return response

    def _issue_token(self, request: web.Request, form: dict[str, Any]) -> web.Response:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}":
            return web.json_response(
                {"reason": "Invalid client_id or client_secret", "error": "invalid_client"},
                status=401,
            )
        if form.get("grant_type") != "account_credentials":
            return web.json_response(
                {"reason": "Unsupported grant type", "error": "unsupported_grant_type"},
                status=400,
            )
        if form.get("account_id") != self.account_id:
            return web.json_response(
                {"reason": "Invalid request : Account ID is not valid",
                 "error": "invalid_request"},
                status=400,
            )
        token = "eyJzdiI6IjAwMDAwMSIsImFsZyI6IkhTNTEyIn0." + secrets.token_urlsafe(48)
        self.issued_tokens.append(token)
        self.valid_tokens.add(token)
        return web.json_response({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 3599,
            "scope": "meeting:write:meeting:admin meeting:read:meeting:admin",
            "api_url": "https://api.zoom.us",
        })

    async def _create_meeting(self, request: web.Request) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        recorded = self._record(request, body)
        response = await self._fault("meetings") or self._meeting(request, body or {})
        recorded.status = response.status
        return response

    def _meeting(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[len("Bearer "):] not in self.valid_tokens:
            return web.json_response({"code": 124, "message": "Invalid access token."},
                                     status=401)
        user_id = request.match_info["user_id"]
        if user_id not in self.users:
            return web.json_response(
                {"code": 1001, "message": f"User does not exist: {user_id}."}, status=404
            )
        invitees = (body.get("settings") or {}).get("meeting_invitees", [])
        if not isinstance(invitees, list) or not all(
            isinstance(i, dict) and isinstance(i.get("email"), str) for i in invitees
        ):
            # What Zoom answers to `"meeting_invitees": ["a@example.com"]`.
            return web.json_response(
                {"code": 300, "message": "Request Body should be a valid JSON object."},
                status=400,
            )
        meeting = self._meeting_json(body)
        self.meetings.append(meeting)
        return web.json_response(meeting, status=201)

    def _meeting_json(self, body: dict[str, Any]) -> dict[str, Any]:
        meeting_id = next(self._ids)
        password = secrets.token_hex(3)
        pwd = secrets.token_urlsafe(24)
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        settings = {
            "host_video": False, "participant_video": False, "join_before_host": False,
            "jbh_time": 0, "mute_upon_entry": False, "waiting_room": True,
            "approval_type": 2, "audio": "voip", "auto_recording": "none",
            **(body.get("settings") or {}),
        }
        return {
            "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
            "id": meeting_id,
            "host_id": "KDcuGIm1QgePTO8WbOqwIQ",
            "host_email": "oncall@example.com",
            "topic": body.get("topic", "Zoom meeting"),
            "type": body.get("type", 2),
            "status": "waiting",
            "start_time": _zoom_time(body.get("start_time")) or now,
            "duration": body.get("duration", 60),
            "timezone": body.get("timezone", "UTC"),
            "created_at": now,
            "start_url": f"https://us05web.zoom.us/s/{meeting_id}?zak={self.host_key}",
            "join_url": f"https://us05web.zoom.us/j/{meeting_id}?pwd={pwd}.1",
            "password": password,
            "h323_password": "583761",
            "pstn_password": "583761",
            "encrypted_password": secrets.token_urlsafe(24),
            "settings": settings,
            "pre_schedule": False,
        }

    @property
    def host_key(self) -> str:
        """The zak in every start_url: whoever has it can start the meeting as the host."""
        return "eyJ0eXAiOiJKV1QiLCJzdiI6IjAwMDAwMSIsInptX3NrbSI6InptX28ybSJ9.HostKeyFake"

    def _record(self, request: web.Request, body: Any) -> Request:
        recorded = Request(request.method, request.path, dict(request.headers), body)
        self.requests.append(recorded)
        return recorded

    async def _fault(self, endpoint: str) -> web.Response | None:
        if not self._faults[endpoint]:
            return None
        fault = self._faults[endpoint].pop(0)
        if fault.hang_s:
            try:
                await asyncio.wait_for(self._release.wait(), fault.hang_s)
            except TimeoutError:
                pass
            return None
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        body = {429: {"code": 429, "message": "You have reached the maximum per-second rate "
                      "limit for this API. Try again later."},
                401: {"code": 124, "message": "Invalid access token."}}.get(
            fault.status, {"code": fault.status, "message": "Internal error"})
        return web.json_response(body, status=fault.status, headers=headers)


def _zoom_time(value: Any) -> str | None:
    """Zoom answers a start_time in UTC as "2025-03-04T15:00:00Z" (the request's timezone
    field only says how to show it)."""
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class ZoomWebhooks:
    """What Zoom's event subscription posts to the bot's endpoint, signed with `secret`."""

    secret: str
    account_id: str = "AcctFake-8dT2kq"

    def signed(self, event: dict[str, Any], *, timestamp: int | None = None,
               secret: str | None = None) -> tuple[dict[str, str], bytes]:
        """Headers and body as Zoom sends them (`timestamp`: now, in seconds)."""
        body = json.dumps(event, separators=(",", ":")).encode()
        ts = str(int(time.time()) if timestamp is None else timestamp)
        mac = hmac.new((secret or self.secret).encode(), b"v0:" + ts.encode() + b":" + body,
                       hashlib.sha256).hexdigest()
        return {"Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Zoom Marketplace/1.1a", "x-zm-request-timestamp": ts,
                "x-zm-signature": f"v0={mac}",
                "x-zm-trackingid": "v=2.0;clid=aw1;rid=" + secrets.token_hex(8)}, body

    def url_validation(self, plain_token: str) -> dict[str, Any]:
        return {"event": "endpoint.url_validation",
                "payload": {"plainToken": plain_token}, "event_ts": int(time.time() * 1000)}

    def participant(self, event: str, meeting: dict[str, Any], *, name: str,
                    email: str = "", key: str = "", at: datetime | None = None
                    ) -> dict[str, Any]:
        """`meeting.participant_joined` / `meeting.participant_left` for `meeting` (as
        the fake created it)."""
        when = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        key = key or "p-" + name.lower().replace(" ", "-")
        person = {"user_id": str(abs(hash(key)) % 10**8), "user_name": name,
                  "id": "", "participant_uuid": key, "email": email,
                  "join_time" if event.endswith("joined") else "leave_time": when}
        if event.endswith("left"):
            person["leave_reason"] = "left the meeting"
        return {"event": f"meeting.participant_{event}", "event_ts": int(time.time() * 1000),
                "payload": {"account_id": self.account_id, "object": {
                    "id": str(meeting["id"]), "uuid": meeting["uuid"],
                    "host_id": meeting["host_id"], "topic": meeting["topic"], "type": 2,
                    "start_time": meeting["start_time"], "timezone": "UTC", "duration": 60,
                    "participant": person}}}
