"""A loopback Google: OAuth token endpoint, Meet REST v2 and Calendar v3 events.

Meet's conference records (who was in a space: `conferenceRecords`, their `participants`
and each participant's `participantSessions`) answer in pages of `page_size` with a
`nextPageToken`, as https://developers.google.com/workspace/meet/api/guides/participants
describes; `join`/`leave` make people come and go. A list filtered on anything but
`space.name = "..."` is 400, as is an unknown page token.

With `client_options={"api_endpoint": fake.url}` google-api-python-client sends Meet
requests to `/v2/spaces` and Calendar ones to `/calendars/primary/events` (the endpoint
replaces rootUrl + servicePath, so there is no `/calendar/v3`). The token endpoint takes
the service account's JWT-bearer grant and checks its signature with the test key.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.loopback import serve

MEET_SCOPE = "https://www.googleapis.com/auth/meetings.space.created"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.events"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth always addresses its assertion to Google's endpoint, whatever token_uri says.
ASSERTION_AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class Request:
    """One request that reached the fake."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Grant:
    """A token the fake issued: to whom, for whom, for what."""

    token: str
    iss: str
    sub: str | None
    scopes: set[str]


@dataclass
class Fault:
    status: int = 0
    retry_after: str | None = None
    hang_s: float = 0.0
    reason: str | None = None


@dataclass
class ServiceAccount:
    """A service-account key file and what the fake needs to check its assertions."""

    path: Path
    client_email: str
    private_key_pem: str
    public_key: Any


def write_service_account(directory: Path, token_uri: str) -> ServiceAccount:
    """Write a service-account JSON (fresh RSA key) whose token_uri is the fake."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = "incident-bot@incident-bot-test.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": "incident-bot-test",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": "104729384756102938475",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/x",
        "universe_domain": "googleapis.com",
    }
    path = directory / "service-account.json"
    path.write_text(json.dumps(info))
    return ServiceAccount(path, email, pem, key.public_key())


@dataclass
class FakeGoogle:
    """Start with `await fake.start()`; `url` is the api_endpoint, `token_uri` the token URL."""

    public_key: Any = None
    meet_api_enabled: bool = True
    # None: every scope is granted to the delegation; else only these.
    granted_scopes: set[str] | None = None
    pending_polls: int = 1
    requests: list[Request] = field(default_factory=list)
    grants: list[Grant] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (event id, email) for every invitation email Calendar sent (sendUpdates=all).
    invitations: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""
    # Conference records (each {"name", "space", "startTime"}), their participants and the
    # participants' sessions, keyed by parent name; `page_size` items a page.
    conferences: list[dict[str, Any]] = field(default_factory=list)
    participants: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sessions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    page_size: int = 2

    def __post_init__(self) -> None:
        self._faults: dict[str, list[Fault]] = {"token": [], "meet": [], "calendar": [],
                                                "records": []}
        self._polls: dict[str, int] = {}
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def token_uri(self) -> str:
        return f"{self.url}token"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v2/spaces", self._create_space)
        app.router.add_get("/v2/conferenceRecords", self._records)
        app.router.add_get("/v2/conferenceRecords/{record}/participants", self._records)
        app.router.add_get(
            "/v2/conferenceRecords/{record}/participants/{participant}/participantSessions",
            self._records)
        app.router.add_post("/calendars/{calendar}/events", self._insert_event)
        app.router.add_get("/calendars/{calendar}/events/{event_id}", self._get_event)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner, self.url = await serve(app)

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, status: int, *, endpoint: str = "meet", times: int = 1,
                  retry_after: str | None = None, reason: str | None = None) -> None:
        """Answer the next calls to "token", "meet" or "calendar" with `status` (and an
        ErrorInfo `reason`, e.g. "RATE_LIMIT_EXCEEDED")."""
        self._faults[endpoint].extend(
            Fault(status, retry_after, reason=reason) for _ in range(times)
        )

    def hang_next(self, seconds: float, *, endpoint: str = "meet") -> None:
        """Hold the next call to `endpoint` for `seconds`, then answer normally."""
        self._faults[endpoint].append(Fault(hang_s=seconds))

    def calls(self, endpoint: str) -> list[Request]:
        """Requests to "token", "meet" or "calendar", in arrival order."""
        prefix = {"token": "/token", "meet": "/v2/spaces", "calendar": "/calendars/",
                  "records": "/v2/conferenceRecords"}[endpoint]
        return [r for r in self.requests if r.path.startswith(prefix)]

    # --- token endpoint -------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = dict(await request.post())
        recorded = self._record(request, form)
        response = await self._fault("token") or self._grant(form)
        recorded.status = response.status
        return response

    def _grant(self, form: dict[str, Any]) -> web.Response:
        if form.get("grant_type") != JWT_BEARER:
            return _oauth_error(400, "unsupported_grant_type", "Invalid grant_type.")
        try:
            claims = jwt.decode(str(form.get("assertion")), self.public_key,
                                algorithms=["RS256"], audience=ASSERTION_AUDIENCE)
        except jwt.PyJWTError:
            return _oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        scopes = set(str(claims.get("scope", "")).split())
        if self.granted_scopes is not None and not scopes <= self.granted_scopes:
            return _oauth_error(
                401, "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or "
                "client not authorized for any of the scopes requested.",
            )
        token = "ya29.c.fake-" + secrets.token_urlsafe(48)
        self.grants.append(Grant(token, claims["iss"], claims.get("sub"), scopes))
        return web.json_response(
            {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}
        )

    def _grant_for(self, request: web.Request, scope: str) -> Grant | web.Response:
        auth = request.headers.get("Authorization", "")
        grant = next((g for g in self.grants if auth == f"Bearer {g.token}"), None)
        if grant is None:
            return _api_error(401, "UNAUTHENTICATED", "Request had invalid authentication "
                              "credentials. Expected OAuth 2 access token.",
                              reason="ACCESS_TOKEN_TYPE_UNSUPPORTED")
        if scope not in grant.scopes:
            return _api_error(403, "PERMISSION_DENIED",
                              "Request had insufficient authentication scopes.",
                              reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT")
        return grant

    # --- Meet REST v2 -----------------------------------------------------------------

    async def _create_space(self, request: web.Request) -> web.StreamResponse:
        recorded = self._record(request, await _json(request))
        response = await self._fault("meet") or self._space(request)
        recorded.status = response.status
        return response

    def _space(self, request: web.Request) -> web.Response:
        if not self.meet_api_enabled:
            return _service_disabled()
        grant = self._grant_for(request, MEET_SCOPE)
        if isinstance(grant, web.Response):
            return grant
        code = "abc-mnop-xyz"
        return web.json_response({
            "name": "spaces/jQCFfuBOdN5z",
            "meetingUri": f"https://meet.google.com/{code}",
            "meetingCode": code,
            "config": {"accessType": "TRUSTED", "entryPointAccess": "ALL"},
        })

    def join(self, name: str, *, at: datetime, space: str = "spaces/jQCFfuBOdN5z",
             signed_in: bool = True) -> str:
        """`name` joins the space's current conference (one is started if none is on):
        the session's resource name, for `leave`."""
        record = next((c for c in self.conferences if c["space"] == space
                       and "endTime" not in c), None)
        if record is None:
            record = {"name": f"conferenceRecords/{secrets.token_hex(8)}", "space": space,
                      "startTime": _rfc3339(at)}
            self.conferences.append(record)
        people = self.participants.setdefault(record["name"], [])
        kind = "signedinUser" if signed_in else "anonymousUser"
        person = next((p for p in people if (p.get(kind) or {}).get("displayName") == name),
                      None)
        if person is None:
            person = {"name": f"{record['name']}/participants/{len(people) + 1000}",
                      kind: {"displayName": name, **({"user": f"users/{len(people) + 1}"}
                                                     if signed_in else {})},
                      "earliestStartTime": _rfc3339(at)}
            people.append(person)
        person.pop("latestEndTime", None)
        stays = self.sessions.setdefault(person["name"], [])
        session = {"name": f"{person['name']}/participantSessions/{len(stays) + 1}",
                   "startTime": _rfc3339(at)}
        stays.append(session)
        return str(session["name"])

    def leave(self, session_name: str, *, at: datetime) -> None:
        """The session ends (its participant's latest end time with it)."""
        participant = session_name.rsplit("/participantSessions/", 1)[0]
        for session in self.sessions.get(participant, []):
            if session["name"] == session_name:
                session["endTime"] = _rfc3339(at)
        for people in self.participants.values():
            for person in people:
                if person["name"] == participant:
                    person["latestEndTime"] = _rfc3339(at)

    async def _records(self, request: web.Request) -> web.StreamResponse:
        recorded = self._record(request, None)
        response = await self._fault("records") or self._list_records(request)
        recorded.status = response.status
        return response

    def _list_records(self, request: web.Request) -> web.Response:
        if not self.meet_api_enabled:
            return _service_disabled()
        grant = self._grant_for(request, MEET_SCOPE)
        if isinstance(grant, web.Response):
            return grant
        info = request.match_info
        if "participant" in info:
            field_name = "participantSessions"
            items = self.sessions.get(f"conferenceRecords/{info['record']}/participants/"
                                      f"{info['participant']}", [])
        elif "record" in info:
            field_name = "participants"
            items = self.participants.get(f"conferenceRecords/{info['record']}", [])
        else:
            field_name = "conferenceRecords"
            wanted = _space_filter(request.query.get("filter", ""))
            if wanted is None:
                return _api_error(400, "INVALID_ARGUMENT", "Invalid filter.")
            items = [c for c in self.conferences if c["space"] == wanted]
        token = request.query.get("pageToken") or "0"
        if not token.isdigit() or int(token) > len(items):
            return _api_error(400, "INVALID_ARGUMENT", "Invalid page token.")
        start = int(token)
        page: dict[str, Any] = {field_name: items[start:start + self.page_size]}
        if start + self.page_size < len(items):
            page["nextPageToken"] = str(start + self.page_size)
        return web.json_response(page)

    # --- Calendar v3 -------------------------------------------------------------------

    async def _insert_event(self, request: web.Request) -> web.StreamResponse:
        recorded = self._record(request, await _json(request))
        response = await self._fault("calendar") or self._insert(request, recorded.body or {})
        recorded.status = response.status
        return response

    def _insert(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        grant = self._grant_for(request, CALENDAR_SCOPE)
        if isinstance(grant, web.Response):
            return grant
        event_id = body.get("id") or secrets.token_hex(13)
        if event_id in self.events:
            return _calendar_error(409, "duplicate", "The requested identifier already exists.")
        attendees = body.get("attendees") or []
        if any("@" not in str(a.get("email", "")) for a in attendees):
            return _calendar_error(400, "invalid", "Invalid attendee email.")
        organizer = grant.sub or grant.iss
        event = _event(event_id, body, organizer=organizer)
        if request.query.get("sendUpdates") in ("all", "externalOnly"):
            self.invitations.extend(
                (event_id, a["email"]) for a in event.get("attendees", []) if not a.get("self")
            )
        if request.query.get("conferenceDataVersion") == "1" and "conferenceData" in body:
            create = body["conferenceData"].get("createRequest") or {}
            event["conferenceData"] = {
                "createRequest": {**create, "status": {"statusCode": "pending"}}
            }
            self._polls[event_id] = self.pending_polls
        self.events[event_id] = event
        return web.json_response(event)

    async def _get_event(self, request: web.Request) -> web.StreamResponse:
        recorded = self._record(request, None)
        response = await self._fault("calendar") or self._get(request)
        recorded.status = response.status
        return response

    def _get(self, request: web.Request) -> web.Response:
        grant = self._grant_for(request, CALENDAR_SCOPE)
        if isinstance(grant, web.Response):
            return grant
        event = self.events.get(request.match_info["event_id"])
        if event is None:
            return _calendar_error(404, "notFound", "Not Found")
        left = self._polls.get(event["id"], 0)
        if left > 0:
            self._polls[event["id"]] = left - 1
        if left <= 1 and "conferenceData" in event:
            _conference_ready(event)
        return web.json_response(event)

    # --- plumbing ------------------------------------------------------------------------

    async def _unknown(self, request: web.Request) -> web.Response:
        self._record(request, await _json(request))
        return web.Response(status=404, text=f"<!DOCTYPE html>Not Found: {request.path}")

    def _record(self, request: web.Request, body: Any) -> Request:
        recorded = Request(request.method, request.path, dict(request.query),
                           dict(request.headers), body)
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
        if endpoint == "token":
            return _oauth_error(fault.status, "server_error", "injected", headers)
        status_name = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                       429: "RESOURCE_EXHAUSTED"}.get(fault.status, "INTERNAL")
        return _api_error(fault.status, status_name, "injected fault", reason=fault.reason,
                          headers=headers)


def _event(event_id: str, body: dict[str, Any], *, organizer: str) -> dict[str, Any]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    event: dict[str, Any] = {
        "kind": "calendar#event",
        "etag": '"3426598765432000"',
        "id": event_id,
        "status": "confirmed",
        "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
        "created": now,
        "updated": now,
        "summary": body.get("summary", ""),
        "creator": {"email": organizer, "self": True},
        "organizer": {"email": organizer, "self": True},
        "start": _event_time(body.get("start")),
        "end": _event_time(body.get("end")),
        "iCalUID": f"{event_id}@google.com",
        "sequence": 0,
        "reminders": {"useDefault": True},
        "eventType": "default",
    }
    if body.get("attendees"):
        # Guests have not answered yet; the organizer, if listed, is marked as such.
        event["attendees"] = [
            {"email": a["email"], "organizer": True, "self": True,
             "responseStatus": "accepted"}
            if a["email"].casefold() == organizer.casefold()
            else {"email": a["email"], "responseStatus": "needsAction"}
            for a in body["attendees"]
        ]
    return event


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _space_filter(text: str) -> str | None:
    """The space a `space.name = "spaces/..."` filter names, or None for another filter."""
    name, sep, value = text.partition("=")
    value = value.strip()
    if not sep or name.strip() != "space.name" or len(value) < 2 or value[0] != '"' \
            or value[-1] != '"':
        return None
    return value[1:-1]


def _event_time(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Calendar answers a UTC dateTime as "2025-03-04T15:00:00Z", whatever it was sent as."""
    if not value or "dateTime" not in value or value.get("timeZone") != "UTC":
        return value
    parsed = datetime.fromisoformat(value["dateTime"])
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return {**value, "dateTime": parsed.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _conference_ready(event: dict[str, Any]) -> None:
    code = "qwe-rtyu-iop"
    event["hangoutLink"] = f"https://meet.google.com/{code}"
    conference = event["conferenceData"]
    conference["createRequest"]["status"] = {"statusCode": "success"}
    conference["entryPoints"] = [
        {"entryPointType": "video", "uri": f"https://meet.google.com/{code}",
         "label": f"meet.google.com/{code}"},
        {"entryPointType": "more", "uri": "https://tel.meet/qwe-rtyu-iop?pin=123", "pin": "123"},
    ]
    conference["conferenceSolution"] = {
        "key": {"type": "hangoutsMeet"},
        "name": "Google Meet",
        "iconUri": "https://fonts.gstatic.com/s/i/productlogos/meet_2020q4/v6/"
                   "web-512dp/logo_meet_2020q4_color_2x_web_512dp.png",
    }
    conference["conferenceId"] = code


def _service_disabled() -> web.Response:
    project = "104729384756"
    console = ("https://console.developers.google.com/apis/api/meet.googleapis.com/"
               f"overview?project={project}")
    message = (
        f"Google Meet REST API has not been used in project {project} before or it is "
        f"disabled. Enable it by visiting {console} then retry. If you enabled this "
        "API recently, wait a few minutes for the action to propagate to our systems and "
        "retry."
    )
    details = [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED",
         "domain": "googleapis.com",
         "metadata": {"service": "meet.googleapis.com", "consumer": f"projects/{project}"}},
        {"@type": "type.googleapis.com/google.rpc.Help", "links": [
            {"description": "Google developers console API activation",
             "url": console}]},
    ]
    return web.json_response(
        {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED",
                   "details": details}},
        status=403,
    )


def _api_error(status: int, status_name: str, message: str, *, reason: str | None = None,
               headers: dict[str, str] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": status_name}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                             "reason": reason, "domain": "googleapis.com"}]
    return web.json_response({"error": error}, status=status, headers=headers)


def _calendar_error(status: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"errors": [{"domain": "global", "reason": reason, "message": message}],
                   "code": status, "message": message}},
        status=status,
    )


def _oauth_error(status: int, error: str, description: str,
                 headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": error, "error_description": description},
                             status=status, headers=headers)


async def _json(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    text = await request.text()
    return json.loads(text) if text else None
