"""A loopback GitHub REST API: "Create an issue", as GitHub answers it.

`POST /repos/{owner}/{repo}/issues` checks what GitHub checks (a User-Agent, a supported
X-GitHub-Api-Version, the Bearer token, a title, a known repository) and answers 201 with
an issue object. Faults: the next calls can answer a status (with headers) or hang.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Request, serve

DOCS = "https://docs.github.com/rest/issues/issues#create-an-issue"
SUPPORTED_API_VERSIONS = {"2022-11-28", "2026-03-10"}
RATE_LIMIT = 5000
NO_USER_AGENT = (
    "Request forbidden by administrative rules. Please make sure your request has a "
    "User-Agent header (https://docs.github.com/en/rest/overview/"
    "resources-in-the-rest-api#user-agent-required)."
)


@dataclass
class Fault:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    hang_s: float = 0.0


@dataclass
class FakeGitHub:
    """Start with `await fake.start()`; point the client at `api_url` with `token`."""

    token: str = "ghp_test_token_value"
    repositories: set[str] = field(default_factory=lambda: {"acme/payments"})
    requests: list[Request] = field(default_factory=list)
    # One entry per issue made: the request's "path", "headers" and "body", and the "issue".
    created: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def __post_init__(self) -> None:
        self._faults: list[Fault] = []
        self._numbers = itertools.count(1)
        self._ids = itertools.count(2_840_000_001)
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        return self.url

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/repos/{owner}/{repo}/issues", self._create_issue)
        self._runner, url = await serve(app)
        self.url = url.rstrip("/")

    async def stop(self) -> None:
        self._release.set()  # let hung requests finish so the server can close
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, status: int, *, times: int = 1, headers: dict[str, str] | None = None,
                  body: dict[str, Any] | None = None) -> None:
        """Answer the next `times` calls with `status`, `headers` and GitHub's usual body."""
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
        headers = request.headers
        if not headers.get("User-Agent"):
            return _text(403, NO_USER_AGENT)
        version = headers.get("X-GitHub-Api-Version")
        if version is not None and version not in SUPPORTED_API_VERSIONS:
            return _error(400, f"API version {version!r} is not supported.")
        if headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "Bad credentials", docs="https://docs.github.com/rest")
        repository = f"{request.match_info['owner']}/{request.match_info['repo']}"
        if repository not in self.repositories:
            return _error(404, "Not Found")
        if not isinstance(body, dict):
            return _error(400, "Problems parsing JSON")
        invalid = _invalid(body)
        if invalid:
            return _error(422, "Validation Failed", errors=[invalid])
        issue = self._issue(repository, body)
        self.created.append({"path": request.path, "headers": dict(headers), "body": body,
                             "issue": issue})
        return web.json_response(issue, status=201, headers={
            "Location": issue["url"], **_rate_headers(RATE_LIMIT - len(self.created))})

    def _issue(self, repository: str, body: dict[str, Any]) -> dict[str, Any]:
        number = next(self._numbers)
        api = f"{self.url}/repos/{repository}"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {
            "id": next(self._ids), "node_id": f"I_kwDOFake{number:06d}",
            "url": f"{api}/issues/{number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{number}/comments",
            "events_url": f"{api}/issues/{number}/events",
            "html_url": f"https://github.com/{repository}/issues/{number}",
            "number": number, "state": "open", "state_reason": None,
            "title": body["title"], "body": body.get("body"),
            "user": {"login": "incident-bot[bot]", "id": 41898282, "type": "Bot"},
            # GitHub creates labels it does not know yet, in its default grey.
            "labels": [{"id": next(self._ids), "node_id": f"LA_kwDOFake{name}",
                        "url": f"{api}/labels/{name}", "name": name, "color": "ededed",
                        "default": False, "description": None}
                       for name in body.get("labels") or []],
            "assignee": None, "assignees": [], "milestone": None, "locked": False,
            "comments": 0, "created_at": now, "updated_at": now, "closed_at": None,
            "author_association": "NONE", "active_lock_reason": None,
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
        body = fault.body or _usual_body(fault.status)
        return web.json_response(body, status=fault.status, headers=fault.headers)


def _invalid(body: dict[str, Any]) -> dict[str, Any] | None:
    """GitHub's validation error for a create-issue body, None when it is fine."""
    title = body.get("title")
    if title is None or title == "":
        return {"resource": "Issue", "code": "missing_field", "field": "title"}
    if not isinstance(title, (str, int)):
        return {"resource": "Issue", "code": "invalid", "field": "title"}
    labels = body.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return {"resource": "Issue", "code": "invalid", "field": "labels"}
    return None


def _usual_body(status: int) -> dict[str, Any]:
    messages = {
        401: "Bad credentials",
        403: "API rate limit exceeded for installation ID 4242.",
        404: "Not Found",
        410: "Issues are disabled for this repo",
        422: "Validation Failed",
        429: "You have exceeded a secondary rate limit. Please wait a few minutes before "
             "you try again.",
    }
    return {"message": messages.get(status, "Server Error"), "documentation_url": DOCS,
            "status": str(status)}


def _error(status: int, message: str, *, docs: str = DOCS,
           errors: list[dict[str, Any]] | None = None) -> web.Response:
    body: dict[str, Any] = {"message": message, "documentation_url": docs,
                            "status": str(status)}
    if errors:
        body["errors"] = errors
    return web.json_response(body, status=status, headers=_rate_headers(RATE_LIMIT - 1))


def _text(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain")


def _rate_headers(remaining: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(RATE_LIMIT),
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(time.time()) + 3600),
        "x-ratelimit-used": str(RATE_LIMIT - remaining),
        "x-ratelimit-resource": "core",
    }

