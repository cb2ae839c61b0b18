"""A loopback Jira Cloud REST API v3: "Create issue", as Jira answers it.

`POST /rest/api/3/issue` (the site: HTTP Basic with an account's email and API token) and
`POST /ex/jira/{cloudid}/rest/api/3/issue` (Atlassian's gateway: a Bearer OAuth 2.0 access
token, or Basic) check what Jira checks: the credentials, a known project and issue type,
a one-line summary of at most 255 characters, a description in Atlassian Document Format,
labels without spaces; and answer 201 `{"id", "key", "self"}`, or Jira's
`{"errorMessages": [...], "errors": {field: message}}`. Faults: the next calls can answer
a status (with headers and a body) or hang.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Request, serve

NOT_AUTHENTICATED = "Client must be authenticated to access this resource."
ADF_REQUIRED = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"


@dataclass
class Fault:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    hang_s: float = 0.0


@dataclass
class FakeJira:
    """Start with `await fake.start()`; point the client at `site_url` (Basic) or
    `gateway_url` (OAuth)."""

    email: str = "incident-bot@acme.example"
    api_token: str = "ATATT3xFfGF0jira-test-token"
    oauth_token: str = "eyJ-jira-oauth-access-token"
    cloud_id: str = "11223344-a1b2-3b33-c444-def123456789"
    projects: dict[str, int] = field(default_factory=lambda: {"OPS": 10000})
    issue_types: set[str] = field(default_factory=lambda: {"Task", "Bug", "Story"})
    requests: list[Request] = field(default_factory=list)
    # One entry per issue made: the request's "path", "headers" and "body", and the "issue".
    created: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(10001)
        self._numbers: dict[str, itertools.count[int]] = {}
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def site_url(self) -> str:
        return self.url

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/ex/jira/{self.cloud_id}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/rest/api/3/issue", self._create_issue)
        app.router.add_post("/ex/jira/{cloud_id}/rest/api/3/issue", self._create_issue)
        self._runner, url = await serve(app)
        self.url = url.rstrip("/")

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, status: int, *, times: int = 1, headers: dict[str, str] | None = None,
                  body: Any = None) -> None:
        """Answer the next `times` calls with `status`, `headers` and Jira's usual body."""
        self._faults.extend(Fault(status, dict(headers or {}), body) for _ in range(times))

    def hang_next(self, seconds: float) -> None:
        """Hold the next call for `seconds`, then create the issue as usual."""
        self._faults.append(Fault(hang_s=seconds))

    async def _create_issue(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        recorded = Request(request.method, request.path, dict(request.headers), body)
        self.requests.append(recorded)
        response = await self._fault() or self._answer(request, body)
        recorded.status = response.status
        return response

    def _answer(self, request: web.Request, body: Any) -> web.Response:
        gateway = "cloud_id" in request.match_info
        if gateway and request.match_info["cloud_id"] != self.cloud_id:
            return web.json_response({"code": 404, "message": "Not Found"}, status=404)
        if not self._authenticated(request.headers.get("Authorization", ""), gateway=gateway):
            if gateway:
                return web.json_response({"code": 401, "message": "Unauthorized"}, status=401)
            return web.Response(status=401, text=NOT_AUTHENTICATED, content_type="text/plain")
        if not isinstance(body, dict) or not isinstance(body.get("fields"), dict):
            return _error(400, messages=["Unexpected character in the JSON body."])
        fields = body["fields"]
        errors = _invalid(fields, self.projects, self.issue_types)
        if errors:
            return _error(400, errors=errors)
        key = fields["project"]["key"]
        number = next(self._numbers.setdefault(key, itertools.count(1)))
        issue_id = str(next(self._ids))
        issue = {"id": issue_id, "key": f"{key}-{number}",
                 "self": f"{self.url}/rest/api/3/issue/{issue_id}"}
        self.created.append({"path": request.path, "headers": dict(request.headers),
                             "body": body, "issue": issue})
        return web.json_response(issue, status=201)

    def _authenticated(self, authorization: str, *, gateway: bool) -> bool:
        scheme, _, credential = authorization.partition(" ")
        if scheme == "Bearer":
            return gateway and credential == self.oauth_token
        if scheme == "Basic":
            try:
                decoded = base64.b64decode(credential, validate=True).decode()
            except ValueError:
                return False
            return decoded == f"{self.email}:{self.api_token}"
        return False

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
        if fault.status == 401 and fault.body is None:
            return web.Response(status=401, text=NOT_AUTHENTICATED, content_type="text/plain",
                                headers=fault.headers)
        body = fault.body if fault.body is not None else _usual_body(fault.status)
        return web.json_response(body, status=fault.status, headers=fault.headers)


def _invalid(fields: dict[str, Any], projects: dict[str, int],
             issue_types: set[str]) -> dict[str, str]:
    """Jira's field errors for a create-issue body, empty when it is fine."""
    errors: dict[str, str] = {}
    project = fields.get("project")
    if not isinstance(project, dict) or project.get("key") not in projects:
        errors["project"] = "valid project is required"
    issue_type = fields.get("issuetype")
    if not isinstance(issue_type, dict) or issue_type.get("name") not in issue_types:
        errors["issuetype"] = "Specify a valid issue type"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    elif "\n" in summary or "\r" in summary:
        errors["summary"] = "The summary is invalid because it contains newline characters."
    elif len(summary) > 255:
        errors["summary"] = "Summary must be less than 255 characters."
    if "description" in fields and not _adf(fields["description"]):
        errors["description"] = ADF_REQUIRED
    labels = fields.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        errors["labels"] = "data was not an array"
    else:
        for label in labels:
            if not label or any(c.isspace() for c in label):
                errors["labels"] = f"The label '{label}' contains spaces which is invalid."
    return errors


def _adf(doc: Any) -> bool:
    """A `doc` (version 1) of paragraphs holding non-empty text nodes and hard breaks."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1:
        return False
    blocks = doc.get("content")
    if not isinstance(blocks, list):
        return False
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") != "paragraph":
            return False
        for node in block.get("content", []):
            if not isinstance(node, dict):
                return False
            if node.get("type") == "text":
                if not isinstance(node.get("text"), str) or not node["text"]:
                    return False
            elif node.get("type") != "hardBreak":
                return False
    return True


def _usual_body(status: int) -> dict[str, Any]:
    messages = {
        400: "Bad request",
        403: "You do not have permission to create issues in this project.",
        404: "No project could be found with key 'OPS'.",
        429: "Rate limit exceeded.",
    }
    return {"errorMessages": [messages.get(status, "Internal server error")], "errors": {}}


def _error(status: int, *, messages: list[str] | None = None,
           errors: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"errorMessages": messages or [], "errors": errors or {}},
                             status=status)
