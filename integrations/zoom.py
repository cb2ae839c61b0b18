"""Zoom meetings through zoomus, a synchronous client run in worker threads.

zoomus fetches its Server-to-Server OAuth token inside `ZoomClient.__init__` (blocking,
with no timeout) and never renews it, although Zoom's tokens last one hour. This bridge
keeps one client, renews its token when it is about 50 minutes old or when Zoom answers
401, and bounds every room request with one overall deadline.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from zoomus import ZoomClient

from bot.errors import BridgeError
from integrations.video import Meeting, Room, invitees, meeting_start

logger = logging.getLogger(__name__)

PROVIDER = "zoom"
# Zoom's tokens last 3600 s; renew well before that so a request never races the expiry.
TOKEN_MAX_AGE_S = 50 * 60
# A scheduled meeting (type 2) can be restarted from the same link for 30 days, so people
# can rejoin a long incident after everyone left; an instant meeting's link dies with it.
MEETING_TYPE_SCHEDULED = 2
MEETING_DURATION_MIN = 60
TOPIC_MAX_CHARS = 200
MEETING_SETTINGS: dict[str, Any] = {
    "join_before_host": True,
    "jbh_time": 0,  # anyone may join at any time, the host may never come
    "waiting_room": False,
    "mute_upon_entry": True,
    "approval_type": 2,  # no registration
    "host_video": False,
    "participant_video": False,
}


class ZoomBridge:
    """Creates Zoom meetings for one host user with a Server-to-Server OAuth app."""

    name = PROVIDER

    def __init__(
        self,
        *,
        account_id: str,
        client_id: str,
        client_secret: str,
        api_base_url: str = "https://api.zoom.us/v2",
        oauth_url: str = "https://zoom.us/oauth/token",
        host_user: str = "me",
        timeout_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._account_id = account_id
        self._client_id = client_id
        self._client_secret = client_secret
        self._api_base_url = api_base_url
        self._oauth_url = oauth_url
        self._host_user = host_user or "me"
        self._timeout_s = timeout_s
        self._clock = clock
        self._client: ZoomClient | None = None
        self._token_at = 0.0
        # At most one token request at a time: zoomus gives it no timeout, so a hung one
        # is shared by later callers instead of each of them leaving a thread behind.
        self._token_job: asyncio.Future[ZoomClient] | None = None

    async def create_room(self, *, topic: str, request_id: str) -> Room:
        """Create a meeting that starts now and lets anyone with the link in."""
        meeting = await self._create(
            self._meeting_fields(topic, datetime.now(UTC), MEETING_DURATION_MIN,
                                 MEETING_SETTINGS)
        )
        # The answer's start_url carries the host's key (zak): only these fields leave here.
        room = Room(
            provider=PROVIDER,
            join_url=meeting["join_url"],
            meeting_id=str(meeting["id"]),
            passcode=meeting.get("password") or None,
        )
        logger.info("zoom meeting %s created for request %s", room.meeting_id, request_id)
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
        """Schedule a meeting with Zoom's own invitee list (Zoom emails them only when the
        host has a calendar integration), open to anyone with the link."""
        start = meeting_start(starts_at, duration_min)
        emails = invitees(attendees)
        settings = {**MEETING_SETTINGS, "meeting_invitees": [{"email": e} for e in emails]}
        meeting = await self._create(self._meeting_fields(topic, start, duration_min, settings))
        scheduled = Meeting(
            provider=PROVIDER,
            join_url=meeting["join_url"],
            starts_at=_zoom_time(meeting.get("start_time")) or start,
            meeting_id=str(meeting["id"]),
            invited=emails,
        )
        logger.info("zoom meeting %s scheduled for request %s", scheduled.meeting_id, request_id)
        return scheduled

    def _meeting_fields(
        self, topic: str, start: datetime, duration_min: int, settings: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "user_id": self._host_user,
            "topic": topic[:TOPIC_MAX_CHARS],
            "type": MEETING_TYPE_SCHEDULED,
            # zoomus formats this as "%Y-%m-%dT%H:%M:%SZ" without converting: give it UTC.
            "start_time": start.astimezone(UTC).replace(tzinfo=None),
            "duration": duration_min,
            "timezone": "UTC",
            "settings": settings,
        }

    async def _create(self, fields: dict[str, Any]) -> dict[str, Any]:
        """POST one meeting under the deadline; Zoom's answer, or BridgeError."""
        try:
            async with asyncio.timeout(self._timeout_s):
                response = await self._create_meeting(fields)
        except TimeoutError:
            raise BridgeError(
                f"Zoom did not answer within {self._timeout_s:g} s", provider=PROVIDER
            ) from None
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise BridgeError(
                f"Zoom could not be reached ({type(exc).__name__})", provider=PROVIDER
            ) from exc
        except requests.RequestException as exc:
            # e.g. an HTML error page where zoomus expects the token JSON
            raise BridgeError(
                f"Zoom answered something unexpected ({type(exc).__name__})", provider=PROVIDER
            ) from exc
        return self._meeting_from(response)

    async def _create_meeting(self, fields: dict[str, Any]) -> requests.Response:
        client = await self._client_with_fresh_token()
        token = client.config["token"]
        response = await asyncio.to_thread(self._post_meeting, client, fields)
        if response.status_code != 401:
            return response
        logger.info("zoom answered 401; renewing the access token once")
        if client.config["token"] == token:
            client = await self._fetch_token()
        response = await asyncio.to_thread(self._post_meeting, client, fields)
        if response.status_code == 401:
            raise BridgeError(
                "Zoom rejected a freshly issued access token (HTTP 401); check the app's "
                "scopes (meeting:write) and that it is activated",
                provider=PROVIDER,
                retryable=False,
            )
        return response

    async def _client_with_fresh_token(self) -> ZoomClient:
        if self._client is None or self._clock() - self._token_at > TOKEN_MAX_AGE_S:
            return await self._fetch_token()
        return self._client

    async def _fetch_token(self) -> ZoomClient:
        if self._token_job is None:
            job = asyncio.ensure_future(asyncio.to_thread(self._token_call, self._client))
            job.add_done_callback(self._token_done)
            self._token_job = job
        return await asyncio.shield(self._token_job)

    def _token_call(self, client: ZoomClient | None) -> ZoomClient:
        # Runs in a worker thread: both branches make a blocking HTTP request.
        if client is None:
            client = ZoomClient(
                self._client_id,
                self._client_secret,
                self._account_id,
                base_uri=self._api_base_url,
                oauth_uri=self._oauth_url,
                timeout=self._request_timeout,
            )
            # zoomus does not pass its timeout on to the components that make the calls.
            client.meeting.timeout = self._request_timeout
        else:
            client.refresh_token()
        if not client.config.get("token"):
            raise BridgeError(
                "Zoom did not issue an access token; check ZOOM_ACCOUNT_ID, "
                "ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET",
                provider=PROVIDER,
                retryable=False,
            )
        return client

    def _token_done(self, job: asyncio.Future[ZoomClient]) -> None:
        self._token_job = None
        if job.cancelled() or job.exception() is not None:
            return  # the callers awaiting the job get the exception
        self._client = job.result()
        self._token_at = self._clock()

    @property
    def _request_timeout(self) -> int:
        # zoomus insists on whole seconds; 0 would mean "fail at once" to requests.
        return max(1, math.ceil(self._timeout_s))

    def _post_meeting(self, client: ZoomClient, fields: dict[str, Any]) -> requests.Response:
        response: requests.Response = client.meeting.create(**fields)  # zoomus is untyped
        return response

    def _meeting_from(self, response: requests.Response) -> dict[str, Any]:
        if response.status_code != 201:
            raise self._error_from(response)
        try:
            meeting: dict[str, Any] = response.json()
            if not (isinstance(meeting["join_url"], str) and meeting["id"] is not None):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise BridgeError(
                "Zoom answered 201 without a usable meeting", provider=PROVIDER, retryable=False
            ) from None
        return meeting

    def _error_from(self, response: requests.Response) -> BridgeError:
        status = response.status_code
        detail = _zoom_message(response)
        if status == 429:
            wait = response.headers.get("Retry-After")
            detail += f"; retry after {wait}" if wait else ""
        retryable = status == 429 or status >= 500
        message = f"Zoom refused to create the meeting (HTTP {status})"
        if detail:
            message = f"{message[:-1]}: {detail})"
        return BridgeError(self._scrub(message), provider=PROVIDER, retryable=retryable)

    def _scrub(self, text: str) -> str:
        known = [self._client_secret]
        if self._client is not None:
            known.append(self._client.config.get("token") or "")
        for secret in known:
            if secret:
                text = text.replace(secret, "***")
        return text


def _zoom_time(value: Any) -> datetime | None:
    """Zoom's `start_time` ("2025-03-04T15:00:00Z") as an aware UTC datetime."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def _zoom_message(response: requests.Response) -> str:
    """Zoom's own words for an error: `{"code": 1001, "message": "User does not exist"}`."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    code, message = body.get("code"), str(body.get("message") or "")[:200]
    return f"code {code}: {message}" if code is not None else message
