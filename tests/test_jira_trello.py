"""Follow-ups where the team works: Jira Cloud issues and Trello cards, behind the same
tracker interface as GitHub, against loopback Jira and Trello, and through the real app."""

from __future__ import annotations

import base64
import logging
import re
import subprocess
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from bot.incidents.pir import TrackAction
from bot.store.incident_models import Incident
from bot.store.pir_models import FollowUpAction, Review
from integrations.github_issues import IssueRef, TrackerError
from integrations.jira_issues import JiraIssues, document, summary
from integrations.trello_cards import TrelloCards
from tests.bot_process import SCRIPT, bot_env
from tests.conftest import make_settings
from tests.fakes.activities import ADA, GRACE, LINUS
from tests.fakes.jira import FakeJira
from tests.fakes.trello import FakeTrello
from tests.scenario import Team, eventually, thread_posts

NOW = 1_800_000_000.0
_LINK = re.compile(r"(http://\S+/review\.(?:html|md)\?expires=\d+&sig=[0-9a-f]+)")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def jira_client(session: aiohttp.ClientSession, fake: FakeJira, **overrides: Any) -> JiraIssues:
    values: dict[str, Any] = {"base_url": fake.site_url, "project_key": "OPS",
                              "email": fake.email, "api_token": fake.api_token,
                              "timeout_s": 5, "clock": lambda: NOW}
    return JiraIssues(session, **{**values, **overrides})


def trello_client(session: aiohttp.ClientSession, fake: FakeTrello,
                  **overrides: Any) -> TrelloCards:
    values: dict[str, Any] = {"api_key": fake.key, "token": fake.token,
                              "list_id": fake.list_id, "api_url": fake.api_url,
                              "timeout_s": 5, "clock": lambda: NOW}
    return TrelloCards(session, **{**values, **overrides})


async def refusal(client: JiraIssues | TrelloCards, **issue: Any) -> TrackerError:
    with pytest.raises(TrackerError) as caught:
        await client.create_issue(**{"title": "INC-7 follow-up", "body": "b", **issue})
    return caught.value


# --- Jira -------------------------------------------------------------------------------


async def test_jira_issue_has_the_project_type_one_line_summary_adf_and_labels(
    jira, session
) -> None:
    ref = await jira_client(session, jira, issue_type="Bug").create_issue(
        title="INC-7 follow-up: add\nreplica lag alert", labels=["incident-follow-up", "sev 2"],
        body="Follow-up action 1 of INC-7.\n\nAdd an alert\non replica lag\n\nOwner: Linus")

    [made] = jira.created
    assert made["path"] == "/rest/api/3/issue"
    expected = base64.b64encode(f"{jira.email}:{jira.api_token}".encode()).decode()
    assert made["headers"]["Authorization"] == f"Basic {expected}"
    fields = made["body"]["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Bug"}
    assert fields["summary"] == "INC-7 follow-up: add replica lag alert"
    assert fields["labels"] == ["incident-follow-up", "sev-2"]
    assert fields["description"] == {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Follow-up action 1 of INC-7."}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Add an alert"},
                                          {"type": "hardBreak"},
                                          {"type": "text", "text": "on replica lag"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Owner: Linus"}]}]}
    assert ref == IssueRef(number=1, url=f"{jira.site_url}/browse/OPS-1")


def test_summary_is_one_line_of_at_most_255_characters_and_an_empty_body_is_a_doc() -> None:
    assert len(summary("x" * 400)) == 255 and summary("x" * 400).endswith("…")
    assert summary(" a\r\n b\tc ") == "a b c"
    assert document("") == {"type": "doc", "version": 1,
                            "content": [{"type": "paragraph", "content": []}]}


async def test_jira_long_title_is_accepted_cut_short(jira, session) -> None:
    await jira_client(session, jira).create_issue(title="lag " * 100, body="b")

    assert len(jira.created[0]["body"]["fields"]["summary"]) == 255


async def test_jira_oauth_goes_through_the_gateway_with_a_bearer_token(jira, session) -> None:
    client = JiraIssues(session, base_url=jira.gateway_url, project_key="OPS",
                        oauth_token=jira.oauth_token, site_url="https://acme.atlassian.net")

    ref = await client.create_issue(title="t", body="b")

    [made] = jira.created
    assert made["path"] == f"/ex/jira/{jira.cloud_id}/rest/api/3/issue"
    assert made["headers"]["Authorization"] == f"Bearer {jira.oauth_token}"
    assert ref.url == "https://acme.atlassian.net/browse/OPS-1"


def test_jira_gateway_without_a_site_url_has_no_links_to_give(session) -> None:
    with pytest.raises(ValueError, match="site URL"):
        JiraIssues(session, base_url="https://api.atlassian.com/ex/jira/abc", project_key="OPS",
                   oauth_token="t")


async def test_jira_field_errors_are_not_retryable_and_say_what_jira_said(jira, session) -> None:
    error = await refusal(jira_client(session, jira, project_key="NOPE"))

    assert not error.retryable and error.status == 400 and error.retry_after is None
    assert str(error) == ("Jira refused to create an issue in project NOPE (400): "
                          "project: valid project is required")


async def test_jira_long_messages_are_cut_short(jira, session) -> None:
    jira.fail_next(400, body={"errorMessages": ["x" * 1000], "errors": {}})

    error = await refusal(jira_client(session, jira))

    assert len(str(error)) < 300 and str(error).endswith("…")


async def test_jira_wrong_api_token_says_so_in_plain_words(jira, session) -> None:
    error = await refusal(jira_client(session, jira, api_token="revoked"))

    assert not error.retryable and error.status == 401
    assert str(error) == (
        "Jira refused to create an issue in project OPS (401): the API token for "
        f"{jira.email} was not accepted (wrong, expired or revoked); Jira says: "
        "Client must be authenticated to access this resource.")


async def test_jira_forbidden_names_the_permission(jira, session) -> None:
    jira.fail_next(403)

    error = await refusal(jira_client(session, jira))

    assert not error.retryable and error.status == 403
    assert "may not create issues in project OPS" in str(error)
    assert "You do not have permission to create issues in this project." in str(error)


async def test_jira_unknown_site_or_project_is_not_retryable(jira, session) -> None:
    client = JiraIssues(session, base_url=f"{jira.url}/ex/jira/unknown-cloud", project_key="OPS",
                        oauth_token=jira.oauth_token, site_url="https://acme.atlassian.net")

    error = await refusal(client)

    assert not error.retryable and error.status == 404
    assert "no such Jira site or project" in str(error)


async def test_jira_429_is_retryable_after_retry_after(jira, session) -> None:
    jira.fail_next(429, headers={"Retry-After": "7", "X-RateLimit-Reset": "2027-01-15T08:00Z",
                                 "RateLimit-Reason": "jira-burst-based"})

    error = await refusal(jira_client(session, jira))

    assert error.retryable and error.retry_after == 7.0
    assert "(429, rate limited)" in str(error)


async def test_jira_429_without_retry_after_waits_until_the_reset(jira, session) -> None:
    reset = time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(NOW + 120))
    jira.fail_next(429, headers={"X-RateLimit-Reset": reset})

    error = await refusal(jira_client(session, jira))

    assert error.retryable and error.retry_after == 120.0


async def test_jira_429_without_headers_still_waits(jira, session) -> None:
    jira.fail_next(429)

    error = await refusal(jira_client(session, jira))

    assert error.retryable and error.retry_after == 30.0


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_jira_server_errors_are_retryable(jira, session, status: int) -> None:
    jira.fail_next(status, headers={"Retry-After": "3"} if status == 503 else {})

    error = await refusal(jira_client(session, jira))

    assert error.retryable and error.status == status
    assert error.retry_after == (3.0 if status == 503 else None)
    assert str(error).startswith(f"Jira failed to create an issue in project OPS ({status})")


async def test_jira_hang_beyond_the_timeout_is_retryable(jira, session) -> None:
    jira.hang_next(10)

    error = await refusal(jira_client(session, jira, timeout_s=0.3))

    assert error.retryable and error.status == 0
    assert str(error) == "Jira did not answer in time creating an issue in project OPS"


async def test_jira_credentials_are_never_in_errors_or_logs(
    jira, session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = jira_client(session, jira)
    basic = base64.b64encode(f"{jira.email}:{jira.api_token}".encode()).decode()
    jira.fail_next(502, body={"errorMessages": [f"proxy saw Authorization: Basic {basic}"]})
    errors = [await refusal(client)]
    jira.fail_next(500, body={"errorMessages": [f"token {jira.api_token}"]})
    errors.append(await refusal(client))

    texts = [caplog.text, repr(client), *(str(e) for e in errors)]
    assert all(jira.api_token not in t and basic not in t for t in texts)
    assert all("[token]" in str(e) for e in errors)


# --- Trello -----------------------------------------------------------------------------


async def test_trello_card_is_made_in_the_list_with_the_key_and_token_in_a_header(
    trello, session
) -> None:
    ref = await trello_client(session, trello).create_issue(
        title="INC-7 follow-up: add\nreplica lag alert", body="Owner: Linus",
        labels=["incident-follow-up"])

    [made] = trello.created
    assert made["path"] == "/1/cards" and made["query"] == {}
    assert made["headers"]["Authorization"] == (
        f'OAuth oauth_consumer_key="{trello.key}", oauth_token="{trello.token}"')
    assert made["body"] == {"idList": trello.list_id, "name": "INC-7 follow-up: add replica "
                            "lag alert", "desc": "Owner: Linus", "pos": "bottom"}
    assert ref == IssueRef(number=1, url=made["card"]["shortUrl"])
    assert ref.url.startswith("https://trello.com/c/")


@pytest.mark.parametrize(("override", "said"), [({"api_key": "f" * 32}, "invalid key"),
                                                ({"token": "revoked"}, "invalid token")])
async def test_trello_wrong_key_or_token_is_not_retryable_and_said_plainly(
    trello, session, override: dict[str, str], said: str
) -> None:
    error = await refusal(trello_client(session, trello, **override))

    assert not error.retryable and error.status == 401
    assert str(error).startswith(f"Trello refused to create a card in list {trello.list_id} "
                                 f"(401): {said}; the ")
    assert "not accepted" in str(error)


async def test_trello_unknown_list_is_not_retryable(trello, session) -> None:
    error = await refusal(trello_client(session, trello, list_id="0" * 24))

    assert not error.retryable and error.status == 404
    assert "could not find the list" in str(error) and "TRELLO_LIST_ID" in str(error)


async def test_trello_bad_request_is_not_retryable(trello, session) -> None:
    trello.fail_next(400)

    error = await refusal(trello_client(session, trello))

    assert not error.retryable and error.status == 400
    assert "invalid value for idList" in str(error)


async def test_trello_429_waits_out_the_ten_second_window(trello, session) -> None:
    trello.fail_next(429)

    error = await refusal(trello_client(session, trello))

    assert error.retryable and error.retry_after == 10.0
    assert "(429, rate limited): Rate limit exceeded API_TOKEN_LIMIT_EXCEEDED" in str(error)


async def test_trello_429_with_retry_after_keeps_it(trello, session) -> None:
    trello.fail_next(429, headers={"Retry-After": "4"})

    error = await refusal(trello_client(session, trello))

    assert error.retry_after == 4.0


@pytest.mark.parametrize("status", [500, 503])
async def test_trello_server_errors_are_retryable(trello, session, status: int) -> None:
    trello.fail_next(status)

    error = await refusal(trello_client(session, trello))

    assert error.retryable and error.status == status


async def test_trello_hang_is_retryable(trello, session) -> None:
    trello.hang_next(10)

    error = await refusal(trello_client(session, trello, timeout_s=0.3))

    assert error.retryable and "Trello did not answer in time" in str(error)


async def test_trello_secrets_are_never_in_errors(trello, session) -> None:
    client = trello_client(session, trello)
    trello.fail_next(502, text=f"proxy: key={trello.key}&token={trello.token}")

    error = await refusal(client)

    assert trello.key not in str(error) and trello.token not in str(error)
    assert trello.key not in repr(client) and trello.token not in repr(client)


# --- through the real app ---------------------------------------------------------------


def jira_settings(url: str, jira: FakeJira, **extra: Any):
    return make_settings(url, jira_base_url=jira.site_url, jira_email=jira.email,
                         jira_api_token=jira.api_token, jira_project_key="OPS", **extra)


def trello_settings(url: str, trello: FakeTrello, **extra: Any):
    return make_settings(url, trello_api_key=trello.key, trello_token=trello.token,
                         trello_list_id=trello.list_id, trello_api_url=trello.api_url, **extra)


async def _mitigated_incident(start_bot, connector, settings) -> tuple[Team, Incident]:
    team = Team(await start_bot(settings), connector)
    await team.say("setup")
    incident = await team.declare("Checkout latency sev2 @Ada @Grace", mentions=(ADA, GRACE))
    handover = await team.latest_handover()
    await team.press("handover.accept", {"handoverId": handover.id, "incidentId": incident.id},
                     sender=GRACE)
    await team.say("mitigated", sender=GRACE, thread=incident)
    await eventually(lambda: Review.get_or_none(incident_id=incident.id))
    return team, await Incident.get(id=incident.id)


async def _tracked(team: Team, number: int, state: str):
    await team.fire_timers(TrackAction.KIND)
    action = await FollowUpAction.get_or_none(number=number)
    return action if action and action.tracker_state == state else None


async def _posted(team: Team, incident: Incident, fragment: str):
    found = [c for c in thread_posts(team.connector, incident) if fragment in c.text]
    return found[-1] if found else None


async def _review_pages(team: Team, incident: Incident) -> tuple[str, str]:
    """The review as HTML and as Markdown, through the links `pir` answers with."""
    await team.say("pir", sender=GRACE, thread=incident)

    async def links() -> dict[str, str]:
        found = {link.split("?")[0].rsplit(".", 1)[1]: link
                 for call in team.connector.delivered for link in _LINK.findall(call.text)}
        return found if {"html", "md"} <= found.keys() else {}

    pages = []
    for fmt in ("html", "md"):
        parts = urlsplit((await eventually(links))[fmt])
        local = str(team.bot.server.make_url(parts.path)) + "?" + parts.query
        async with team.bot.session.get(local) as resp:
            assert resp.status == 200
            pages.append(await resp.text())
    return pages[0], pages[1]


async def test_an_action_is_filed_in_jira_and_the_review_links_it(
    start_bot, sqlite_url, connector, jira
) -> None:
    team, incident = await _mitigated_incident(start_bot, connector,
                                               jira_settings(sqlite_url, jira))

    await team.say("action add replica lag alert @Linus", sender=GRACE, mentions=(LINUS,),
                   thread=incident)
    action = await eventually(lambda: _tracked(team, 1, "created"))

    [made] = jira.created
    fields = made["body"]["fields"]
    assert fields["summary"] == "INC-1 follow-up: add replica lag alert"
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Task"}
    assert fields["labels"] == ["incident-follow-up"]
    url = f"{jira.site_url}/browse/OPS-1"
    assert action.tracker_url == url
    await eventually(lambda: _posted(team, incident, f"Follow-up action 1 is tracked at {url}"))
    html, markdown = await _review_pages(team, incident)
    assert f'<a href="{url}"' in html
    assert f"status: open; tracked at: <{url}>" in markdown


async def test_an_action_is_filed_in_trello_and_the_review_links_it(
    start_bot, sqlite_url, connector, trello
) -> None:
    team, incident = await _mitigated_incident(start_bot, connector,
                                               trello_settings(sqlite_url, trello))

    await team.say("action runbook for failover", sender=GRACE, thread=incident)
    action = await eventually(lambda: _tracked(team, 1, "created"))

    [made] = trello.created
    assert made["body"]["name"] == "INC-1 follow-up: runbook for failover"
    assert "Follow-up action 1 of INC-1" in made["body"]["desc"]
    url = made["card"]["shortUrl"]
    assert action.tracker_url == url
    await eventually(lambda: _posted(team, incident, f"Follow-up action 1 is tracked at {url}"))
    html, markdown = await _review_pages(team, incident)
    assert f'<a href="{url}"' in html
    assert f"tracked at: <{url}>" in markdown


@pytest.mark.parametrize("tracker", ["jira", "trello"])
async def test_a_429_is_retried_after_its_wait_then_filed(
    start_bot, sqlite_url, connector, jira, trello, tracker: str
) -> None:
    fake: FakeJira | FakeTrello = jira if tracker == "jira" else trello
    settings = (jira_settings(sqlite_url, jira) if tracker == "jira"
                else trello_settings(sqlite_url, trello))
    team, incident = await _mitigated_incident(start_bot, connector, settings)
    if isinstance(fake, FakeJira):
        fake.fail_next(429, headers={"Retry-After": "60"})
    else:
        fake.fail_next(429)

    await team.say("action add replica lag alert", sender=GRACE, thread=incident)
    await eventually(lambda: _retry_pending(fake))
    job = await _track_job()
    assert job.attempts == 1 and job.due_ms > time.time() * 1000 + 5_000  # the wait is kept
    assert not fake.created

    await eventually(lambda: _tracked(team, 1, "created"))
    assert [r.status for r in fake.requests] == [429, 201 if tracker == "jira" else 200]
    assert not await _posted(team, incident, "Could not create")


async def _retry_pending(fake: FakeJira | FakeTrello) -> bool:
    job = await _track_job()
    return bool(fake.requests) and job is not None and job.attempts == 1


async def _track_job():
    from bot.store.models import Job

    return await Job.filter(kind=TrackAction.KIND).first()


@pytest.mark.parametrize(("tracker", "told"), [
    ("jira", "Could not create a Jira issue for follow-up action 1 (Jira refused to create an "
             "issue in project OPS (401): the API token for incident-bot@acme.example was not "
             "accepted (wrong, expired or revoked)"),
    ("trello", "Could not create a Trello card for follow-up action 1 (Trello refused to "
               "create a card in list 5abbe4b7ddc1b351ef961415 (401): invalid token; the token "
               "was not accepted"),
])
async def test_a_401_tells_the_thread_in_plain_words_and_the_action_stays(
    start_bot, sqlite_url, connector, jira, trello, tracker: str, told: str
) -> None:
    settings = (jira_settings(sqlite_url, jira) if tracker == "jira"
                else trello_settings(sqlite_url, trello))
    team, incident = await _mitigated_incident(start_bot, connector, settings)
    (jira if tracker == "jira" else trello).fail_next(401)

    await team.say("action add replica lag alert", sender=GRACE, thread=incident)
    await eventually(lambda: _tracked(team, 1, "failed"))

    post = await eventually(lambda: _posted(team, incident, "Could not create"))
    assert post.text.startswith(told)
    assert post.text.endswith("; it stays recorded in the review.")
    assert (jira.api_token not in post.text) and (trello.token not in post.text)
    html, _ = await _review_pages(team, incident)
    assert "add replica lag alert" in html and "not linked yet" in html


# --- configuration ----------------------------------------------------------------------


def test_the_tracker_is_the_one_configured_github_first() -> None:
    github = {"github_repository": "acme/payments", "github_token": "ghp_x"}
    jira = {"jira_base_url": "https://acme.atlassian.net", "jira_email": "a@acme.example",
            "jira_api_token": "t", "jira_project_key": "OPS"}
    trello = {"trello_api_key": "k", "trello_token": "t", "trello_list_id": "a" * 24}

    assert make_settings("sqlite://x").tracker == ""
    assert not make_settings("sqlite://x").tracker_enabled
    assert make_settings("sqlite://x", **github).tracker == "github"
    assert make_settings("sqlite://x", **github, **jira, **trello).tracker == "github"
    assert make_settings("sqlite://x", **jira, **trello).tracker == "jira"
    assert make_settings("sqlite://x", **trello).tracker == "trello"
    chosen = make_settings("sqlite://x", **github, **trello, follow_up_tracker=" Trello ")
    assert chosen.tracker == "trello" and chosen.tracker_enabled
    # A repository without a token has always meant no tracker (nothing named it).
    assert make_settings("sqlite://x", github_repository="acme/payments").tracker == ""


def test_tracker_secrets_are_redacted() -> None:
    settings = make_settings("sqlite://x", jira_base_url="https://api.atlassian.com/ex/jira/c",
                             jira_site_url="https://acme.atlassian.net", jira_project_key="OPS",
                             jira_oauth_token="jira-oauth", trello_api_key="trello-key",
                             trello_token="trello-token", trello_list_id="a" * 24)

    assert {"jira-oauth", "trello-key", "trello-token"} <= set(settings.secrets())
    assert "trello-token" not in repr(settings)


@pytest.mark.parametrize(("settings", "problem"), [
    ({"jira_base_url": "https://acme.atlassian.net"},
     "Jira is half configured: missing JIRA_PROJECT_KEY, JIRA_EMAIL, JIRA_API_TOKEN "
     "(or JIRA_OAUTH_TOKEN)"),
    ({"jira_base_url": "https://acme.atlassian.net", "jira_email": "a@acme.example",
      "jira_project_key": "OPS"}, "Jira is half configured: missing JIRA_API_TOKEN"),
    ({"jira_base_url": "https://api.atlassian.com/ex/jira/c", "jira_oauth_token": "t",
      "jira_project_key": "OPS"}, "missing JIRA_SITE_URL"),
    ({"jira_base_url": "https://acme.atlassian.net", "jira_oauth_token": "t",
      "jira_project_key": "OPS"}, "works only through JIRA_BASE_URL=https://api.atlassian.com"),
    ({"jira_base_url": "https://acme.atlassian.net", "jira_oauth_token": "t",
      "jira_email": "a@acme.example", "jira_api_token": "t", "jira_project_key": "OPS"},
     "not both"),
    ({"jira_base_url": "https://acme.atlassian.net", "jira_email": "a@acme.example",
      "jira_api_token": "t", "jira_project_key": "ops team"}, "is not a project key"),
    ({"trello_token": "t"}, "Trello is half configured: missing TRELLO_API_KEY, TRELLO_LIST_ID"),
    ({"trello_api_key": "k", "trello_token": "t", "trello_list_id": "Follow-ups"},
     "is not a list id"),
    ({"follow_up_tracker": "trello"}, "Trello is half configured: missing TRELLO_API_KEY, "
                                      "TRELLO_TOKEN, TRELLO_LIST_ID"),
    ({"follow_up_tracker": "github", "github_repository": "acme/payments"},
     "FOLLOW_UP_TRACKER names github, which needs GITHUB_TOKEN"),
    ({"follow_up_tracker": "linear"}, "FOLLOW_UP_TRACKER 'linear' is none of github, jira, trello"),
])
def test_half_configured_trackers_are_configuration_errors(
    settings: dict[str, str], problem: str
) -> None:
    with pytest.raises(ValueError) as caught:
        make_settings("sqlite://x", **settings)

    assert problem in str(caught.value)


def test_the_bot_refuses_to_start_with_one_line_per_tracker_problem(tmp_path) -> None:
    result = subprocess.run(
        [SCRIPT, "run"], env=bot_env(f"sqlite://{tmp_path}/bot.sqlite3",
                                     JIRA_BASE_URL="https://acme.atlassian.net",
                                     JIRA_PROJECT_KEY="OPS", JIRA_EMAIL="a@acme.example",
                                     TRELLO_API_KEY="k"),
        cwd=tmp_path, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "incident-bot cannot start: the configuration is not usable"
    assert lines[1] == ("  Jira is half configured: missing JIRA_API_TOKEN "
                        "(see docs/follow-up-trackers.md)")
    assert lines[2] == ("  Trello is half configured: missing TRELLO_TOKEN, TRELLO_LIST_ID "
                        "(see docs/follow-up-trackers.md)")
    assert "Traceback" not in result.stderr + result.stdout
