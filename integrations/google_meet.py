"""Google Meet rooms through google-api-python-client, as a delegated Workspace user.

Who is in a room comes from the Meet REST API's conference records, with the same
`meetings.space.created` scope (the space was created by this app): `conferenceRecords.list`
filtered on `space.name = "spaces/..."`, each record's `participants.list`, and each
participant's `participantSessions.list`, every list followed through its `nextPageToken`
(https://developers.google.com/workspace/meet/api/guides/participants). Only rooms made
with `spaces.create` can be read so; a room made through Calendar is not followed.

The Meet REST API (`spaces.create`) is tried first. Where it is not enabled for the
service account's project, or the admin did not grant its scope, rooms come from a
Calendar event with a Meet conference instead, and the bridge remembers that choice.
The client is synchronous: every request runs in a worker thread, on its own
`httplib2.Http` (they are not thread-safe) with a socket timeout, under one deadline.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import httplib2
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.oauth2 import service_account
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import HttpRequest

from bot.errors import BridgeError
from integrations.video import Meeting, Room, Stay, invitees, meeting_start

logger = logging.getLogger(__name__)

PROVIDER = "meet"
MEET_SCOPE = "https://www.googleapis.com/auth/meetings.space.created"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.events"
EVENT_LENGTH = timedelta(hours=1)
# Attendance reads follow at most this many pages of each list (100 participants a page).
MAX_PAGES = 20
# Calendar sets the conference up asynchronously; it is usually ready on the first look.
POLL_DELAYS_S = (0.25, 0.5, 1.0, 2.0)
# Google's reasons for a 403 that only means "slow down".
_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}

T = TypeVar("T")
Service = Any  # googleapiclient builds its resources at run time from discovery JSON


class MeetBridge:
    """Creates Meet rooms as `delegated_user`, with a service account's domain-wide delegation."""

    name = PROVIDER

    def __init__(
        self,
        *,
        service_account_file: str,
        delegated_user: str,
        api_endpoint: str = "",
        timeout_s: float = 15.0,
        poll_delays_s: Sequence[float] = POLL_DELAYS_S,
    ) -> None:
        try:
            # google-auth leaves from_service_account_file() unannotated.
            credentials = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                service_account_file, subject=delegated_user
            )
        except (OSError, ValueError) as exc:
            raise BridgeError(
                f"the Google service account file cannot be used ({type(exc).__name__})",
                provider=PROVIDER,
                retryable=False,
            ) from exc
        # One token per API: an admin may grant Calendar's scope without Meet's.
        self._credentials = {
            "meet": credentials.with_scopes([MEET_SCOPE]),
            "calendar": credentials.with_scopes([CALENDAR_SCOPE]),
        }
        self._api_endpoint = api_endpoint
        self._timeout_s = timeout_s
        self._poll_delays_s = tuple(poll_delays_s)
        self._services: dict[str, Service] = {}
        self.calendar_only = False

    async def create_room(self, *, topic: str, request_id: str) -> Room:
        """Create a Meet room now; a retry with the same `request_id` finds the same one."""
        room = await self._guarded(self._create(topic, request_id), "create the room")
        logger.info("meet room %s created for request %s", room.meeting_id, request_id)
        return room

    async def schedule_meeting(
        self,
        *,
        topic: str,
        starts_at: datetime,
        duration_min: int,
        attendees: Sequence[str],
        request_id: str,
    ) -> Meeting:
        """Schedule a Calendar event with a Meet conference that Google sends to `attendees`;
        a retry with the same `request_id` finds the same event."""
        start = meeting_start(starts_at, duration_min)
        emails = invitees(attendees)
        body = _event_body(topic, request_id, start, start + timedelta(minutes=duration_min))
        body["attendees"] = [{"email": e} for e in emails]
        event = await self._guarded(
            self._insert_event(body, send_updates="all"), "schedule the meeting"
        )
        room = _room_from_event(event)
        meeting = Meeting(
            provider=PROVIDER,
            join_url=room.join_url,
            starts_at=_event_start(event) or start,
            meeting_id=room.meeting_id,
            invited=emails,
        )
        logger.info("meet meeting %s scheduled for request %s", meeting.meeting_id, request_id)
        return meeting

    async def attendance(self, meeting_id: str) -> list[Stay]:
        """Every stay in the space `meeting_id` ("spaces/..."), over all its conferences."""
        return await self._guarded(self._stays(meeting_id), "read who is in the room")

    async def _stays(self, space: str) -> list[Stay]:
        quoted = space.replace("\\", "").replace('"', "")
        stays: list[Stay] = []
        for record in await self._all("conferenceRecords", _records,
                                      filter=f'space.name = "{quoted}"'):
            for participant in await self._all("participants", _participants,
                                               parent=record["name"]):
                name = _display_name(participant)
                for session in await self._all("participantSessions", _sessions,
                                               parent=participant["name"]):
                    joined = _google_time(session.get("startTime"))
                    if joined is None or not isinstance(session.get("name"), str):
                        continue
                    stays.append(Stay(_stay_key(session["name"]), name, joined,
                                      _google_time(session.get("endTime"))))
        return stays

    async def _all(self, field: str, resource: Callable[[Service], Any],
                   **query: str) -> list[dict[str, Any]]:
        """Every item of a paged Meet list (at most MAX_PAGES pages)."""
        items: list[dict[str, Any]] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page_query = {**query, **({"pageToken": token} if token else {})}
            page = await self._execute("meet", partial(_page, resource, page_query))
            items += [i for i in page.get(field) or [] if isinstance(i, dict)]
            token = page.get("nextPageToken") or None
            if token is None:
                break
        return items

    async def _guarded(self, work: Awaitable[T], action: str) -> T:
        """Run `work` under the deadline, turning Google's failures into BridgeError."""
        try:
            async with asyncio.timeout(self._timeout_s):
                return await work
        except TimeoutError:
            raise BridgeError(
                f"Google did not answer within {self._timeout_s:g} s", provider=PROVIDER
            ) from None
        except HttpError as exc:
            raise _error_from_http(exc, action) from exc
        except RefreshError as exc:
            raise BridgeError(
                f"Google refused the service account a token ({_first_line(exc)})",
                provider=PROVIDER,
                retryable=exc.retryable,
            ) from exc
        except (TransportError, httplib2.HttpLib2Error, OSError) as exc:
            raise BridgeError(
                f"Google could not be reached ({type(exc).__name__})", provider=PROVIDER
            ) from exc

    async def _create(self, topic: str, request_id: str) -> Room:
        if not self.calendar_only:
            try:
                return await self._create_space()
            except (HttpError, RefreshError) as exc:
                if not _meet_api_unavailable(exc):
                    raise
                logger.warning(
                    "the Meet API is not available to the service account (%s); "
                    "creating rooms through Calendar from now on",
                    _first_line(exc),
                )
                self.calendar_only = True
        return await self._create_event(topic, request_id)

    async def _create_space(self) -> Room:
        space = await self._execute("meet", lambda meet: meet.spaces().create(body={}))
        return Room(
            provider=PROVIDER,
            join_url=space["meetingUri"],
            meeting_id=space.get("name"),
            passcode=space.get("meetingCode"),
        )

    async def _create_event(self, topic: str, request_id: str) -> Room:
        start = datetime.now(UTC).replace(microsecond=0)
        body = _event_body(topic, request_id, start, start + EVENT_LENGTH)
        return _room_from_event(await self._insert_event(body))

    async def _insert_event(
        self, body: dict[str, Any], *, send_updates: str | None = None
    ) -> dict[str, Any]:
        """Insert the event (or find it, if an earlier try of the request made it) and wait
        while Google sets its conference up."""
        options = {"sendUpdates": send_updates} if send_updates else {}
        try:
            event = await self._execute(
                "calendar",
                lambda cal: cal.events().insert(
                    calendarId="primary", conferenceDataVersion=1, body=body, **options
                ),
            )
        except HttpError as exc:
            if exc.status_code != 409:
                raise
            # An earlier try of this request created the event (its id comes from
            # request_id) but its answer never arrived: use that event.
            event = await self._get_event(body["id"])
        for delay in self._poll_delays_s:
            if _conference_status(event) != "pending":
                break
            await asyncio.sleep(delay)
            event = await self._get_event(event["id"])
        return event

    async def _get_event(self, event_id: str) -> dict[str, Any]:
        return await self._execute(
            "calendar", lambda cal: cal.events().get(calendarId="primary", eventId=event_id)
        )

    async def _execute(
        self, api: str, make_request: Callable[[Service], HttpRequest]
    ) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            http = AuthorizedHttp(
                self._credentials[api], http=httplib2.Http(timeout=self._timeout_s)
            )
            try:
                answer: dict[str, Any] = make_request(self._service(api)).execute(http=http)
                return answer
            finally:
                http.close()

        return await asyncio.to_thread(call)

    def _service(self, api: str) -> Service:
        # Built on first use, in a worker thread: parsing the discovery JSON takes a while.
        if api not in self._services:
            version = {"meet": "v2", "calendar": "v3"}[api]
            options = {"api_endpoint": self._api_endpoint} if self._api_endpoint else None
            self._services[api] = build(
                api,
                version,
                credentials=self._credentials[api],
                static_discovery=True,
                cache_discovery=False,
                client_options=options,
            )
        return self._services[api]


def _event_body(topic: str, request_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    return {
        "id": _event_id(request_id),
        "summary": topic,
        "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
        "end": {"dateTime": end.isoformat(), "timeZone": "UTC"},
        "conferenceData": {
            "createRequest": {
                "requestId": request_id,
                "conferenceSolutionKey": {"type": "hangoutsMeet"},
            }
        },
    }


def _event_id(request_id: str) -> str:
    """A Calendar event id (base32hex: 0-9, a-v) derived from the request id."""
    digest = hashlib.sha256(request_id.encode()).digest()[:20]
    return base64.b32hexencode(digest).decode().lower()


def _conference_status(event: dict[str, Any]) -> str | None:
    request = (event.get("conferenceData") or {}).get("createRequest") or {}
    return (request.get("status") or {}).get("statusCode")


def _room_from_event(event: dict[str, Any]) -> Room:
    status = _conference_status(event)
    conference = event.get("conferenceData") or {}
    video = [e for e in conference.get("entryPoints") or [] if e.get("entryPointType") == "video"]
    join_url = event.get("hangoutLink") or (video[0].get("uri") if video else None)
    if status == "pending":
        raise BridgeError("Google is still setting up the Meet conference", provider=PROVIDER)
    if status == "failure" or not join_url:
        raise BridgeError(
            "Google Calendar did not attach a Meet conference to the event; is Meet "
            "enabled for the delegated user?",
            provider=PROVIDER,
            retryable=False,
        )
    code = conference.get("conferenceId") or (video[0].get("meetingCode") if video else None)
    return Room(provider=PROVIDER, join_url=join_url, meeting_id=event.get("id"), passcode=code)


def _records(meet: Service) -> Any:
    return meet.conferenceRecords()


def _participants(meet: Service) -> Any:
    return meet.conferenceRecords().participants()


def _sessions(meet: Service) -> Any:
    return meet.conferenceRecords().participants().participantSessions()


def _page(resource: Callable[[Service], Any], query: dict[str, str], meet: Service
          ) -> HttpRequest:
    request: HttpRequest = resource(meet).list(**query)
    return request


def _display_name(participant: dict[str, Any]) -> str:
    """What Meet shows for a participant: signed in, anonymous or by phone."""
    for kind in ("signedinUser", "anonymousUser", "phoneUser"):
        user = participant.get(kind)
        if isinstance(user, dict) and user.get("displayName"):
            return str(user["displayName"])[:256]
    return "Someone"


def _stay_key(session_name: str) -> str:
    """`conferenceRecords/{r}/participants/{p}/participantSessions/{s}` as "{r}/{p}/{s}",
    within the 128 characters the store keeps (a long one is hashed)."""
    parts = session_name.split("/")
    key = "/".join(parts[1::2]) if len(parts) == 6 else session_name
    return key if len(key) <= 128 else hashlib.sha256(key.encode()).hexdigest()


def _google_time(value: Any) -> datetime | None:
    """An RFC 3339 time as Google writes it ("2024-01-01T10:00:00.123456Z"), aware UTC."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _event_start(event: dict[str, Any]) -> datetime | None:
    """The event's start as Google answered it ("2025-03-04T15:00:00Z"), aware UTC."""
    value = (event.get("start") or {}).get("dateTime")
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def _meet_api_unavailable(exc: HttpError | RefreshError) -> bool:
    """The Meet API is disabled, or the service account may not use it."""
    if isinstance(exc, RefreshError):
        # Domain-wide delegation was not granted for the Meet scope.
        data = exc.args[1] if len(exc.args) > 1 else None
        return isinstance(data, dict) and data.get("error") == "unauthorized_client"
    return exc.status_code == 403 and not (_reasons(exc) & _RATE_LIMIT_REASONS)


def _reasons(exc: HttpError) -> set[str]:
    """Reasons in Google's error JSON: `details[].reason` (ErrorInfo) and `errors[].reason`."""
    details = exc.error_details if isinstance(exc.error_details, list) else []
    return {str(d["reason"]) for d in details if isinstance(d, dict) and "reason" in d}


def _error_from_http(exc: HttpError, action: str) -> BridgeError:
    status = exc.status_code
    rate_limited = status == 403 and bool(_reasons(exc) & _RATE_LIMIT_REASONS)
    retryable = status in (408, 429) or status >= 500 or rate_limited
    reason = f": {exc.reason[:200]}" if exc.reason else ""
    return BridgeError(
        f"Google refused to {action} (HTTP {status}{reason})",
        provider=PROVIDER,
        retryable=retryable,
    )


def _first_line(exc: GoogleAuthError | HttpError) -> str:
    if isinstance(exc, HttpError):
        return f"HTTP {exc.status_code}: {exc.reason[:300]}"
    return str(exc.args[0] if exc.args else exc).splitlines()[0][:300]
