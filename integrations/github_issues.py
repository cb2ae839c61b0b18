"""Follow-up actions as GitHub issues, through the REST API over aiohttp.

`POST /repos/{owner}/{repo}/issues` with a fine-grained token (Issues: read and write) or
a GitHub App installation token. Failures become `TrackerError`, whose `retryable` and
`retry_after` follow GitHub's rate-limit guidance: wait for `retry-after` if present,
else until `x-ratelimit-reset` when `x-ratelimit-remaining` is 0, else at least a minute.

Creating an issue is not idempotent: after a timeout the issue may exist all the same,
so a retry can make a second one.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp

from bot.errors import ProviderError

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
USER_AGENT = "incident-bot"
# GitHub: "if no header says how long, wait at least one minute" after a rate limit.
DEFAULT_RATE_LIMIT_WAIT_S = 60.0
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+")
_GITHUB_MESSAGE_MAX_CHARS = 200


@dataclass(frozen=True)
class IssueRef:
    """A ticket the tracker created: its number and the page people open.

    The number is the tracker's own: GitHub's issue number, the number in a Jira key
    (12 in OPS-12, whose page `/browse/OPS-12` names the key) or a Trello card's idShort.
    """

    number: int
    url: str


class TrackerError(ProviderError):
    """The tracker did not create the issue."""


class IssueTracker(Protocol):
    """Files follow-up actions somewhere people track work (GitHub, Jira, Trello);
    raises `TrackerError`, whose message starts with the tracker's name."""

    # What people call the tracker ("GitHub", "Jira", "Trello"); lower-cased, the
    # provider label of its errors on /metrics.
    name: str
    # One ticket in a sentence: "an issue", "a Jira issue", "a Trello card".
    ticket: str

    async def create_issue(self, *, title: str, body: str,
                           labels: list[str] | None = None) -> IssueRef:
        """Create one issue and return where it is."""
        ...


class GitHubIssues:
    """Creates issues in one repository with one token."""

    name = "GitHub"
    ticket = "an issue"

    def __init__(self, session: aiohttp.ClientSession, *, repository: str, token: str,
                 api_url: str = "https://api.github.com", timeout_s: float = 10,
                 clock: Callable[[], float] = time.time) -> None:
        if not _REPOSITORY.fullmatch(repository):
            raise ValueError(f"GitHub repository must be 'owner/name', got {repository!r}")
        self._session = session
        self._repository = repository
        self._token = token
        self._url = f"{api_url.rstrip('/')}/repos/{repository}/issues"
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock

    def __repr__(self) -> str:
        return f"GitHubIssues(repository={self._repository!r}, url={self._url!r})"

    async def create_issue(self, *, title: str, body: str,
                           labels: list[str] | None = None) -> IssueRef:
        """Open an issue in the repository and return its number and page."""
        payload = {"title": title, "body": body, "labels": list(labels or [])}
        try:
            async with self._session.post(self._url, json=payload, headers=self._headers(),
                                          timeout=self._timeout) as resp:
                if resp.status >= 300:
                    raise self._refusal(resp.status, resp.headers, await response_json(resp))
                answer, status = await response_json(resp), resp.status
        except TimeoutError:
            raise self._failure("GitHub did not answer in time") from None
        except aiohttp.ClientError as exc:
            raise self._failure(f"GitHub could not be reached ({type(exc).__name__})") from None
        return self._issue(answer, status)

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }

    def _refusal(self, status: int, headers: Mapping[str, str], answer: Any) -> TrackerError:
        rate_limited = status == 429 or (status == 403 and (
            "retry-after" in headers or headers.get("x-ratelimit-remaining") == "0"))
        return refusal(tracker="GitHub", action=f"create an issue in {self._repository}",
                       status=status, rate_limited=rate_limited,
                       wait_s=_wait_s(headers, now=self._clock()),
                       default_wait_s=DEFAULT_RATE_LIMIT_WAIT_S,
                       details=self._scrub(_github_message(answer)))

    def _failure(self, message: str) -> TrackerError:
        return unreachable(message, f"creating an issue in {self._repository}")

    def _issue(self, answer: Any, status: int) -> IssueRef:
        try:
            return IssueRef(number=int(answer["number"]), url=str(answer["html_url"]))
        except (TypeError, KeyError, ValueError):
            # The issue may well exist: retrying could file it twice.
            raise TrackerError(
                f"GitHub's answer ({status}) to creating an issue in {self._repository} "
                "has no issue number or link", retryable=False, status=status) from None

    def _scrub(self, text: str) -> str:
        # GitHub does not echo tokens, but a proxy in between might; never pass one on.
        return text.replace(self._token, "[token]") if self._token else text


def refusal(*, tracker: str, action: str, status: int, rate_limited: bool,
            wait_s: float | None, default_wait_s: float, details: str = "",
            logger: logging.Logger = log) -> TrackerError:
    """A tracker's HTTP refusal, the same way for every tracker: retryable for a rate limit,
    a timeout (408) or a server error, after `wait_s` (a rate limit that named no time
    waits `default_wait_s`); `details` (already scrubbed of secrets) follow a colon."""
    retryable = rate_limited or status == 408 or status >= 500
    wait = wait_s if retryable else None
    if rate_limited and wait is None:
        wait = default_wait_s
    verb = "failed" if status >= 500 else "refused"
    note = ", rate limited" if rate_limited else ""
    message = f"{tracker} {verb} to {action} ({status}{note})" + (
        f": {details}" if details else "")
    logger.warning("%s (retryable: %s, retry after: %s s)", message, retryable, wait)
    return TrackerError(message, retryable=retryable, retry_after=wait, status=status)


def unreachable(message: str, doing: str, *, logger: logging.Logger = log) -> TrackerError:
    """No answer at all (a timeout, a refused connection) while `doing`: worth a retry."""
    logger.warning("%s, %s", message, doing)
    return TrackerError(f"{message} {doing}", retryable=True)


async def response_json(resp: aiohttp.ClientResponse) -> Any:
    """The answer's JSON, None for anything else (an HTML error page from a proxy or the
    tracker's edge, Trello's plain-text errors)."""
    try:
        return await resp.json(content_type=None)
    except ValueError:  # UnicodeDecodeError too
        return None


def retry_after_s(value: str | None, *, now: float) -> float | None:
    """Seconds a `Retry-After` header asks for: a number of seconds or an HTTP date."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError):
        return None


def _github_message(answer: Any) -> str:
    """GitHub's own words: `message`, plus the first validation error's code and field."""
    if not isinstance(answer, dict) or not isinstance(answer.get("message"), str):
        return ""
    said: str = answer["message"]
    errors = answer.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        detail = first.get("message") or " ".join(
            str(first[k]) for k in ("field", "code") if first.get(k))
        if detail:
            said += f" ({detail})"
    return said[:_GITHUB_MESSAGE_MAX_CHARS]


def _wait_s(headers: Mapping[str, str], *, now: float) -> float | None:
    """Seconds GitHub asks us to wait, from `retry-after` or `x-ratelimit-reset`."""
    wait = retry_after_s(headers.get("retry-after"), now=now)
    if wait is not None:
        return wait
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            return max(0.0, float(headers.get("x-ratelimit-reset", "")) - now)
        except ValueError:
            pass
    return None

