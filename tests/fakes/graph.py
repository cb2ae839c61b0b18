"""A loopback Microsoft Graph: Entra client-credentials token, presence by user id, the
bot's app installed for a user ("proactive installation"), and Teams online meetings.

Installing the app for a user is what makes a proactive 1:1 possible
(https://learn.microsoft.com/microsoftteams/platform/graph-api/proactive-bots-and-messages/graph-proactive-bots-and-messages),
so `on_install` lets a test wire an install to `FakeConnector.not_installed.discard`.

- `POST /v1.0/users/{user-id}/teamwork/installedApps` ("Install app for user",
  https://learn.microsoft.com/graph/api/userteamwork-post-installedapps; application
  permission TeamsAppInstallation.ReadWriteSelfForUser.All for an app installing itself):
  body `{"teamsApp@odata.bind": "https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{id}"}`,
  "If successful, this method returns a `201 Created` response code. It does not return
  anything in the response body."
- `GET /v1.0/users/{user-id}/teamwork/installedApps?$expand=teamsApp&$filter=teamsApp/id eq
  '{id}'` ("List apps installed for user"), which the proactive installation page uses to
  tell whether the app is installed: "An empty array if the app isn't installed", one
  installation if it is.

Refusals, in the order Graph checks them: 401 without a Graph token; 429 with `Retry-After`
when told (`throttle_next`); 403 when the app lacks the permission (`install_forbidden`);
400 for a body without a well-formed bind; 404 for an app the tenant catalog does not have
(`app_catalog_ids`); 409 when the app is already installed for that user. Bodies are
Graph's error resource (https://learn.microsoft.com/graph/errors): `{"error": {"code",
"message", "innerError": {"date", "request-id", "client-request-id"}}}`. Codes: 409
"Conflict" is what Microsoft's own proactive installation sample tests for
(OfficeDev/Microsoft-Teams-Samples, graph-proactive-installation,
ProactiveAppIntallationHelper.cs: `if (ex.Error.Code == "Conflict")`); 429 is the sample
response of https://learn.microsoft.com/graph/throttling; 403 "Forbidden" with "Missing
role permissions on the request. ..." is what Teams' Graph workload answers an app without
the role (reported wire text, not documented); 400 "BadRequest" and 404 "NotFound" follow
the same workload's PascalCase codes. No page documents those messages: match on codes.

Online meetings, with an app-only token (application permission OnlineMeetings.ReadWrite.All,
and an application access policy granted to the organizer):

- `POST /v1.0/users/{user-id}/onlineMeetings` ("Create onlineMeeting",
  https://learn.microsoft.com/graph/api/application-post-onlinemeetings): 201 and a new
  onlineMeeting every time.
- `POST /v1.0/users/{user-id}/onlineMeetings/createOrGet` ("onlineMeeting: createOrGet",
  https://learn.microsoft.com/graph/api/onlinemeeting-createorget): `externalId` required;
  201 with a new meeting, or 200 with the one this organizer already has under that
  externalId ("The combination of tenantId, userId, and externalId serves as the identifier
  for a meeting with an external ID"). Without startDateTime it starts now; without
  endDateTime it ends an hour after the start; an end without a start, or before it, is 400.

  The answer is v1.0's onlineMeeting (https://learn.microsoft.com/graph/api/resources/
  onlinemeeting): `id`, `creationDateTime`, `startDateTime`, `endDateTime`, `joinWebUrl`
  (`https://teams.microsoft.com/l/meetup-join/19%3ameeting_...%40thread.v2/0?context=...`),
  `subject`, `externalId`, `participants.organizer`, `joinMeetingIdSettings`
  (`joinMeetingId`, `passcode`, `isPasscodeRequired`), `chatInfo`, `lobbyBypassSettings`...

Refusals, in this order: 401 without a Graph token; 429 with `Retry-After` or a 5xx when
told (`fail_meetings`); 403 "Forbidden" with an empty message while the app lacks the
permission (`meetings_forbidden`; the body reported for a missing onlineMeetings permission
in microsoftgraph/microsoft-graph-docs#6663, not documented); 404 for a user the tenant does
not have (`organizers`; Graph takes the user's object id here, a UPN is reported to get 404
as well: microsoftgraph/msgraph-sdk-dotnet#1215); 403 "Forbidden" "No Application Access
Policy found for this app" when no policy is granted to that user (`access_policy`), the
body https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy
gives under "Errors"; 400 for a bad body.

Attendance reports of those meetings, app-only (application permission
OnlineMeetingArtifact.Read.All, and the same access policy granted to the organizer):

- `GET /v1.0/users/{user-id}/onlineMeetings/{meeting-id}/attendanceReports` ("List
  meetingAttendanceReports", https://learn.microsoft.com/graph/api/meetingattendancereport-list):
  one meetingAttendanceReport per ended session ("Each time an online meeting ends, an
  attendance report is generated for that session"), newest first, `id`,
  `totalParticipantCount`, `meetingStartDateTime`, `meetingEndDateTime` and, as the page
  says, an empty `attendanceRecords`. A meeting whose sessions have not ended has none.
- `GET .../attendanceReports/{report-id}/attendanceRecords` ("List attendanceRecords",
  https://learn.microsoft.com/graph/api/attendancerecord-list): `emailAddress`,
  `totalAttendanceInSeconds`, `role`, `identity` {id, displayName, tenantId},
  `attendanceIntervals` [{joinDateTime, leaveDateTime, durationInSeconds}].

Both lists are paged `attendance_page_size` items a page, the next page named by an
absolute `@odata.nextLink` with a `$skiptoken` (https://learn.microsoft.com/graph/paging).
`end_session` adds a report for a session that ended. Refusals, in this order: 401 without
a Graph token; a fault when told (`fail_attendance`: 429 with Retry-After, 5xx); 403
"Forbidden" "Missing role permissions ..." naming OnlineMeetingArtifact.Read.All while the
permission is withheld (`attendance_forbidden`; the wording of Teams' Graph workload for a
missing role, as above, not documented for this API); 404 for an organizer the tenant does
not have; 403 POLICY_MISSING without the access policy; 404 for a meeting that organizer
does not have, or a report that meeting does not have.

Channels in a team, app-only (Channel.Create; ChannelSettings.ReadWrite.All), the team
named by its Entra group id (`groups`):

- `POST /v1.0/teams/{group-id}/channels` ("Create channel",
  https://learn.microsoft.com/graph/api/channel-post): 201 with the channel (`id`
  "19:<32 hex>@thread.tacv2", `displayName`, `description`, `membershipType`, `webUrl`).
  `displayName` is checked against Teams' rules (New-TeamChannel's -DisplayName: "50
  characters or less, and can't contain the characters # % & * { } / \\ : < > ? + | ' \"";
  the issue also names ~ and a leading underscore or period): 400 "BadRequest". A name the
  team already has (archived channels included, case ignored) is 409 "NameAlreadyExists"
  (the exact code is not on Microsoft's pages; the bot also reads a 400 saying it).
  A team at `channel_limit` (archived ones count) is 400 as well.
- `PATCH /v1.0/teams/{group-id}/channels/{id}` ("Patch channel"): 204, same name rules.
- `POST /v1.0/teams/{group-id}/channels/{id}/archive` ("channel: archive"): 202 with a
  `Location` of the teamsAsyncOperation.
- `GET /v1.0/teams/{group-id}/channels` ("List channels"): `{"value": [...]}`.

Refusals: 401 without a token; a fault when told (`fail_channels`: 429 with Retry-After,
5xx); 403 "Forbidden" "Missing role permissions ..." naming the permission while it is
withheld (`channels_forbidden`); 404 for a group that is not a team.
"""

from __future__ import annotations

import asyncio
import base64
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Request, serve

INSTALL_DOCS = "https://learn.microsoft.com/graph/api/userteamwork-post-installedapps"
INSTALL_PERMISSION = "TeamsAppInstallation.ReadWriteSelfForUser.All"
# The bind names a catalog app by its Graph URL; v1.0 as documented (Microsoft's Company
# Communicator binds the beta URL against the v1.0 endpoint, so that is accepted too).
_BIND = re.compile(r"^https://graph\.microsoft\.com/(?:v1\.0|beta)/appCatalogs/teamsApps/"
                   r"([^/?#\s]+)$")
_FILTER = re.compile(r"^\s*teamsApp/id\s+eq\s+'([^']*)'\s*$")

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
# The organizer the tests' Graph app may create meetings for (an Entra object id).
ORGANIZER_ID = "550fae72-d251-43ec-868c-373732c2704f"
POLICY_MISSING = "No Application Access Policy found for this app"
ARTIFACT_PERMISSION = "OnlineMeetingArtifact.Read.All"
# The tests' team's Entra group id (what Teams sends as channelData.team.aadGroupId).
TEAM_GROUP_ID = "57fb72d0-d811-46f4-8947-305e6072eaa5"
_FORBIDDEN_IN_NAMES = set("~#%&*{}+/\\:<>?|'\"")


@dataclass
class FakeGraph:
    """`presence[aad_id] = ("Offline", out_of_office)`; unknown ids are left out."""

    presence: dict[str, tuple[str, bool]] = field(default_factory=dict)
    lookups: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    url: str = ""
    # user id -> the catalog app ids installed in that user's personal scope.
    installed: dict[str, set[str]] = field(default_factory=dict)
    # The app ids the tenant's catalog knows; None accepts any (404 for the rest).
    app_catalog_ids: set[str] | None = None
    # When set, installs are refused 403 as for an app not granted INSTALL_PERMISSION.
    install_forbidden: bool = False
    # Called with the user id after each successful install (e.g. not_installed.discard).
    on_install: Callable[[str], Any] | None = None
    # Every request to the installedApps endpoints, with the status it was answered.
    install_requests: list[Request] = field(default_factory=list)
    # Users (Entra object ids) the tenant has: meetings for anyone else are 404.
    organizers: set[str] = field(default_factory=lambda: {ORGANIZER_ID})
    # Users an application access policy for this app is granted to.
    access_policy: set[str] = field(default_factory=lambda: {ORGANIZER_ID})
    # When set, meetings are refused 403 as for an app without OnlineMeetings.ReadWrite.All.
    meetings_forbidden: bool = False
    # Every onlineMeeting created, in order (a createOrGet that found one adds nothing).
    meetings: list[dict[str, Any]] = field(default_factory=list)
    # Every request to the onlineMeetings endpoints, with the status it was answered.
    meeting_requests: list[Request] = field(default_factory=list)
    # Attendance reports by meeting id, newest first, each with all its attendanceRecords.
    attendance_reports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # When set, attendance reads are refused 403 as for an app without the permission.
    attendance_forbidden: bool = False
    attendance_page_size: int = 2
    # Every request to the attendance endpoints (path and query), with its status.
    attendance_requests: list[Request] = field(default_factory=list)

    # Entra group ids of the tenant's teams, and each team's channels by id.
    groups: set[str] = field(default_factory=lambda: {TEAM_GROUP_ID})
    channels: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    channel_limit: int = 1000
    # When set, channel calls are refused 403 as for an app without the permission.
    channels_forbidden: bool = False
    # Every request to the channels endpoints, with the status it was answered.
    channel_requests: list[Request] = field(default_factory=list)

    # Group chats by id: {"id", "topic", "chatType", "members": [entra ids], "apps": [ids]}.
    chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Users (Entra object ids) the tenant has for chats; None accepts any well-formed id.
    chat_users: set[str] | None = None
    # Chat permissions withheld (403 naming the permission): "create", "install", "members".
    chats_forbidden: set[str] = field(default_factory=set)
    # Every request to the chats endpoints, with the status it was answered.
    chat_requests: list[Request] = field(default_factory=list)
    # Called with the chat id after the bot's app is installed in it (e.g. to let the
    # fake Bot Connector post there).
    on_chat_install: Callable[[str], Any] | None = None

    def __post_init__(self) -> None:
        self._chat_faults: list[tuple[str, int, str | None]] = []
        self._channel_faults: list[tuple[int, str | None]] = []
        self._throttle: list[str] = []
        self._meeting_faults: list[tuple[int, str | None, float]] = []
        self._attendance_faults: list[tuple[int, str | None]] = []
        self._by_external_id: dict[tuple[str, str], dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1.0/communications/getPresencesByUserId", self._presences)
        app.router.add_post("/v1.0/users/{user}/teamwork/installedApps", self._install)
        app.router.add_get("/v1.0/users/{user}/teamwork/installedApps", self._list_installed)
        app.router.add_post("/v1.0/users/{user}/onlineMeetings", self._create_meeting)
        app.router.add_post("/v1.0/users/{user}/onlineMeetings/createOrGet",
                            self._create_meeting)
        app.router.add_get("/v1.0/users/{user}/onlineMeetings/{meeting}/attendanceReports",
                           self._attendance_call)
        app.router.add_get("/v1.0/users/{user}/onlineMeetings/{meeting}/attendanceReports/"
                           "{report}/attendanceRecords", self._attendance_call)
        app.router.add_post("/v1.0/teams/{team}/channels", self._channel_call)
        app.router.add_get("/v1.0/teams/{team}/channels", self._channel_call)
        app.router.add_patch("/v1.0/teams/{team}/channels/{channel}", self._channel_call)
        app.router.add_post("/v1.0/teams/{team}/channels/{channel}/archive",
                            self._channel_call)
        app.router.add_post("/v1.0/chats", self._chat_call)
        app.router.add_post("/v1.0/chats/{chat}/installedApps", self._chat_call)
        app.router.add_post("/v1.0/chats/{chat}/members", self._chat_call)
        self._runner, self.url = await serve(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def throttle_next(self, times: int = 1, *, retry_after: str = "10") -> None:
        """Answer the next `times` installedApps calls 429 with `Retry-After: retry_after`,
        as Graph does while an app or tenant is throttled."""
        self._throttle.extend(retry_after for _ in range(times))

    def fail_meetings(self, status: int, *, times: int = 1,
                      retry_after: str | None = None) -> None:
        """Answer the next `times` onlineMeetings calls `status` (429 carries `Retry-After`,
        "10" unless told), as Graph does while throttling or failing."""
        if status == 429 and retry_after is None:
            retry_after = "10"
        self._meeting_faults.extend((status, retry_after, 0.0) for _ in range(times))

    def fail_attendance(self, status: int, *, times: int = 1,
                        retry_after: str | None = None) -> None:
        """Answer the next `times` attendance calls `status` (429 with `Retry-After`)."""
        self._attendance_faults.extend((status, retry_after) for _ in range(times))

    def end_session(self, meeting_id: str, attendees: list[Attendee], *,
                    started: datetime, ended: datetime) -> str:
        """A session of meeting `meeting_id` ended: its attendance report, and its id."""
        report_id = str(uuid.uuid4())
        records = [_attendance_record(a) for a in attendees]
        self.attendance_reports.setdefault(meeting_id, []).insert(0, {
            "id": report_id, "totalParticipantCount": len(records),
            "meetingStartDateTime": _graph_text(started), "meetingEndDateTime": _graph_text(ended),
            "attendanceRecords": records})
        return report_id

    async def _attendance_call(self, request: web.Request) -> web.Response:
        recorded = Request(request.method, request.path_qs, dict(request.headers), None)
        self.attendance_requests.append(recorded)
        response = self._answer_attendance(request)
        recorded.status = response.status
        return response

    def _answer_attendance(self, request: web.Request) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer graph-"):
            return _error(request, 401, "InvalidAuthenticationToken", "Access token is empty.")
        if self._attendance_faults:
            status, retry_after = self._attendance_faults.pop(0)
            if status == 429:
                return _error(request, 429, "TooManyRequests", "Please retry again later.",
                              headers={"Retry-After": retry_after or "10"})
            return _error(request, status, "ServiceUnavailable", "The service is unavailable.")
        if self.attendance_forbidden:
            return _error(request, 403, "Forbidden",
                          "Missing role permissions on the request. API requires one of "
                          f"'{ARTIFACT_PERMISSION}'. Roles on the request ''.")
        user, meeting_id = request.match_info["user"], request.match_info["meeting"]
        if user not in self.organizers:
            return _error(request, 404, "NotFound", f"User '{user}' was not found.")
        if user not in self.access_policy:
            return _error(request, 403, "Forbidden", POLICY_MISSING)
        if not any(m["id"] == meeting_id and _organizer_of(m) == user for m in self.meetings):
            return _error(request, 404, "NotFound", "The online meeting was not found.")
        reports = self.attendance_reports.get(meeting_id, [])
        report_id = request.match_info.get("report")
        if report_id is None:
            items = [{**r, "attendanceRecords": []} for r in reports]
        else:
            report = next((r for r in reports if r["id"] == report_id), None)
            if report is None:
                return _error(request, 404, "NotFound", "The attendance report was not found.")
            items = list(report["attendanceRecords"])
        try:
            skip = int(request.query.get("$skiptoken", "0"))
        except ValueError:
            return _error(request, 400, "BadRequest", "Invalid $skiptoken.")
        size = self.attendance_page_size
        page: dict[str, Any] = {"value": items[skip:skip + size]}
        if skip + size < len(items):
            page["@odata.nextLink"] = str(request.url.with_query({"$skiptoken": str(skip + size)}))
        return web.json_response(page, headers=_ids(request))

    def fail_channels(self, status: int, *, times: int = 1,
                      retry_after: str | None = None) -> None:
        """Answer the next `times` channel calls `status` (429 with `Retry-After`)."""
        self._channel_faults.extend((status, retry_after) for _ in range(times))

    def team_channels(self, group_id: str = "") -> list[dict[str, Any]]:
        """The channels of a team (the tests' team by default), in creation order."""
        return list(self.channels.get(group_id or TEAM_GROUP_ID, {}).values())

    def add_channels(self, count: int, group_id: str = "") -> None:
        """Give the team `count` more channels (as if made by people)."""
        team = self.channels.setdefault(group_id or TEAM_GROUP_ID, {})
        for _ in range(count):
            channel_id = f"19:{uuid.uuid4().hex}@thread.tacv2"
            team[channel_id] = {"id": channel_id, "displayName": f"ch-{len(team)}",
                                "membershipType": "standard", "archived": False}

    async def _channel_call(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else None
        except ValueError:
            body = None
        recorded = Request(request.method, request.path, dict(request.headers), body)
        self.channel_requests.append(recorded)
        response = self._answer_channel(request, body)
        recorded.status = response.status
        return response

    def _answer_channel(self, request: web.Request, body: Any) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer graph-"):
            return _error(request, 401, "InvalidAuthenticationToken", "Access token is empty.")
        if self._channel_faults:
            status, retry_after = self._channel_faults.pop(0)
            if status == 429:
                return _error(request, 429, "TooManyRequests", "Please retry again later.",
                              headers={"Retry-After": retry_after or "10"})
            return _error(request, status, "ServiceUnavailable", "The service is unavailable.")
        channel_id = request.match_info.get("channel")
        archive = request.path.endswith("/archive")
        permission = ("Channel.Create" if request.method == "POST" and not archive
                      else "ChannelSettings.ReadWrite.All")
        if self.channels_forbidden:
            return _error(request, 403, "Forbidden",
                          f"Missing role permissions on the request. API requires one of "
                          f"'{permission}'. Roles on the request ''.")
        group = request.match_info["team"]
        if group not in self.groups:
            return _error(request, 404, "NotFound", f"No team found with Group Id {group}")
        team = self.channels.setdefault(group, {})
        if request.method == "GET":
            return web.json_response({"value": [_public(c) for c in team.values()]},
                                     headers=_ids(request))
        if channel_id is None:
            return self._create_channel(request, group, team, body)
        channel = team.get(channel_id)
        if channel is None:
            return _error(request, 404, "NotFound", f"Channel {channel_id} not found.")
        if archive:
            channel["archived"] = True
            return web.Response(status=202, headers={
                **_ids(request), "Location": f"/teams/{group}/operations/{uuid.uuid4()}"})
        if channel["archived"]:
            return _error(request, 400, "BadRequest", "The channel is archived.")
        name = (body or {}).get("displayName") if isinstance(body, dict) else None
        refused = _name_refused(request, name, team, but=channel_id)
        if refused is not None:
            return refused
        channel["displayName"] = name
        return web.Response(status=204, headers=_ids(request))

    def _create_channel(self, request: web.Request, group: str,
                        team: dict[str, dict[str, Any]], body: Any) -> web.Response:
        if not isinstance(body, dict):
            return _error(request, 400, "BadRequest", "The request body is not a channel.")
        name = body.get("displayName")
        refused = _name_refused(request, name, team)
        if refused is not None:
            return refused
        if len(team) >= self.channel_limit:
            return _error(request, 400, "BadRequest",
                          f"The team has reached the maximum of {self.channel_limit} channels.")
        channel_id = f"19:{uuid.uuid4().hex}@thread.tacv2"
        team[channel_id] = {"id": channel_id, "displayName": name,
                            "description": body.get("description"),
                            "membershipType": body.get("membershipType") or "standard",
                            "archived": False,
                            "webUrl": f"https://teams.microsoft.com/l/channel/"
                                      f"{channel_id.replace(':', '%3a').replace('@', '%40')}/"
                                      f"{name}?groupId={group}&tenantId={TENANT_ID}"}
        return web.json_response(
            {"@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#teams('{group}')"
                               "/channels/$entity", **_public(team[channel_id])},
            status=201, headers=_ids(request))

    def fail_chats(self, status: int, *, step: str = "create", times: int = 1,
                   retry_after: str | None = None) -> None:
        """Answer the next `times` chat calls of `step` ("create", "install", "members")
        `status` (429 with `Retry-After`)."""
        self._chat_faults.extend((step, status, retry_after) for _ in range(times))

    async def _chat_call(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else None
        except ValueError:
            body = None
        recorded = Request(request.method, request.path, dict(request.headers), body)
        self.chat_requests.append(recorded)
        response = self._answer_chat(request, body)
        recorded.status = response.status
        if (response.status == 201 and request.path.endswith("/installedApps")
                and self.on_chat_install is not None):
            self.on_chat_install(request.match_info["chat"])
        return response

    def _answer_chat(self, request: web.Request, body: Any) -> web.Response:
        if not request.headers.get("Authorization", "").startswith("Bearer graph-"):
            return _error(request, 401, "InvalidAuthenticationToken", "Access token is empty.")
        step = ("install" if request.path.endswith("/installedApps") else
                "members" if request.path.endswith("/members") else "create")
        fault = next((f for f in self._chat_faults if f[0] == step), None)
        if fault is not None:
            self._chat_faults.remove(fault)
            _, status, retry_after = fault
            if status == 429:
                return _error(request, 429, "TooManyRequests", "Please retry again later.",
                              headers={"Retry-After": retry_after or "10"})
            return _error(request, status, "ServiceUnavailable", "The service is unavailable.")
        if step in self.chats_forbidden:
            permission = {"create": "Chat.Create",
                          "install": "TeamsAppInstallation.ReadWriteSelfForChat.All",
                          "members": "ChatMember.ReadWrite.All"}[step]
            return _error(request, 403, "Forbidden",
                          f"Missing role permissions on the request. API requires one of "
                          f"'{permission}'. Roles on the request ''.")
        if not isinstance(body, dict):
            return _error(request, 400, "BadRequest", "Empty payload.")
        if step == "create":
            return self._create_chat(request, body)
        chat = self.chats.get(request.match_info["chat"])
        if chat is None:
            return _error(request, 404, "NotFound", "Chat not found.")
        if step == "install":
            match = _BIND.match(str(body.get("teamsApp@odata.bind") or ""))
            if match is None:
                return _error(request, 400, "BadRequest", "Bind a teamsApp.")
            if self.app_catalog_ids is not None and match.group(1) not in self.app_catalog_ids:
                return _error(request, 404, "NotFound", "App not found in the catalog.")
            if match.group(1) in chat["apps"]:
                return _error(request, 409, "Conflict", "App is already installed.")
            chat["apps"].append(match.group(1))
            return web.json_response({}, status=201, headers=_ids(request))
        user = _member_user(body)
        if user is None or (self.chat_users is not None and user not in self.chat_users):
            return _error(request, 404 if user else 400, "NotFound" if user else "BadRequest",
                          "User not found." if user else "Bind a user.")
        if user not in chat["members"]:
            chat["members"].append(user)
        return web.json_response({}, status=201, headers={
            **_ids(request), "Location": f"/chats('{chat['id']}')/members('{uuid.uuid4()}')"})

    def _create_chat(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        if body.get("chatType") != "group":
            return _error(request, 400, "BadRequest", "Only group chats are made here.")
        if ":" in str(body.get("topic") or "") or len(str(body.get("topic") or "")) > 250:
            return _error(request, 400, "BadRequest", "Invalid topic.")
        members = [_member_user(m) for m in body.get("members") or []]
        if not members or None in members:
            return _error(request, 400, "BadRequest",
                          "Members must be aadUserConversationMembers bound to users.")
        unknown = [m for m in members if self.chat_users is not None and m not in self.chat_users]
        if unknown:
            return _error(request, 404, "NotFound", f"User {unknown[0]} not found.")
        chat_id = f"19:{uuid.uuid4().hex}@thread.v2"
        self.chats[chat_id] = {"id": chat_id, "topic": body.get("topic"), "chatType": "group",
                               "members": members, "apps": []}
        return web.json_response(
            {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#chats/$entity",
             "id": chat_id, "topic": body.get("topic"), "chatType": "group",
             "createdDateTime": _graph_text(datetime.now(UTC)),
             "webUrl": f"https://teams.microsoft.com/l/chat/{chat_id}/0?tenantId={TENANT_ID}",
             "tenantId": TENANT_ID}, status=201, headers=_ids(request))

    def hang_meetings(self, seconds: float) -> None:
        """Hold the next onlineMeetings call for `seconds`, then answer it normally."""
        self._meeting_faults.append((0, None, seconds))

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

    async def _install(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else None
        except ValueError:
            body = None
        recorded = Request(request.method, request.path, dict(request.headers), body)
        self.install_requests.append(recorded)
        response = self._answer_install(request, body)
        recorded.status = response.status
        if response.status == 201 and self.on_install is not None:
            self.on_install(request.match_info["user"])
        return response

    def _answer_install(self, request: web.Request, body: Any) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        user = request.match_info["user"]
        if self.install_forbidden:
            return _error(request, 403, "Forbidden",
                          "Missing role permissions on the request. API requires one of "
                          f"'{INSTALL_PERMISSION}, TeamsAppInstallation.ReadWriteForUser.All'."
                          " Roles on the request ''.")
        bind = body.get("teamsApp@odata.bind") if isinstance(body, dict) else None
        match = _BIND.match(bind) if isinstance(bind, str) else None
        if match is None:
            return _error(request, 400, "BadRequest",
                          "Expected 'teamsApp@odata.bind' to be the URL of an app in the "
                          "catalog: https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{id}.")
        app_id = match.group(1)
        if self.app_catalog_ids is not None and app_id not in self.app_catalog_ids:
            return _error(request, 404, "NotFound",
                          f"The app '{app_id}' was not found in the tenant's app catalog.")
        apps = self.installed.setdefault(user, set())
        if app_id in apps:
            return _error(request, 409, "Conflict",
                          f"The app '{app_id}' is already installed for user '{user}'.")
        apps.add(app_id)
        return web.Response(status=201, headers=_ids(request))

    async def _list_installed(self, request: web.Request) -> web.Response:
        recorded = Request(request.method, request.path_qs, dict(request.headers), None)
        self.install_requests.append(recorded)
        response = self._answer_list(request)
        recorded.status = response.status
        return response

    def _answer_list(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        user = request.match_info["user"]
        apps = sorted(self.installed.get(user, set()))
        wanted = request.query.get("$filter")
        if wanted is not None:
            match = _FILTER.match(wanted)
            if match is None:
                return _error(request, 400, "BadRequest",
                              f"The fake supports only $filter=teamsApp/id eq '{{id}}': {wanted}")
            apps = [a for a in apps if a == match.group(1)]
        expand = "teamsApp" in (request.query.get("$expand") or "").split(",")
        value = [_installation(user, a, expand=expand) for a in apps]
        return web.json_response(
            {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('"
                               f"{user}')/teamwork/installedApps", "value": value},
            headers=_ids(request))

    async def _create_meeting(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else None
        except ValueError:
            body = None
        recorded = Request(request.method, request.path, dict(request.headers), body)
        self.meeting_requests.append(recorded)
        if self._meeting_faults and self._meeting_faults[0][2]:
            await asyncio.sleep(self._meeting_faults.pop(0)[2])
        response = self._answer_meeting(request, body)
        recorded.status = response.status
        return response

    def _answer_meeting(self, request: web.Request, body: Any) -> web.Response:
        refused = self._meeting_refused(request)
        if refused is not None:
            return refused
        user = request.match_info["user"]
        if user not in self.organizers:
            return _error(request, 404, "NotFound", f"User '{user}' was not found.")
        if user not in self.access_policy:
            return _error(request, 403, "Forbidden", POLICY_MISSING)
        if not isinstance(body, dict):
            return _error(request, 400, "BadRequest", "The request body is not an onlineMeeting.")
        create_or_get = request.path.endswith("/createOrGet")
        external_id = body.get("externalId")
        if create_or_get and not (isinstance(external_id, str) and external_id):
            return _error(request, 400, "BadRequest", "externalId is required.")
        times = _meeting_times(body)
        if times is None:
            return _error(request, 400, "BadRequest",
                          "endDateTime needs a startDateTime, and must not be before it.")
        key = (user, external_id if create_or_get else "")
        if create_or_get and key in self._by_external_id:
            return web.json_response(self._by_external_id[key], status=200,
                                     headers=_ids(request))
        meeting = _online_meeting(user, body, *times)
        self.meetings.append(meeting)
        if create_or_get:
            self._by_external_id[key] = meeting
        return web.json_response(meeting, status=201, headers=_ids(request))

    def _meeting_refused(self, request: web.Request) -> web.Response | None:
        """401 without a Graph token, a fault when told, 403 without the permission."""
        if not request.headers.get("Authorization", "").startswith("Bearer graph-"):
            return _error(request, 401, "InvalidAuthenticationToken", "Access token is empty.")
        if self._meeting_faults:
            status, retry_after, _ = self._meeting_faults.pop(0)
            if status == 429:
                return _error(request, 429, "TooManyRequests", "Please retry again later.",
                              headers={"Retry-After": retry_after or "10"})
            if status:
                return _error(request, status, "ServiceUnavailable" if status == 503
                              else "InternalServerError", "The service is unavailable.")
        if self.meetings_forbidden:
            return _error(request, 403, "Forbidden", "")
        return None

    def _refused(self, request: web.Request) -> web.Response | None:
        """401 without a Graph token, then 429 while throttled."""
        if not request.headers.get("Authorization", "").startswith("Bearer graph-"):
            return _error(request, 401, "InvalidAuthenticationToken", "Access token is empty.")
        if self._throttle:
            return _error(request, 429, "TooManyRequests", "Please retry again later.",
                          headers={"Retry-After": self._throttle.pop(0)},
                          inner={"code": "429", "status": "429",
                                 "message": "Please retry after"})
        return None


@dataclass(frozen=True)
class Attendee:
    """Someone in an ended session: their Entra id (None for a guest), and each
    (joined, left) of theirs (left None: Graph lacked the data)."""

    name: str
    intervals: tuple[tuple[datetime, datetime | None], ...]
    entra_id: str | None = None
    email: str | None = None
    role: str = "Attendee"


def _attendance_record(who: Attendee) -> dict[str, Any]:
    """v1.0's attendanceRecord as the List attendanceRecords example shows it."""
    intervals = [{"joinDateTime": _graph_text(joined),
                  "leaveDateTime": _graph_text(left) if left else None,
                  "durationInSeconds": int((left - joined).total_seconds()) if left else 0}
                 for joined, left in who.intervals]
    return {"emailAddress": who.email,
            "totalAttendanceInSeconds": sum(i["durationInSeconds"] for i in intervals),
            "role": who.role,
            "identity": {"id": who.entra_id, "displayName": who.name, "tenantId": None},
            "attendanceIntervals": intervals}


def _organizer_of(meeting: dict[str, Any]) -> str:
    return str(meeting["participants"]["organizer"]["identity"]["user"]["id"])


_USER_BIND = re.compile(r"^https://graph\.microsoft\.com/(?:v1\.0|beta)/users(?:\('([^']+)'\)"
                        r"|/([^/?#\s]+))$")


def _member_user(member: Any) -> str | None:
    """The Entra id an aadUserConversationMember binds, or None if it is not one."""
    if not isinstance(member, dict) or member.get("@odata.type") != (
            "#microsoft.graph.aadUserConversationMember"):
        return None
    match = _USER_BIND.match(str(member.get("user@odata.bind") or ""))
    return (match.group(1) or match.group(2)) if match else None


def _public(channel: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in channel.items() if k != "archived"}


def _name_refused(request: web.Request, name: Any, team: dict[str, dict[str, Any]], *,
                  but: str | None = None) -> web.Response | None:
    """Teams' rules for a channel's displayName, and its uniqueness in the team."""
    if not isinstance(name, str) or not name.strip():
        return _error(request, 400, "BadRequest", "displayName is required.")
    if (len(name) > 50 or any(c in _FORBIDDEN_IN_NAMES for c in name)
            or name.startswith(("_", "."))):
        return _error(request, 400, "BadRequest",
                      f"Channel name '{name}' is invalid: at most 50 characters, none of "
                      "~ # % & * { } + / \\ : < > ? | ' \", no leading _ or .")
    if any(c["displayName"].lower() == name.lower() for i, c in team.items() if i != but):
        return _error(request, 409, "NameAlreadyExists",
                      f"Channel name '{name}' already exists in this team.")
    return None


def _meeting_times(body: dict[str, Any]) -> tuple[datetime, datetime] | None:
    """Start and end as createOrGet defaults them; None when they do not fit."""
    start_text, end_text = body.get("startDateTime"), body.get("endDateTime")
    try:
        start = _graph_time(start_text) if start_text else datetime.now(UTC)
        end = _graph_time(end_text) if end_text else start + timedelta(hours=1)
    except (TypeError, ValueError):
        return None
    if (end_text and not start_text) or end < start:
        return None
    return start, end


def _graph_time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("a time without its offset")
    return parsed.astimezone(UTC)


def _online_meeting(user: str, body: dict[str, Any], start: datetime,
                    end: datetime) -> dict[str, Any]:
    """v1.0's onlineMeeting as Graph answers it (shortened as in the documentation)."""
    thread = "19:meeting_" + base64.b64encode(uuid.uuid4().bytes).decode().rstrip("=") + \
        "@thread.v2"
    context = ('%7b%22Tid%22%3a%22' + TENANT_ID + '%22%2c%22Oid%22%3a%22' + user + '%22%7d')
    join = ("https://teams.microsoft.com/l/meetup-join/"
            + thread.replace(":", "%3a").replace("@", "%40") + f"/0?context={context}")
    meeting_id = base64.b64encode(f"1*{user}*0**{thread}".encode()).decode()
    return {
        "@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users('{user}')/"
                          "onlineMeetings/$entity",
        "id": meeting_id,
        "creationDateTime": _graph_text(datetime.now(UTC)),
        "startDateTime": _graph_text(start),
        "endDateTime": _graph_text(end),
        "joinWebUrl": join,
        "subject": body.get("subject"),
        "externalId": body.get("externalId"),
        "isBroadcast": False,
        "autoAdmittedUsers": "EveryoneInCompany",
        "allowedPresenters": "everyone",
        "isEntryExitAnnounced": True,
        "videoTeleconferenceId": None,
        "participants": {
            "organizer": {"upn": "oncall@contoso.com", "role": "presenter",
                          "identity": {"user": {"id": user, "displayName": None,
                                                "tenantId": TENANT_ID,
                                                "identityProvider": "AAD"}}},
            "attendees": [],
        },
        "lobbyBypassSettings": {"scope": "organization", "isDialInBypassEnabled": False},
        "joinMeetingIdSettings": {"isPasscodeRequired": False,
                                  "joinMeetingId": str(secrets.randbelow(10**12)).zfill(12),
                                  "passcode": secrets.token_urlsafe(4)[:6]},
        "chatInfo": {"threadId": thread, "messageId": "0", "replyChainMessageId": None},
        "audioConferencing": None,
    }


def _graph_text(moment: datetime) -> str:
    """Graph writes times with seven fraction digits and a Z: 2019-07-11T02:17:17.6491364Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _installation(user: str, app_id: str, *, expand: bool) -> dict[str, Any]:
    # Installation ids are opaque base64 in Graph, and differ from the app's id.
    installation_id = base64.b64encode(f"{user}##{app_id}".encode()).decode()
    found: dict[str, Any] = {"id": installation_id}
    if expand:
        found["teamsApp"] = {"id": app_id, "externalId": None, "displayName": "Incident bot",
                             "distributionMethod": "organization"}
    return found


def _ids(request: web.Request) -> dict[str, str]:
    """Graph's request-id (new each answer) and the client-request-id it echoes."""
    request_id = str(uuid.uuid4())
    return {"request-id": request_id,
            "client-request-id": request.headers.get("client-request-id", request_id)}


def _error(request: web.Request, status: int, code: str, message: str, *,
           headers: dict[str, str] | None = None,
           inner: dict[str, str] | None = None) -> web.Response:
    ids = _ids(request)
    inner_error = {**(inner or {}), "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                   **ids}
    return web.json_response({"error": {"code": code, "message": message,
                                        "innerError": inner_error}},
                             status=status, headers={**ids, **(headers or {})})
