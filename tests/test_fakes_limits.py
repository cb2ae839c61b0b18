"""The fakes' Teams rate limits, their 403 for a user without the app, and Graph's "Install
app for user": the windows on their own (a stepped clock, no sleeping), then through real
HTTP as the bot would meet them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from yarl import URL

from tests.fakes.connector import NOT_INSTALLED_BODY, FakeConnector
from tests.fakes.graph import FakeGraph
from tests.fakes.rate_limits import TeamsRateLimits, Window

CHANNEL = "19:incidents@thread.tacv2"
APP = "1542629c-01b3-4a6d-8f76-1938b779e48d"
BIND = f"https://graph.microsoft.com/v1.0/appCatalogs/teamsApps/{APP}"
USER_AAD = "5b649834-7412-4cce-9e69-176e95a394f5"
GRAPH_TOKEN = {"Authorization": "Bearer graph-1"}


@dataclass
class Clock:
    """Time that moves only when the test says so."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now


def limits_at(clock: Clock) -> TeamsRateLimits:
    return TeamsRateLimits(clock=clock)


# --- the windows on their own ----------------------------------------------------------


def test_the_eighth_operation_in_a_second_waits_for_the_first_to_leave() -> None:
    limits = TeamsRateLimits()
    assert [limits.check("t", "tenant", 0.0) for _ in range(7)] == [None] * 7
    assert limits.check("t", "tenant", 0.25) == pytest.approx(0.75)
    assert limits.check("t", "tenant", 1.0) is None  # the seven at 0.0 have left the 1 s


def test_eight_in_two_seconds() -> None:
    limits = TeamsRateLimits()
    for _ in range(7):
        assert limits.check("t", "tenant", 0.0) is None
    assert limits.check("t", "tenant", 1.0) is None  # 1 in the last second, 8 in two
    wait = limits.check("t", "tenant", 1.0)
    assert wait == pytest.approx(1.0)  # the 2 s window frees when the calls at 0.0 leave
    assert limits.last_refusal is not None and limits.last_refusal.window == Window(2, 8)


def test_sixty_in_thirty_seconds() -> None:
    limits = TeamsRateLimits()
    for i in range(60):  # four a second stays inside the 1 s and 2 s windows
        assert limits.check("t", "tenant", i * 0.25) is None
    assert limits.check("t", "tenant", 15.0) == pytest.approx(15.0)  # 0.0 + 30 - 15
    assert limits.last_refusal is not None and limits.last_refusal.window == Window(30, 60)


def test_eighteen_hundred_in_an_hour() -> None:
    limits = TeamsRateLimits()
    for i in range(1800):  # two a second: 60 in any 30 s, never more
        assert limits.check("t", "tenant", i * 0.5) is None, i
    assert limits.check("t", "tenant", 900.0) == pytest.approx(2700.0)
    assert limits.last_refusal is not None and limits.last_refusal.window == Window(3600, 1800)


def test_refused_calls_are_not_counted() -> None:
    limits = TeamsRateLimits()
    for _ in range(7):
        limits.check("t", "tenant", 0.0)
    refusals = [limits.check("t", "tenant", 0.5) for _ in range(100)]
    assert all(wait == pytest.approx(0.5) for wait in refusals)
    # Had the hundred refusals at 0.5 been counted, 1.0 would still be refused.
    assert limits.check("t", "tenant", 1.0) is None
    assert limits.accepted("t") == 8


def test_threads_are_limited_apart_but_share_the_tenant() -> None:
    limits = TeamsRateLimits()
    for thread in range(50):
        assert limits.check(f"thread-{thread}", "contoso", 0.0) is None
    assert limits.check("thread-50", "contoso", 0.5) == pytest.approx(0.5)
    assert limits.last_refusal is not None and limits.last_refusal.window == Window(1, 50)
    assert limits.check("thread-50", "fabrikam", 0.5) is None  # another tenant


def test_the_longest_wait_of_the_violated_windows_is_answered() -> None:
    limits = TeamsRateLimits(thread_windows=(Window(1, 1), Window(10, 2)))
    assert limits.check("t", "tenant", 0.0) is None
    assert limits.check("t", "tenant", 5.0) is None
    # Both windows are full at 5.5: the 1 s one frees at 6.0, the 10 s one at 10.0.
    assert limits.check("t", "tenant", 5.5) == pytest.approx(4.5)


def test_member_lookups_have_their_own_limits() -> None:
    limits = TeamsRateLimits()
    for _ in range(7):
        limits.check("t", "tenant", 0.0)
    assert limits.check("t", "tenant", 0.0) is not None  # sends: full
    for _ in range(14):
        assert limits.check("t", "tenant", 0.0, members=True) is None
    assert limits.check("t", "tenant", 0.0, members=True) == pytest.approx(1.0)
    assert limits.accepted("t", members=True) == 14


def test_the_clock_is_used_when_no_time_is_given() -> None:
    clock = Clock()
    limits = limits_at(clock)
    for _ in range(7):
        limits.check("t", "tenant")
    assert limits.check("t", "tenant") == pytest.approx(1.0)
    clock.now = 1.0
    assert limits.check("t", "tenant") is None


# --- the connector over HTTP -------------------------------------------------------------


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def limited() -> AsyncIterator[tuple[FakeConnector, Clock]]:
    clock = Clock()
    fake = FakeConnector(limits=limits_at(clock))
    await fake.start()
    yield fake, clock
    await fake.stop()


def _url(base: str, *parts: str) -> URL:
    # As bot/teams/connector.py sends them: ";", ":", "@" and "=" left unescaped.
    path = "/".join(quote(p, safe=":;=@,.-_~!$&'()*+") for p in parts)
    return URL(base.rstrip("/") + "/" + path, encoded=True)


async def _call(session: aiohttp.ClientSession, method: str, url: URL,
                body: dict[str, Any] | None = None) -> tuple[int, dict[str, str], Any]:
    async with session.request(method, url, json=body) as resp:
        text = await resp.text()
        return resp.status, dict(resp.headers), (await resp.json() if text else None)


def _activity(tenant: str = "contoso") -> dict[str, Any]:
    return {"type": "message", "text": "update", "channelData": {"tenant": {"id": tenant}}}


async def _send(session: aiohttp.ClientSession, fake: FakeConnector, conversation: str,
                tenant: str = "contoso") -> tuple[int, dict[str, str], Any]:
    url = _url(fake.url, "v3", "conversations", conversation, "activities")
    return await _call(session, "POST", url, _activity(tenant))


async def _create(session: aiohttp.ClientSession, fake: FakeConnector,
                  body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    return await _call(session, "POST", _url(fake.url, "v3", "conversations"), body)


def _one_to_one(user: str) -> dict[str, Any]:
    return {"bot": {"id": "28:bot"}, "members": [{"id": user}], "tenantId": "contoso",
            "channelData": {"tenant": {"id": "contoso"}}}


async def test_past_the_limit_teams_answers_429_with_retry_after(
        limited: tuple[FakeConnector, Clock], session: aiohttp.ClientSession) -> None:
    fake, clock = limited
    for _ in range(7):
        assert (await _send(session, fake, "a:1on1"))[0] == 201
    clock.now = 0.7
    status, headers, body = await _send(session, fake, "a:1on1")
    assert status == 429
    assert headers["Retry-After"] == "1"  # 0.3 s, rounded up to a whole second
    assert body["error"]["code"] == "Throttled"
    assert "7 in 1 s" in body["error"]["message"]
    assert fake.throttled == 1
    assert [c.answered for c in fake.calls] == [201] * 7 + [429]
    assert len(fake.delivered) == 7
    clock.now = 1.0
    assert (await _send(session, fake, "a:1on1"))[0] == 201  # the refusal was not counted


async def test_retry_after_is_whole_seconds_rounded_up(session: aiohttp.ClientSession) -> None:
    clock = Clock()
    fake = FakeConnector(limits=TeamsRateLimits(thread_windows=(Window(10, 1),), clock=clock))
    await fake.start()
    try:
        assert (await _send(session, fake, "a:1on1"))[0] == 201
        clock.now = 0.5
        status, headers, _ = await _send(session, fake, "a:1on1")
        assert (status, headers["Retry-After"]) == (429, "10")  # 9.5 s
        clock.now = 8.8
        status, headers, _ = await _send(session, fake, "a:1on1")
        assert (status, headers["Retry-After"]) == (429, "2")  # 1.2 s: up, never down
    finally:
        await fake.stop()


async def test_a_channel_is_one_thread_whatever_its_reply_chain(
        limited: tuple[FakeConnector, Clock], session: aiohttp.ClientSession) -> None:
    fake, _ = limited
    first, second = f"{CHANNEL};messageid=1764000000001", f"{CHANNEL};messageid=1764000000002"
    for _ in range(4):
        assert (await _send(session, fake, first))[0] == 201
    for _ in range(3):
        url = _url(fake.url, "v3", "conversations", second, "activities", "1764000000002")
        assert (await _call(session, "POST", url, _activity()))[0] == 201
    assert fake.calls[-1].conversation_id == second  # the fake saw the suffix
    assert (await _send(session, fake, CHANNEL))[0] == 429
    # A new post started in the channel is in the same thread.
    status, _, _ = await _create(session, fake, {"channelData": {"channel": {"id": CHANNEL}},
                                                  "activity": _activity()})
    assert status == 429


async def test_threads_apart_tenant_shared(
        limited: tuple[FakeConnector, Clock], session: aiohttp.ClientSession) -> None:
    fake, _ = limited
    for conversation in ("a:one", "a:two"):
        for _ in range(7):
            assert (await _send(session, fake, conversation))[0] == 201
    for i in range(50 - 14):
        assert (await _send(session, fake, f"a:other-{i}"))[0] == 201
    status, _, body = await _send(session, fake, "a:the-51st")
    assert status == 429
    assert "tenant contoso: 50 in 1 s" in body["error"]["message"]
    assert (await _send(session, fake, "a:the-51st", tenant="fabrikam"))[0] == 201


async def test_calls_without_a_body_count_in_the_thread_and_its_tenant(
        limited: tuple[FakeConnector, Clock], session: aiohttp.ClientSession) -> None:
    fake, _ = limited
    for _ in range(7):
        assert (await _send(session, fake, "a:1on1"))[0] == 201
    url = _url(fake.url, "v3", "conversations", "a:1on1", "activities", "1700000000001")
    status, headers, _ = await _call(session, "DELETE", url)
    assert (status, headers.get("Retry-After")) == (429, "1")
    assert fake.limits is not None and fake.limits.last_refusal is not None
    assert fake.limits.last_refusal.bucket == "thread a:1on1"


async def test_member_lookups_are_not_held_back_by_the_thread_sends(
        limited: tuple[FakeConnector, Clock], session: aiohttp.ClientSession) -> None:
    fake, _ = limited
    fake.members["29:ana"] = {"id": "29:ana", "aadObjectId": USER_AAD}
    for _ in range(7):
        await _send(session, fake, "a:1on1")
    url = _url(fake.url, "v3", "conversations", "a:1on1", "members", "29:ana")
    answers = [(await _call(session, "GET", url))[0] for _ in range(15)]
    assert answers == [200] * 14 + [429]


async def test_one_to_one_creates_are_limited_per_user(
        limited: tuple[FakeConnector, Clock], session: aiohttp.ClientSession) -> None:
    fake, _ = limited
    for _ in range(7):
        assert (await _create(session, fake, _one_to_one("29:ana")))[0] == 201
    assert (await _create(session, fake, _one_to_one("29:ana")))[0] == 429
    assert (await _create(session, fake, _one_to_one("29:ben")))[0] == 201


async def test_without_limits_nothing_is_throttled(
        connector: FakeConnector, session: aiohttp.ClientSession) -> None:
    answers = [(await _send(session, connector, "a:1on1"))[0] for _ in range(20)]
    assert answers == [201] * 20
    assert connector.throttled == 0


async def test_a_user_without_the_app_is_refused_403(
        connector: FakeConnector, session: aiohttp.ClientSession) -> None:
    connector.not_installed.add("29:ana")
    status, _, body = await _create(session, connector, _one_to_one("29:ana"))
    assert status == 403
    assert body == {"error": {"code": "ForbiddenOperationException",
                              "message": "Bot is not installed in user's personal scope"}}
    assert body == NOT_INSTALLED_BODY
    assert [(c.kind, c.answered) for c in connector.calls] == [("create_conversation", 403)]
    assert connector.delivered == []
    status, _, body = await _create(session, connector, _one_to_one("29:ben"))
    assert status == 201 and body["id"].startswith("a:1on1-")


async def test_a_channel_post_is_not_refused_for_a_user_without_the_app(
        connector: FakeConnector, session: aiohttp.ClientSession) -> None:
    connector.not_installed.add("29:ana")
    body = {"channelData": {"channel": {"id": CHANNEL}}, "members": [{"id": "29:ana"}],
            "activity": _activity()}
    status, _, answer = await _create(session, connector, body)
    assert status == 201 and answer["id"].startswith(f"{CHANNEL};messageid=")


async def test_calls_record_when_they_arrived(
        connector: FakeConnector, session: aiohttp.ClientSession) -> None:
    before = time.monotonic()
    await _send(session, connector, "a:1")
    await _send(session, connector, "a:2")
    after = time.monotonic()
    first, second = connector.calls
    assert before <= first.at <= second.at <= after
    assert first.conversation_id == "a:1"


# --- Graph: install the app for a user ------------------------------------------------


async def _install(session: aiohttp.ClientSession, graph: FakeGraph, user: str,
                   body: Any = None, headers: dict[str, str] | None = None
                   ) -> tuple[int, dict[str, str], Any]:
    url = f"{graph.url}v1.0/users/{user}/teamwork/installedApps"
    sent = {"teamsApp@odata.bind": BIND} if body is None else body
    async with session.post(url, json=sent, headers=GRAPH_TOKEN if headers is None else headers
                            ) as resp:
        text = await resp.text()
        return resp.status, dict(resp.headers), (await resp.json() if text else None)


def _graph_error(body: Any, code: str) -> None:
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert set(body["error"]["innerError"]) >= {"date", "request-id", "client-request-id"}


async def test_installing_the_app_answers_201_without_a_body_and_opens_the_1on1(
        graph: FakeGraph, connector: FakeConnector, session: aiohttp.ClientSession) -> None:
    connector.not_installed.add(USER_AAD)
    graph.on_install = connector.not_installed.discard
    assert (await _create(session, connector, _one_to_one(USER_AAD)))[0] == 403
    status, headers, body = await _install(session, graph, USER_AAD)
    assert (status, body) == (201, None)
    assert headers["request-id"]
    assert graph.installed == {USER_AAD: {APP}}
    assert [r.status for r in graph.install_requests] == [201]
    assert (await _create(session, connector, _one_to_one(USER_AAD)))[0] == 201


async def test_installing_twice_is_a_conflict(
        graph: FakeGraph, session: aiohttp.ClientSession) -> None:
    calls: list[str] = []
    graph.on_install = calls.append
    assert (await _install(session, graph, USER_AAD))[0] == 201
    status, _, body = await _install(session, graph, USER_AAD)
    assert status == 409
    _graph_error(body, "Conflict")
    assert calls == [USER_AAD]  # the hook ran for the install only


@pytest.mark.parametrize("body", [
    {},
    {"teamsApp@odata.bind": APP},
    {"teamsApp@odata.bind": f"https://example.com/v1.0/appCatalogs/teamsApps/{APP}"},
    {"teamsApp@odata.bind": 42},
    ["teamsApp@odata.bind"],
])
async def test_a_malformed_bind_is_a_bad_request(
        graph: FakeGraph, session: aiohttp.ClientSession, body: Any) -> None:
    status, _, answer = await _install(session, graph, USER_AAD, body=body)
    assert status == 400
    _graph_error(answer, "BadRequest")
    assert graph.installed.get(USER_AAD, set()) == set()


async def test_without_a_graph_token_it_is_unauthorized(
        graph: FakeGraph, session: aiohttp.ClientSession) -> None:
    for headers in ({}, {"Authorization": "Bearer botframework-1"}):
        status, _, body = await _install(session, graph, USER_AAD, headers=headers)
        assert status == 401
        _graph_error(body, "InvalidAuthenticationToken")
    assert graph.installed == {}


async def test_without_the_permission_it_is_forbidden(
        graph: FakeGraph, session: aiohttp.ClientSession) -> None:
    graph.install_forbidden = True
    status, _, body = await _install(session, graph, USER_AAD)
    assert status == 403
    _graph_error(body, "Forbidden")
    assert "TeamsAppInstallation.ReadWriteSelfForUser.All" in body["error"]["message"]
    assert graph.installed == {}


async def test_an_app_the_catalog_does_not_have_is_not_found(
        graph: FakeGraph, session: aiohttp.ClientSession) -> None:
    graph.app_catalog_ids = {"another-app"}
    status, _, body = await _install(session, graph, USER_AAD)
    assert status == 404
    _graph_error(body, "NotFound")
    graph.app_catalog_ids = {APP}
    assert (await _install(session, graph, USER_AAD))[0] == 201


async def test_throttled_installs_answer_429_with_retry_after(
        graph: FakeGraph, session: aiohttp.ClientSession) -> None:
    graph.throttle_next(2, retry_after="7")
    for _ in range(2):
        status, headers, body = await _install(session, graph, USER_AAD)
        assert (status, headers["Retry-After"]) == (429, "7")
        _graph_error(body, "TooManyRequests")
        assert body["error"]["innerError"]["status"] == "429"
    assert (await _install(session, graph, USER_AAD))[0] == 201
    assert [r.status for r in graph.install_requests] == [429, 429, 201]


async def test_the_client_request_id_is_echoed(
        graph: FakeGraph, session: aiohttp.ClientSession) -> None:
    headers = {**GRAPH_TOKEN, "client-request-id": "9f1c2c1e-0000-4000-8000-000000000001"}
    await _install(session, graph, USER_AAD)
    status, answered, body = await _install(session, graph, USER_AAD, headers=headers)
    assert status == 409
    assert answered["client-request-id"] == headers["client-request-id"]
    assert body["error"]["innerError"]["client-request-id"] == headers["client-request-id"]


async def test_listing_tells_whether_the_app_is_installed(
        graph: FakeGraph, session: aiohttp.ClientSession) -> None:
    url = (f"{graph.url}v1.0/users/{USER_AAD}/teamwork/installedApps"
           f"?$expand=teamsApp&$filter=teamsApp/id eq '{APP}'")

    async def listed() -> list[dict[str, Any]]:
        async with session.get(url, headers=GRAPH_TOKEN) as resp:
            assert resp.status == 200
            return (await resp.json())["value"]

    assert await listed() == []
    graph.installed[USER_AAD] = {"another-app"}
    assert await listed() == []
    await _install(session, graph, USER_AAD)
    (installation,) = await listed()
    assert installation["teamsApp"]["id"] == APP
    assert installation["id"] != APP  # an installation id is not the app's id
    async with session.get(url) as resp:
        assert resp.status == 401
