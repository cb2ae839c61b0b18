"""The bot stops cleanly within 10 s on SIGINT or SIGTERM, once or repeated, whoever sends
them: a terminal's Ctrl-C, `kill -- -PGID`, systemd's `KillMode=control-group` or
supervisord signal the whole `make run` group, and make forwards SIGTERM to the bot too
(issue 14: the second signal cancelled the clean-up and the process hung for good).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from tests.bot_process import BotProcess, bot_env, free_port, wait_healthy
from tests.conftest import ProxiedDatabase
from tests.fakes import activities as teams
from tests.fakes.connector import FakeConnector

ROOT = Path(__file__).resolve().parents[1]
STOP_WITHIN_S = 10.0


def _why_make_run_cannot_start() -> str | None:
    if shutil.which("make") is None:
        return "make is not installed"
    stamp = subprocess.run(["make", "-q", ".venv/.installed"], cwd=ROOT,
                           capture_output=True, check=False)
    if stamp.returncode != 0:
        return "the virtualenv is not the one `make` installs (run `make test`)"
    return None


async def _busy(base: str, connector: FakeConnector, count: int = 20) -> None:
    """Work in flight when the signal comes: commands whose replies are still queued."""
    async with aiohttp.ClientSession() as session:
        for n in range(count):
            activity = teams.channel_message(connector.url,
                                             f"{teams.BOT_MENTION_TEXT} declare Busy {n} sev4")
            async with session.post(f"{base}/api/messages", json=activity) as resp:
                assert resp.status == 200


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_sigterm_twice_to_a_make_run_group_stops_everything_within_10_s(
        tmp_path: Path, connector: FakeConnector):
    reason = _why_make_run_cannot_start()
    if reason:
        pytest.skip(reason)
    port = free_port()
    database = tmp_path / "bot.sqlite3"
    log_path = tmp_path / "make-run.log"
    with open(log_path, "wb") as log:
        make = subprocess.Popen(
            ["make", "--no-print-directory", "run"], cwd=ROOT, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            env=bot_env(f"sqlite://{database}", PORT=str(port),
                        JOURNAL_DIR=str(tmp_path / "journal")))
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", alive=lambda: make.poll() is None,
                           name="make run", log=log_path.read_text)
        await _busy(f"http://127.0.0.1:{port}", connector)
        os.killpg(make.pid, signal.SIGTERM)
        os.killpg(make.pid, signal.SIGTERM)
        started = time.monotonic()
        make.wait(timeout=STOP_WITHIN_S + 5)
        took = time.monotonic() - started
        await asyncio.sleep(0.2)
        assert _group_gone(make.pid), "a process of the group is still running"
    finally:
        if not _group_gone(make.pid):
            os.killpg(make.pid, signal.SIGKILL)
    output = log_path.read_text(errors="replace")
    assert took < STOP_WITHIN_S, f"took {took:.1f} s\n{output}"
    assert "SIGTERM: stopping" in output, output
    assert "exiting now" not in output, "the watchdog had to end it"
    # SQLite removes the write-ahead log when the last connection closes cleanly.
    assert not Path(f"{database}-wal").exists(), "the database was not closed"


@pytest.mark.slow
async def test_sigint_twice_to_the_bot_stops_it_cleanly(tmp_path: Path,
                                                        connector: FakeConnector):
    database = tmp_path / "bot.sqlite3"
    bot = await BotProcess(f"sqlite://{database}", tmp_path).start()
    assert bot.popen is not None
    await _busy(bot.base, connector)
    # A request in flight whose reply hangs: the stop waits for it (a few seconds at most).
    # It is asked in a 1:1: the busy channel's budget is spent, so there it would wait
    # in the outbox instead of in flight (bot.teams.answers).
    connector.hang_next(30, only_in="a:")
    async with aiohttp.ClientSession() as session:
        hanging = asyncio.create_task(bot.post(session, teams.personal_message(
            connector.url, "help")))
        await asyncio.sleep(0.5)
        bot.popen.send_signal(signal.SIGINT)
        await asyncio.sleep(0.3)  # the same signal sent twice at once is delivered once
        bot.popen.send_signal(signal.SIGINT)
        started = time.monotonic()
        code = await asyncio.to_thread(bot.popen.wait, STOP_WITHIN_S + 5)
        await asyncio.gather(hanging, return_exceptions=True)

    assert time.monotonic() - started < STOP_WITHIN_S
    assert code == 0, bot.log()
    assert "SIGINT again: already stopping" in bot.log()
    assert not Path(f"{database}-wal").exists(), "the database was not closed"


@pytest.mark.slow
async def test_sigterm_while_the_database_does_not_answer_still_stops_within_10_s(
        proxied_postgres: ProxiedDatabase, tmp_path: Path, connector: FakeConnector):
    proxy, through = proxied_postgres.proxy, proxied_postgres.url
    bot = await BotProcess(through, tmp_path).start()
    assert bot.popen is not None
    try:
        await _busy(bot.base, connector, count=5)
        await proxy.cut(hang=True)  # a black hole: nothing answers, nothing is refused
        await _busy(bot.base, connector, count=5)  # these go to the journal
        bot.popen.send_signal(signal.SIGTERM)
        started = time.monotonic()
        bot.popen.wait(timeout=STOP_WITHIN_S + 5)
        assert time.monotonic() - started < STOP_WITHIN_S, bot.log()
    finally:
        bot.kill()
    # What was journaled stays for the next start: the file is kept, not emptied.
    journals = list(tmp_path.glob("**/*.journal"))
    assert journals and any(j.stat().st_size for j in journals), bot.log()
