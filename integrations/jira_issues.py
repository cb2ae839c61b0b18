"""Follow-up actions as Jira Cloud issues, through REST API v3 over aiohttp.

`POST {base}/rest/api/3/issue` ("Create issue",
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-post)
with `fields`: `project` (by key), `issuetype` (by name), `summary` (one line, at most 255
characters), `description` in Atlassian Document Format (a `doc` of paragraphs) and
`labels` (no spaces). Jira answers 201 `{"id", "key", "self"}`; people open
`{site}/browse/{key}`. Refusals are `{"errorMessages": [...], "errors": {field: message}}`.

Two ways in:
- an Atlassian account's email and API token, as HTTP Basic, at the site URL
  (`https://acme.atlassian.net`; "Basic auth for REST APIs",
  https://developer.atlassian.com/cloud/jira/platform/jira-rest-api-basic-authentication/);
- an OAuth 2.0 (3LO) access token as a Bearer token, which Atlassian accepts only through
  `https://api.atlassian.com/ex/jira/{cloudid}` (so the links need the site URL given too).

Rate limits ("Rate limiting", https://developer.atlassian.com/cloud/jira/platform/rate-limiting/):
any call may be answered 429, with `Retry-After` (seconds) and perhaps `X-RateLimit-Reset`
(an ISO 8601 time); some 503s carry `Retry-After` too. Both are retryable and the wait is
honoured; without a header the bot waits `DEFAULT_RATE_LIMIT_WAIT_S`.

Creating an issue is not idempotent: after a timeout the issue may exist all the same,
so a retry can make a second one.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from integrations.github_issues import (
    IssueRef,
    TrackerError,
    refusal,
    response_json,
    retry_after_s,
    unreachable,
)

log = logging.getLogger(__name__)

USER_AGENT = "incident-bot"
SUMMARY_MAX_CHARS = 255
# Jira documents no wait for a 429 without Retry-After; its guide backs off from seconds.
DEFAULT_RATE_LIMIT_WAIT_S = 30.0
_MESSAGE_MAX_CHARS = 200
_PROJECT_KEY = re.compile(r"[A-Z][A-Z0-9_]{0,254}")
_ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]*-([0-9]+)")


def oauth_base(url: str) -> bool:
    """Whether `url` is the OAuth gateway form, `https://api.atlassian.com/ex/jira/{cloudid}`."""
    return "/ex/jira/" in urlsplit(url).path + "/"


class JiraIssues:
    """Creates issues of one type in one Jira Cloud project."""

    name = "Jira"
    ticket = "a Jira issue"

    def __init__(self, session: aiohttp.ClientSession, *, base_url: str, project_key: str,
                 issue_type: str = "Task", email: str = "", api_token: str = "",
                 oauth_token: str = "", site_url: str = "", timeout_s: float = 10,
                 clock: Callable[[], float] = time.time) -> None:
        if not _PROJECT_KEY.fullmatch(project_key):
            raise ValueError(f"Jira project key must be capitals and digits such as OPS, "
                             f"got {project_key!r}")
        if not (oauth_token or (email and api_token)):
            raise ValueError("Jira needs an email and API token, or an OAuth access token")
        base = base_url.rstrip("/")
        if not site_url and oauth_base(base):
            raise ValueError("Jira through api.atlassian.com/ex/jira needs the site URL "
                             "(https://<site>.atlassian.net) for the links people open")
        self._session = session
        self._project = project_key
        self._issue_type = issue_type
        self._url = f"{base}/rest/api/3/issue"
        self._site = (site_url or base).rstrip("/")
        if oauth_token:
            self._secrets = [oauth_token]
            self._authorization = f"Bearer {oauth_token}"
            self._credential = "the OAuth access token"
        else:
            basic = base64.b64encode(f"{email}:{api_token}".encode()).decode()
            self._secrets = [api_token, basic]
            self._authorization = f"Basic {basic}"
            self._credential = f"the API token for {email}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock

    def __repr__(self) -> str:
        return f"JiraIssues(project={self._project!r}, url={self._url!r})"

    async def create_issue(self, *, title: str, body: str,
                           labels: list[str] | None = None) -> IssueRef:
        """Create an issue in the project and return its number and page."""
        payload = {"fields": {
            "project": {"key": self._project},
            "issuetype": {"name": self._issue_type},
            "summary": summary(title),
            "description": document(body),
            "labels": [_label(name) for name in labels or [] if _label(name)],
        }}
        try:
            async with self._session.post(self._url, json=payload, headers=self._headers(),
                                          timeout=self._timeout) as resp:
                if resp.status >= 300:
                    said = await response_json(resp)
                    if said is None:
                        said = (await resp.text(errors="replace"))[:_MESSAGE_MAX_CHARS]
                    raise self._refusal(resp.status, resp.headers, said)
                answer, status = await response_json(resp), resp.status
        except TimeoutError:
            raise self._failure("Jira did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise self._failure(f"Jira could not be reached ({type(exc).__name__})") from None
        return self._issue(answer, status)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": self._authorization, "Accept": "application/json",
                "User-Agent": USER_AGENT}

    def _refusal(self, status: int, headers: Mapping[str, str], answer: Any) -> TrackerError:
        said = self._scrub(_jira_message(answer))
        return refusal(tracker="Jira", action=f"create an issue in project {self._project}",
                       status=status, rate_limited=status == 429,
                       wait_s=_wait_s(headers, now=self._clock()),
                       default_wait_s=DEFAULT_RATE_LIMIT_WAIT_S, logger=log,
                       details="; Jira says: ".join(
                           part for part in (self._meaning(status), said) if part))

    def _meaning(self, status: int) -> str:
        """What a refusal means, in the words of whoever fixes it."""
        if status == 401:
            return f"{self._credential} was not accepted (wrong, expired or revoked)"
        if status == 403:
            return (f"{self._credential} works but may not create issues in project "
                    f"{self._project} (Browse projects and Create issues permissions)")
        if status == 404:
            return "no such Jira site or project (JIRA_BASE_URL, JIRA_PROJECT_KEY)"
        return ""

    def _failure(self, message: str) -> TrackerError:
        return unreachable(message, f"creating an issue in project {self._project}", logger=log)

    def _issue(self, answer: Any, status: int) -> IssueRef:
        key = answer.get("key") if isinstance(answer, dict) else None
        match = _ISSUE_KEY.fullmatch(key) if isinstance(key, str) else None
        if match is None:
            # The issue may well exist: retrying could file it twice.
            raise TrackerError(
                f"Jira's answer ({status}) to creating an issue in project {self._project} "
                "has no issue key", retryable=False, status=status)
        return IssueRef(number=int(match.group(1)), url=f"{self._site}/browse/{key}")

    def _scrub(self, text: str) -> str:
        # Jira does not echo credentials, but a proxy in between might; never pass one on.
        for secret in self._secrets:
            text = text.replace(secret, "[token]")
        return text


def summary(title: str) -> str:
    """One line (Jira refuses newlines in a summary) of at most 255 characters."""
    line = " ".join(title.split())
    return line if len(line) <= SUMMARY_MAX_CHARS else line[: SUMMARY_MAX_CHARS - 1] + "…"


def document(text: str) -> dict[str, Any]:
    """`text` as an Atlassian Document Format doc: a paragraph per blank-line-separated
    block, its lines joined by hard breaks (ADF allows no empty text nodes)."""
    paragraphs = []
    for block in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").strip()):
        content: list[dict[str, Any]] = []
        for line in (part for part in block.split("\n") if part.strip()):
            if content:
                content.append({"type": "hardBreak"})
            content.append({"type": "text", "text": line})
        if content:
            paragraphs.append({"type": "paragraph", "content": content})
    return {"type": "doc", "version": 1,
            "content": paragraphs or [{"type": "paragraph", "content": []}]}


def _label(name: str) -> str:
    # Jira labels are one word: "The label 'a b' contains spaces which is invalid."
    return "-".join(name.split())[:255]


def _jira_message(answer: Any) -> str:
    """Jira's own words: its `errorMessages`, then `field: message` for each field."""
    if isinstance(answer, str):
        return " ".join(answer.split())[:_MESSAGE_MAX_CHARS]
    if not isinstance(answer, dict):
        return ""
    parts = [str(m) for m in answer.get("errorMessages") or [] if m]
    errors = answer.get("errors")
    if isinstance(errors, dict):
        parts += [f"{field}: {message}" for field, message in errors.items()]
    if not parts and isinstance(answer.get("message"), str):
        parts.append(answer["message"])  # the API gateway's shape
    said = "; ".join(parts)
    return said if len(said) <= _MESSAGE_MAX_CHARS else said[: _MESSAGE_MAX_CHARS - 1] + "…"


def _wait_s(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds Jira asks us to wait: `Retry-After`, else until `X-RateLimit-Reset`."""
    wait = retry_after_s(headers.get("retry-after"), now=now)
    if wait is not None:
        return wait
    reset = headers.get("x-ratelimit-reset")
    if reset:
        try:
            at = dt.datetime.fromisoformat(reset.replace("Z", "+00:00"))
        except ValueError:
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        return max(0.0, at.timestamp() - now)
    return None
