"""A loopback Microsoft Graph: Entra client-credentials token, presence by user id, and the
bot's app installed for a user ("proactive installation").

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
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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

    def __post_init__(self) -> None:
        self._throttle: list[str] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1.0/communications/getPresencesByUserId", self._presences)
        app.router.add_post("/v1.0/users/{user}/teamwork/installedApps", self._install)
        app.router.add_get("/v1.0/users/{user}/teamwork/installedApps", self._list_installed)
        self._runner, self.url = await serve(app)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def throttle_next(self, times: int = 1, *, retry_after: str = "10") -> None:
        """Answer the next `times` installedApps calls 429 with `Retry-After: retry_after`,
        as Graph does while an app or tenant is throttled."""
        self._throttle.extend(retry_after for _ in range(times))

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
