"""Running it: /metrics, request ids, JSON logs without secrets."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pydantic
import pytest

from bot.incidents.checkins import CheckIn
from bot.incidents.rooms import CreateRoom
from bot.logs import TEXT_FORMAT, JsonFormatter, RequestIdFilter, TextFormatter, formatter_for
from bot.store import jobs, outbox
from bot.store.clock import now_ms
from bot.store.incident_models import Incident
from bot.store.models import OutboxOperation
from bot.web.metrics import may_scrape
from tests.conftest import RunningBot, make_settings
from tests.fakes import activities as teams
from tests.fakes.zoom import FakeZoom
from tests.scenario import Team, eventually

TOKEN = "metrics-token-8f3a1c"


async def _get(bot: RunningBot, path: str, headers: dict[str, str] | None = None):
    async with bot.session.get(bot.server.make_url(path), headers=headers or {}) as resp:
        return resp.status, resp.headers, await resp.text()


def _sample(text: str, name: str, labels: str = "") -> float | None:
    """The value of one sample in an exposition, or None when absent."""
    pattern = "^" + re.escape(f"incident_bot_{name}{labels}") + r" (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Capture the root logger's lines as JSON, the way LOG_FORMAT=json writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter(secrets=[]))
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


async def test_metrics_count_requests_and_commands_by_outcome(local_bot, connector):
    team = Team(local_bot, connector)
    await team.say("help")
    await team.say("frobnicate")
    await team.say("sev sev2")  # no incident to apply it to: refused

    status, headers, text = await _get(local_bot, "/metrics")

    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert _sample(text, "http_requests_total",
                   '{method="POST",route="/api/messages",status="200"}') == 3
    assert _sample(text, "commands_total", '{command="help",outcome="ok"}') == 1
    assert _sample(text, "commands_total", '{command="unknown",outcome="unknown"}') == 1
    assert _sample(text, "commands_total", '{command="sev",outcome="refused"}') == 1
    assert "# TYPE incident_bot_commands_total counter" in text
    assert "# TYPE incident_bot_outbox_depth gauge" in text
    assert _sample(text, "job_lag_seconds") is not None
    assert _sample(text, "info", '{version="0.1.0"}') == 1


async def test_unmatched_paths_are_counted_under_one_label(local_bot):
    await _get(local_bot, "/wp-login.php")
    await _get(local_bot, "/.env")

    _, _, text = await _get(local_bot, "/metrics")

    assert _sample(text, "http_requests_total",
                   '{method="GET",route="unmatched",status="404"}') == 2
    assert "wp-login" not in text


async def test_metrics_need_the_bearer_token_when_one_is_set(start_bot, sqlite_url):
    bot = await start_bot(make_settings(sqlite_url, metrics_token=TOKEN))

    missing = await _get(bot, "/metrics")
    wrong = await _get(bot, "/metrics", {"Authorization": "Bearer nope"})
    right = await _get(bot, "/metrics", {"Authorization": f"Bearer {TOKEN}"})

    assert missing[0] == wrong[0] == 401
    assert missing[1]["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert right[0] == 200 and "incident_bot_outbox_depth" in right[2]
    assert TOKEN not in right[2]


def test_without_a_token_only_loopback_clients_may_scrape():
    assert may_scrape(remote="127.0.0.1", authorization=None, token="")
    assert may_scrape(remote="::1", authorization=None, token="")
    assert not may_scrape(remote="10.0.0.7", authorization=None, token="")
    assert not may_scrape(remote=None, authorization=None, token="")
    # With a token even loopback must send it, so a local proxy cannot open it up.
    assert not may_scrape(remote="127.0.0.1", authorization=None, token=TOKEN)
    assert may_scrape(remote="10.0.0.7", authorization=f"bearer {TOKEN}", token=TOKEN)


async def test_backlog_gauges_measure_the_oldest_overdue_row(db):
    assert await jobs.lag_s() == 0 and await outbox.lag_s() == 0
    await jobs.schedule(CheckIn(1), due_ms=now_ms() - 30_000)
    await jobs.schedule(CheckIn(2), due_ms=now_ms() + 60_000)  # not due: no lag
    from tortoise import connections

    await outbox.enqueue(connections.get("default"), operation=OutboxOperation.SEND,
                         service_url="http://127.0.0.1:1/", conversation_id="a:1")

    assert 29 <= await jobs.lag_s() < 40
    assert 0 <= await outbox.lag_s() < 5 and await outbox.depth() == 1


async def test_provider_failures_are_counted_by_provider(start_bot, sqlite_url, zoom: FakeZoom,
                                                         connector):
    zoom.fail_next(500, times=10)
    bot = await start_bot(make_settings(
        sqlite_url, zoom_account_id=zoom.account_id, zoom_client_id=zoom.client_id,
        zoom_client_secret=zoom.client_secret, zoom_api_base_url=zoom.api_url,
        zoom_oauth_url=zoom.oauth_url, video_timeout_s=2.0))
    team = Team(bot, connector)
    incident = await team.declare("db down")

    async def fell_back() -> bool:
        await team.fire_timers(CreateRoom.KIND)
        return (await Incident.get(id=incident.id)).room_provider == "jitsi"

    await eventually(fell_back)
    _, _, text = await _get(bot, "/metrics")
    assert _sample(text, "provider_errors_total", '{provider="zoom"}') == 3


async def test_throttled_sends_to_teams_are_counted_by_status(local_bot, connector):
    # The inline answer is throttled and handed to the outbox, whose first try is too.
    connector.fail_next(429, times=2, retry_after="1")
    await Team(local_bot, connector).say("help")

    async def counted() -> float | None:
        return _sample((await _get(local_bot, "/metrics"))[2], "connector_errors_total",
                       '{status="429"}')

    assert await eventually(counted) == 1
    await eventually(lambda: _delivered(connector))


async def _delivered(connector) -> bool:
    return any(c.answered == 201 for c in connector.calls)


async def test_a_request_id_is_made_returned_and_logged(start_bot, sqlite_url, connector,
                                                        log_lines):
    bot = await start_bot(make_settings(sqlite_url, allowed_tenant_ids="another-tenant"))
    message = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")

    async with bot.session.post(bot.url, json=message) as resp:
        assert resp.status == 403
        request_id = resp.headers["X-Request-Id"]

    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    refused = [line for line in lines if line["message"].startswith("refused activity")]
    assert refused and refused[0]["request_id"] == request_id
    assert refused[0]["level"] == "WARNING" and refused[0]["logger"] == "bot.web.messages"


async def test_a_callers_request_id_is_kept_and_a_forged_one_replaced(local_bot):
    kept = await _get(local_bot, "/healthz", {"X-Request-Id": "lb-7f3a.2"})
    forged = await _get(local_bot, "/healthz", {"X-Request-Id": "x\" level=ERROR " + "a" * 200})

    assert kept[1]["X-Request-Id"] == "lb-7f3a.2"
    assert re.fullmatch(r"[0-9a-f]{32}", forged[1]["X-Request-Id"])


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError("token s3cret-pass rejected")
        except RuntimeError:
            import sys

            exc_info = sys.exc_info()
    record = logging.LogRecord("bot.test", logging.ERROR, __file__, 1, message, args, exc_info)
    RequestIdFilter().filter(record)
    return record


def test_json_lines_carry_level_logger_request_id_and_exception_without_secrets():
    settings = make_settings("sqlite://x", log_format="json", app_id="a",
                             app_password="s3cret-pass", zoom_client_secret="zoom-s3cret")

    line = formatter_for(settings).format(
        _record("calling with %s and %s", "s3cret-pass", "zoom-s3cret", exc=True))

    data = json.loads(line)
    assert "\n" not in line
    assert data["level"] == "ERROR" and data["logger"] == "bot.test"
    assert data["request_id"] == "-" and data["time"].endswith("Z")
    assert data["message"] == "calling with [redacted] and [redacted]"
    assert "RuntimeError: token [redacted] rejected" in data["exception"]
    assert "s3cret" not in line


def test_text_lines_name_the_request_and_redact_secrets():
    formatter = TextFormatter(TEXT_FORMAT, secrets=["s3cret-pass"])

    line = formatter.format(_record("password is %s", "s3cret-pass"))

    assert line.endswith("ERROR bot.test [-]: password is [redacted]")


def test_log_format_must_be_text_or_json():
    assert make_settings("sqlite://x", log_format="JSON").log_format == "json"
    with pytest.raises(pydantic.ValidationError, match="LOG_FORMAT"):
        make_settings("sqlite://x", log_format="yaml")
