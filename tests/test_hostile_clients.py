"""Slow, hostile or foreign clients cannot wedge the bot, forge its log, or act for Teams.

From issue 14, each reproduced against the real endpoint: a Direct Line activity posing
as the admin, a body that never arrives (with and without a token), a flood of slow
connections under a low descriptor limit, a 1 KB display name full of newlines, and a
card button pressed from another tenant.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from bot.store.incident_models import Handover, Incident, TeamSettings, TimelineEvent
from tests.bot_process import BotProcess
from tests.conftest import make_settings
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, User
from tests.fakes.connector import FakeConnector
from tests.fakes.identity import APP_PASSWORD
from tests.scenario import Team, eventually

# What a forged record would start with: a timestamp and a level at the margin.
FORGED = "2026-11-27 10:00:00,000 CRITICAL bot.app [-]: the database was deleted"
RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


async def test_a_direct_line_activity_posing_as_the_admin_is_refused_and_logged(
        start_bot, sqlite_url, connector, caplog):
    bot = await start_bot(make_settings(sqlite_url, admin_user_ids=ADA.id))
    setup = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} setup")
    setup["channelId"] = "directline"  # where the client chooses `from` and `channelData`

    status, body = await bot.post(setup)

    assert status == 403
    assert "msteams" in body["error"]
    assert "another channel" in caplog.text
    assert await TeamSettings.all().count() == 0
    assert connector.calls == []


async def _raw_request(port: int, head: str, body: bytes = b"") -> tuple[bytes, float]:
    """Send `head` (and the start of a body), then nothing: what comes back, and when."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    writer.write(head.encode() + b"\r\n" + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 20)  # until the bot closes
    writer.close()
    return answer, loop.time() - started


def _head(length: int, authorization: str = "") -> str:
    lines = ["POST /api/messages HTTP/1.1", "Host: bot", "Content-Type: application/json",
             f"Content-Length: {length}"]
    if authorization:
        lines.append(f"Authorization: {authorization}")
    return "\r\n".join(lines) + "\r\n"


async def test_a_request_without_a_valid_token_is_refused_before_its_body_arrives(
        start_bot, sqlite_url, identity):
    bot = await start_bot(make_settings(
        sqlite_url, app_id=identity.app_id, app_password=APP_PASSWORD,
        bot_openid_metadata_url=identity.metadata_url, bot_token_url=identity.token_url))

    answer, _ = await _raw_request(bot.server.port, _head(200_000, "Bearer not-a-token"),
                                   b'{"type": "mess')

    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


async def test_a_body_that_never_arrives_gets_408_after_the_deadline(start_bot, sqlite_url):
    bot = await start_bot(make_settings(sqlite_url, request_body_timeout_s=1.0))

    answer, _ = await _raw_request(bot.server.port, _head(5000), b'{"type": ')

    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b"did not arrive within 1 s" in answer


@pytest.mark.slow
async def test_a_flood_of_slow_connections_under_a_low_descriptor_limit_is_bounded(
        tmp_path: Path, connector: FakeConnector):
    bot = await BotProcess(f"sqlite://{tmp_path}/bot.sqlite3", tmp_path, open_files=256,
                           env={"REQUEST_BODY_TIMEOUT_SECONDS": "3"}).start()
    flood: list[asyncio.StreamWriter] = []
    try:
        for _ in range(300):
            _, writer = await asyncio.open_connection("127.0.0.1", bot.port)
            writer.write(_head(5000).encode() + b"\r\n" + b'{"type": ')
            flood.append(writer)
        await asyncio.sleep(1)
        assert bot.alive(), bot.log()[-3000:]
        async with aiohttp.ClientSession() as session:
            async def served() -> bool:
                try:
                    async with session.get(f"{bot.base}/healthz") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False

            # The slow bodies are dropped at their deadline; the bot serves again.
            await eventually(served, timeout=15)
            help_ = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")
            assert await bot.post(session, help_) == 200
        await connector.wait_for(1, kind="reply")
    finally:
        for writer in flood:
            writer.transport.abort()
        bot.stop()
    log = bot.log()
    assert len(log) < 50_000, f"the log grew to {len(log)} bytes"
    assert 1 <= log.count("connection refused:") <= 3, log[-3000:]
    assert log.count("request body too slow") <= 3
    assert "Traceback" not in log and "out of system resource" not in log, log[-3000:]


async def test_a_huge_display_name_with_newlines_neither_fails_nor_forges_the_log(
        database_url: str, tmp_path: Path, connector: FakeConnector):
    mallory = User("29:1mallory", ("Mallory\n" + FORGED + "\r\n") * 14, "aad-mallory")
    assert len(mallory.name) > 1000
    bot = await BotProcess(database_url, tmp_path, env={"LOG_LEVEL": "DEBUG"}).start()
    try:
        async with aiohttp.ClientSession() as session:
            say = teams.channel_message
            assert await bot.post(session, say(connector.url, f"{teams.BOT_MENTION_TEXT} setup",
                                               sender=mallory)) == 200
            assert await bot.post(session, say(
                connector.url, f"{teams.BOT_MENTION_TEXT} declare Name test sev3",
                sender=mallory)) == 200
            replies = await connector.wait_for(2, kind="reply")
    finally:
        bot.stop()
    assert not any("went wrong" in c.text for c in replies), [c.text for c in replies]
    log = bot.log()
    assert FORGED in log, "the name should be in the DEBUG log, escaped"
    for line in log.splitlines():
        assert not line.startswith(FORGED[:24]), f"a forged log line: {line[:120]}"
        assert RECORD.match(line) or not line[:1].isdigit(), line[:120]


async def test_a_card_button_pressed_from_another_tenant_changes_nothing(bot, connector):
    team = Team(bot, connector)
    await team.say("setup")
    incident = await team.declare("Payments down sev1 @Grace", mentions=(GRACE,))
    request = await team.latest_handover()
    press = teams.card_action(connector.url, verb="handover.accept", sender=GRACE,
                              card_id="1", data={"verb": "handover.accept",
                                                 "handoverId": request.id,
                                                 "incidentId": incident.id})
    press["channelData"]["tenant"]["id"] = "another-tenant"
    press["conversation"]["tenantId"] = "another-tenant"

    status, body = await bot.post(press)

    assert status == 200
    assert "does not exist" in body["value"]
    assert (await Handover.get(id=request.id)).status.value == "pending"
    assert (await Incident.get(id=incident.id)).investigator_id != GRACE.id
    assert not await TimelineEvent.filter(kind="role_accepted").exists()


@pytest.fixture(autouse=True)
def _clean_caplog(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
