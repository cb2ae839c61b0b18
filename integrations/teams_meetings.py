"""Microsoft Teams meetings as the Incident Command Room, through Microsoft Graph.

An app-only token (client credentials, the process's shared `GraphToken`) may create online
meetings for one user, the organizer, when the app has the application permission
`OnlineMeetings.ReadWrite.All` with admin consent and a Teams admin granted it an
application access policy for that user (`New-CsApplicationAccessPolicy`,
`Grant-CsApplicationAccessPolicy`): see docs/teams-meetings.md, and Microsoft's
https://learn.microsoft.com/graph/api/application-post-onlinemeetings and
https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy.

Plain `POST /users/{id}/onlineMeetings` makes a new meeting on every call, so a job retried
after a lost answer would make two. `POST /users/{id}/onlineMeetings/createOrGet`
(https://learn.microsoft.com/graph/api/onlinemeeting-createorget, application permission
supported, with the same access policy) takes an `externalId` and answers the organizer's
meeting with that id if there is one (200) or a new one (201): the bridge passes the
request id, which stays the same across retries.

Who attended a room (`attendance`, with `TEAMS_ATTENDANCE`): Graph keeps one
meetingAttendanceReport per ended session of a meeting, "Each time an online meeting
ends, an attendance report is generated for that session"
(https://learn.microsoft.com/graph/api/meetingattendancereport-list; "Only available when
the meeting ends", https://learn.microsoft.com/graph/cloud-communications-online-meeting-artifacts).
So there is no live presence here (that would take a calling bot in the call): a session
still going on has no report, and Microsoft gives no time for how soon after its end the
report appears. The bot lists `GET /users/{organizer}/onlineMeetings/{id}/attendanceReports`
(at most the 50 latest reports, per that page) and each report's `attendanceRecords`
(https://learn.microsoft.com/graph/api/attendancerecord-list), both followed through
`@odata.nextLink`. A record is one attendee: `identity` {id (their Entra object id for
people of the tenant), displayName, tenantId}, `emailAddress`, `role`,
`totalAttendanceInSeconds` and `attendanceIntervals` [{joinDateTime, leaveDateTime,
durationInSeconds}] (https://learn.microsoft.com/graph/api/resources/attendancerecord,
https://learn.microsoft.com/graph/api/resources/attendanceinterval: "When data is lacking,
the value of joinDateTime or leaveDateTime will be set to null"). Each interval is one
`Stay`. Reading needs the application permission `OnlineMeetingArtifact.Read.All` with
admin consent, and the same application access policy granted to the organizer ("To use
application permission for this API, tenant administrators must create an application
access policy and grant it to a user").
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.errors import BridgeError
from integrations.graph_calls import graph_errors
from integrations.graph_token import GraphToken
from integrations.video import Meeting, Room, Stay, invitees, meeting_start

logger = logging.getLogger(__name__)

PROVIDER = "teams"
# Teams does not end a meeting at its end time; the hour is what people see in the client.
ROOM_LENGTH = timedelta(hours=1)
SUBJECT_MAX_CHARS = 255
DOCS = "docs/teams-meetings.md"
ARTIFACT_PERMISSION = "OnlineMeetingArtifact.Read.All"
# Attendance reads follow at most this many pages of each list.
MAX_PAGES = 20


class TeamsMeetingBridge:
    """Creates Teams online meetings organized by one user, with the app's Graph token."""

    name = PROVIDER

    def __init__(self, session: aiohttp.ClientSession, *, api_url: str, token: GraphToken,
                 organizer: str, app_id: str, timeout_s: float = 15.0) -> None:
        self._session = session
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._organizer = organizer
        self._app_id = app_id  # the Graph app's client id, which the access policy names
        self._timeout_s = timeout_s

    async def create_room(self, *, topic: str, request_id: str) -> Room:
        """A meeting that starts now; the same one again for a retry of the same request."""
        start = datetime.now(UTC).replace(microsecond=0)
        meeting = await self._create_or_get(topic, request_id, start, start + ROOM_LENGTH)
        room = Room(provider=PROVIDER, join_url=meeting["joinWebUrl"],
                    meeting_id=str(meeting.get("id") or "") or None)
        logger.info("teams meeting created (or found) for request %s", request_id)
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
        """A meeting at `starts_at`. Graph's online meetings are not calendar events and
        invite nobody (`invited=()`): the bot posts the invitation itself."""
        start = meeting_start(starts_at, duration_min)
        invitees(attendees)  # the same checks as the other providers, results unused
        meeting = await self._create_or_get(
            topic, request_id, start, start + timedelta(minutes=duration_min))
        return Meeting(provider=PROVIDER, join_url=meeting["joinWebUrl"],
                       starts_at=_graph_time(meeting.get("startDateTime")) or start,
                       meeting_id=str(meeting.get("id") or "") or None)

    async def _create_or_get(self, topic: str, request_id: str, start: datetime,
                             end: datetime) -> dict[str, Any]:
        body = {"subject": topic[:SUBJECT_MAX_CHARS], "externalId": request_id,
                "startDateTime": start.isoformat(), "endDateTime": end.isoformat()}
        async with graph_errors(PROVIDER, self._timeout_s):
            status, answer, retry_after = await self._post(body)
            if status == 401:
                logger.info("Graph answered 401; fetching a new token once")
                self._token.forget()
                status, answer, retry_after = await self._post(body)
        if status in (200, 201) and isinstance(answer.get("joinWebUrl"), str):
            return answer
        if status in (200, 201):
            raise BridgeError("Microsoft Graph answered without a joinWebUrl",
                              provider=PROVIDER, retryable=False)
        raise self._refusal(status, answer, retry_after)

    async def _post(self, body: dict[str, str]) -> tuple[int, dict[str, Any], str | None]:
        url = f"{self._api_url}/users/{quote(self._organizer, safe='')}/onlineMeetings/createOrGet"
        return await self._call("POST", url, body)

    async def attendance(self, meeting_id: str) -> list[Stay]:
        """Every attendance interval in the ended sessions of online meeting `meeting_id`
        (its Graph id), one `Stay` each; `BridgeError` when Graph will not say."""
        async with graph_errors(PROVIDER, self._timeout_s):
            return await self._stays(meeting_id)

    async def _stays(self, meeting_id: str) -> list[Stay]:
        reports_url = (f"{self._api_url}/users/{quote(self._organizer, safe='')}/onlineMeetings/"
                       f"{quote(meeting_id, safe='')}/attendanceReports")
        stays: list[Stay] = []
        for report in await self._all(reports_url):
            report_id = str(report.get("id") or "")
            if not report_id:
                continue
            for record in await self._all(
                    f"{reports_url}/{quote(report_id, safe='')}/attendanceRecords"):
                stays += _record_stays(report_id, record)
        return stays

    async def _all(self, url: str) -> list[dict[str, Any]]:
        """Every item of a paged Graph list (at most MAX_PAGES pages); a next link that
        leaves the configured Graph is not followed (it would carry the token)."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        for _ in range(MAX_PAGES):
            if next_url is None:
                break
            status, answer, retry_after = await self._get(next_url)
            if status == 401:
                logger.info("Graph answered 401; fetching a new token once")
                self._token.forget()
                status, answer, retry_after = await self._get(next_url)
            if status != 200:
                raise self._read_refusal(status, answer, retry_after)
            items += [i for i in answer.get("value") or [] if isinstance(i, dict)]
            link = answer.get("@odata.nextLink")
            next_url = link if isinstance(link, str) and link.startswith(
                self._api_url + "/") else None
        return items

    async def _get(self, url: str) -> tuple[int, dict[str, Any], str | None]:
        return await self._call("GET", url)

    async def _call(self, method: str, url: str, body: dict[str, str] | None = None
                    ) -> tuple[int, dict[str, Any], str | None]:
        """Graph's status, its JSON object answer ({} for anything else) and Retry-After."""
        headers = {"Authorization": f"Bearer {await self._token.bearer()}"}
        async with self._session.request(method, url, json=body, headers=headers) as resp:
            try:
                answer = await resp.json(content_type=None)
            except ValueError:
                answer = None
            return resp.status, answer if isinstance(answer, dict) else {}, \
                resp.headers.get("Retry-After")

    def _read_refusal(self, status: int, answer: dict[str, Any], retry_after: str | None
                      ) -> BridgeError:
        """Graph's refusal to read attendance, in words that say who must do what."""
        code, message = _graph_error(answer)
        if (busy := _busy(status, retry_after)) is not None:
            return busy
        if status in (401, 403):
            policy = (" (no application access policy)" if "access policy" in message.lower()
                      else "")
            words = (f"Microsoft Graph refused the Graph app {self._app_id} the meeting's "
                     f"attendance reports (HTTP {status}{policy}); an admin must add the "
                     f"{ARTIFACT_PERMISSION} application permission and grant admin consent, "
                     "and the organizer's application access policy must name the app, "
                     f"see {DOCS}")
        elif status == 404:
            words = ("Microsoft Graph does not know this meeting for the organizer "
                     f"{self._organizer} (HTTP 404)")
        else:
            detail = f": {code}" if code else ""
            words = f"Microsoft Graph refused to read the attendance reports (HTTP {status}{detail})"
        return BridgeError(words, provider=PROVIDER, retryable=False)

    def _refusal(self, status: int, answer: dict[str, Any], retry_after: str | None
                 ) -> BridgeError:
        """Graph's refusal in words that say who must do what."""
        code, message = _graph_error(answer)
        if (busy := _busy(status, retry_after)) is not None:
            return busy
        if status == 403 and "access policy" in message.lower():
            words = (f"no Teams application access policy lets the Graph app {self._app_id} "
                     f"create meetings for the organizer {self._organizer}; a Teams admin must "
                     "create one with New-CsApplicationAccessPolicy and grant it to the "
                     f"organizer with Grant-CsApplicationAccessPolicy, see {DOCS}")
        elif status in (401, 403):
            words = (f"Microsoft Graph refused the Graph app {self._app_id} (HTTP {status}); "
                     "an admin must add the OnlineMeetings.ReadWrite.All application "
                     f"permission and grant admin consent, see {DOCS}")
        elif status == 404:
            words = (f"Microsoft Graph does not know the organizer {self._organizer} (HTTP "
                     "404); set TEAMS_MEETING_ORGANIZER to a licensed user's Entra object id")
        else:
            detail = f": {code}" if code else ""
            words = f"Microsoft Graph refused to create the meeting (HTTP {status}{detail})"
        return BridgeError(words, provider=PROVIDER, retryable=False)


def _record_stays(report_id: str, record: dict[str, Any]) -> list[Stay]:
    """One attendanceRecord's intervals as stays (an interval without its join time, which
    Graph sends "when data is lacking", is left out)."""
    identity = record.get("identity")
    identity = identity if isinstance(identity, dict) else {}
    entra_id = str(identity.get("id") or "") or None
    email = str(record.get("emailAddress") or "") or None
    name = str(identity.get("displayName") or "") or email or "Someone"
    who = entra_id or (email or "").casefold() or name
    stays = []
    for interval in record.get("attendanceIntervals") or []:
        if not isinstance(interval, dict):
            continue
        joined = _graph_time(interval.get("joinDateTime"))
        if joined is None:
            continue
        stays.append(Stay(_stay_key(report_id, who, str(interval["joinDateTime"])), name[:256],
                          joined, _graph_time(interval.get("leaveDateTime")),
                          entra_id=entra_id, email=email[:256] if email else None))
    return stays


def _stay_key(report_id: str, who: str, joined: str) -> str:
    """A stay's name, stable across reads of the same report: Graph's records carry no id."""
    digest = hashlib.sha256(f"{report_id}\n{who}\n{joined}".encode()).hexdigest()
    return f"teams:{digest[:40]}"


def _graph_error(answer: dict[str, Any]) -> tuple[str, str]:
    """Graph's error resource: `{"error": {"code": ..., "message": ...}}`."""
    error = answer.get("error")
    if not isinstance(error, dict):
        return "", ""
    return str(error.get("code") or "")[:100], str(error.get("message") or "")[:300]


def _graph_time(value: Any) -> datetime | None:
    """Graph's "2019-07-11T02:17:17.6491364Z" as an aware UTC datetime, to the second."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.split(".")[0].removesuffix("Z") + "+00:00")
    except ValueError:
        return None
    return parsed.astimezone(UTC)


def _busy(status: int, retry_after: str | None) -> BridgeError | None:
    """Graph throttling or failing (429, 5xx): worth another try, after its Retry-After."""
    if status == 429 or status >= 500:
        wait = f"; retry after {retry_after} s" if retry_after else ""
        return BridgeError(f"Microsoft Graph was busy (HTTP {status}{wait})", provider=PROVIDER)
    return None
