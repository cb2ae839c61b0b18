"""Follow-up actions become GitHub issues: the real client against a loopback GitHub."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.errors import BotError
from integrations.github_issues import GitHubIssues, IssueRef, TrackerError
from tests.fakes.github import FakeGitHub

REPOSITORY = "acme/payments"
NOW = 1_800_000_000.0




@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def tracker(session: aiohttp.ClientSession, fake: FakeGitHub, **overrides: Any) -> GitHubIssues:
    values: dict[str, Any] = {"repository": REPOSITORY, "token": fake.token,
                              "api_url": fake.api_url, "timeout_s": 5, "clock": lambda: NOW}
    return GitHubIssues(session, **{**values, **overrides})


async def refusal(client: GitHubIssues, **issue: Any) -> TrackerError:
    with pytest.raises(TrackerError) as caught:
        await client.create_issue(**{"title": "INC-7 follow-up", "body": "b", **issue})
    return caught.value


async def test_issue_is_posted_to_the_repository_issues_endpoint(github, session) -> None:
    await tracker(session, github).create_issue(title="INC-7 follow-up", body="Add alert")

    [request] = github.requests
    assert request.method == "POST"
    assert request.path == "/repos/acme/payments/issues"


async def test_request_carries_the_token_and_github_headers(github, session) -> None:
    await tracker(session, github).create_issue(title="INC-7 follow-up", body="Add alert")

    headers = github.requests[0].headers
    assert headers["Authorization"] == f"Bearer {github.token}"
    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert headers["User-Agent"] == "incident-bot"
    assert headers["Content-Type"] == "application/json"


async def test_request_body_is_title_body_and_labels(github, session) -> None:
    await tracker(session, github).create_issue(
        title="INC-7 follow-up: replica lag alert", body="Owner: Linus",
        labels=["incident-follow-up", "sev2"])

    assert github.requests[0].body == {"title": "INC-7 follow-up: replica lag alert",
                                       "body": "Owner: Linus",
                                       "labels": ["incident-follow-up", "sev2"]}
    names = [label["name"] for label in github.created[0]["issue"]["labels"]]
    assert names == ["incident-follow-up", "sev2"]


async def test_no_labels_are_sent_as_an_empty_list(github, session) -> None:
    await tracker(session, github).create_issue(title="INC-7 follow-up", body="b")

    assert github.requests[0].body["labels"] == []


async def test_issue_ref_is_the_number_and_the_page_people_open(github, session) -> None:
    client = tracker(session, github)

    first = await client.create_issue(title="one", body="b")
    second = await client.create_issue(title="two", body="b")

    assert first == IssueRef(number=1, url="https://github.com/acme/payments/issues/1")
    assert second == IssueRef(number=2, url="https://github.com/acme/payments/issues/2")


async def test_api_url_with_a_trailing_slash_works(github, session) -> None:
    ref = await tracker(session, github, api_url=github.api_url + "/").create_issue(
        title="t", body="b")

    assert ref.number == 1
    assert github.requests[0].path == "/repos/acme/payments/issues"


async def test_wrong_token_is_not_retryable(github, session) -> None:
    error = await refusal(tracker(session, github, token="ghp_revoked_token_value"))

    assert not error.retryable and error.retry_after is None
    assert error.status == 401
    assert str(error) == ("GitHub refused to create an issue in acme/payments (401): "
                          "Bad credentials")


async def test_validation_failure_is_not_retryable_and_says_what_is_wrong(
    github, session
) -> None:
    error = await refusal(tracker(session, github), title="")

    assert not error.retryable and error.status == 422
    assert "Validation Failed (title missing_field)" in str(error)


@pytest.mark.parametrize("status", [404, 410])
async def test_missing_repository_or_issues_is_not_retryable(
    github, session, status: int
) -> None:
    github.fail_next(status)

    error = await refusal(tracker(session, github))

    assert not error.retryable and error.status == status


async def test_unknown_repository_is_not_retryable(github, session) -> None:
    error = await refusal(tracker(session, github, repository="acme/gone"))

    assert not error.retryable
    assert str(error) == "GitHub refused to create an issue in acme/gone (404): Not Found"


async def test_secondary_rate_limit_429_is_retryable_after_retry_after(
    github, session
) -> None:
    github.fail_next(429, headers={"retry-after": "37"})

    error = await refusal(tracker(session, github))

    assert error.retryable and error.retry_after == 37.0
    assert "(429, rate limited)" in str(error)


async def test_429_without_a_delay_waits_the_minute_github_asks_for(github, session) -> None:
    github.fail_next(429)

    error = await refusal(tracker(session, github))

    assert error.retryable and error.retry_after == 60.0


async def test_primary_rate_limit_403_is_retryable_when_the_limit_resets(
    github, session
) -> None:
    github.fail_next(403, headers={"x-ratelimit-limit": "5000", "x-ratelimit-remaining": "0",
                                   "x-ratelimit-reset": str(int(NOW) + 90)})

    error = await refusal(tracker(session, github))

    assert error.retryable and error.retry_after == 90.0
    assert "API rate limit exceeded" in str(error)


async def test_secondary_rate_limit_403_is_retryable_after_retry_after(
    github, session
) -> None:
    github.fail_next(403, headers={"retry-after": "120", "x-ratelimit-remaining": "4321"},
                     body={"message": "You have exceeded a secondary rate limit."})

    error = await refusal(tracker(session, github))

    assert error.retryable and error.retry_after == 120.0


async def test_retry_after_may_be_an_http_date(github, session) -> None:
    github.fail_next(429, headers={"retry-after": time.strftime(
        "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(NOW + 45))})

    error = await refusal(tracker(session, github))

    assert error.retry_after == 45.0


async def test_forbidden_without_rate_limit_headers_is_not_retryable(github, session) -> None:
    github.fail_next(403, body={"message": "Resource not accessible by personal access token"})

    error = await refusal(tracker(session, github))

    assert not error.retryable and error.retry_after is None
    assert "Resource not accessible by personal access token" in str(error)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retryable(github, session, status: int) -> None:
    github.fail_next(status)

    error = await refusal(tracker(session, github))

    assert error.retryable and error.retry_after is None and error.status == status
    assert str(error).startswith(f"GitHub failed to create an issue in acme/payments ({status})")


async def test_server_error_with_retry_after_keeps_the_delay(github, session) -> None:
    github.fail_next(503, headers={"Retry-After": "5"})

    error = await refusal(tracker(session, github))

    assert error.retryable and error.retry_after == 5.0


async def test_hang_beyond_the_timeout_is_retryable(github, session) -> None:
    github.hang_next(10)
    started = time.monotonic()

    error = await refusal(tracker(session, github, timeout_s=0.3))

    assert time.monotonic() - started < 3
    assert error.retryable and error.status == 0
    assert str(error) == "GitHub did not answer in time creating an issue in acme/payments"


async def test_unreachable_github_is_retryable(session) -> None:
    with socket.socket() as probe:  # a port nobody listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = GitHubIssues(session, repository=REPOSITORY, token="ghp_x",
                          api_url=f"http://127.0.0.1:{port}", timeout_s=2)

    error = await refusal(client)

    assert error.retryable and error.status == 0
    assert "GitHub could not be reached" in str(error)


async def test_tracker_error_is_a_bot_error(github, session) -> None:
    error = await refusal(tracker(session, github), title="")

    assert isinstance(error, BotError)


@pytest.mark.parametrize("repository", ["acme", "acme/payments/x", "/payments", "acme/", ""])
async def test_repository_must_be_owner_slash_name(session, repository: str) -> None:
    with pytest.raises(ValueError, match="owner/name"):
        GitHubIssues(session, repository=repository, token="ghp_x")


async def test_token_is_never_in_errors_or_logs(
    github, session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "ghp_caller_secret_" + "Zq9" * 10
    github.token = secret
    client = tracker(session, github, timeout_s=0.3)
    errors = [await refusal(tracker(session, github, token=secret + "-revoked"))]
    for status, headers in [(429, {"retry-after": "1"}), (500, {}), (422, {}),
                            (403, {"x-ratelimit-remaining": "0"})]:
        github.fail_next(status, headers=headers)
        errors.append(await refusal(client))
    # A proxy that echoes the request back must not carry the token into the thread.
    github.fail_next(502, body={"message": f"upstream rejected Authorization: Bearer {secret}"})
    errors.append(await refusal(client))
    github.hang_next(5)
    errors.append(await refusal(client))

    texts = [caplog.text, repr(client)]
    texts += [text for e in errors for text in (str(e), repr(e), *map(str, e.args))]
    assert all(secret not in text for text in texts)
    assert "[token]" in str(errors[-2])
