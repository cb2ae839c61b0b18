"""The console script as a user runs it: `--help`, `migrate`, and `run` as a real process."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from tests.bot_process import SCRIPT, bot_env, free_port
from tests.fakes import activities as teams


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return bot_env(f"sqlite://{tmp_path}/cli.sqlite3", **extra)


def test_help_lists_the_commands():
    result = subprocess.run([SCRIPT, "--help"], capture_output=True, text=True, check=True)

    assert "run" in result.stdout and "migrate" in result.stdout


@pytest.mark.slow
def test_migrate_creates_the_schema_and_is_repeatable(tmp_path):
    for _ in range(2):
        result = subprocess.run([SCRIPT, "migrate"], env=_env(tmp_path), cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    tables = {row[0] for row in sqlite3.connect(tmp_path / "cli.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"outbox_message", "job", "processed_activity"} <= tables


@pytest.mark.slow
def test_replicas_migrating_one_new_sqlite_file_at_once_both_succeed(tmp_path):
    """The default database is a relative path; its lock file sits beside it, ignored by
    git like the WAL files."""
    env = bot_env("sqlite://bot.sqlite3")
    runs = [subprocess.Popen([SCRIPT, "migrate"], env=env, cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)]
    for run in runs:
        _, errors = run.communicate(timeout=60)
        assert run.returncode == 0, errors
    assert (tmp_path / "bot.sqlite3-migrate-lock").exists()
    tables = {row[0] for row in sqlite3.connect(tmp_path / "bot.sqlite3").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"outbox_message", "job", "public_incident"} <= tables


async def _wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> float:
    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - started < timeout:
            assert process.poll() is None, "the bot exited during start-up"
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return time.monotonic() - started
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"/healthz not ready within {timeout} s")


async def test_run_serves_healthz_and_answers_help_as_a_real_process(tmp_path, connector):
    port = free_port()
    process = subprocess.Popen(
        [SCRIPT, "run"], env=_env(tmp_path, PORT=str(port)), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        await _wait_healthy(f"http://127.0.0.1:{port}/healthz", process, 30)
        message = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/api/messages", json=message) as r:
                assert r.status == 200
        [reply] = await connector.wait_for(1, kind="reply")
        assert reply.activity_id == message["id"]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert f"endpoint : http://127.0.0.1:{port}/api/messages" in output
    assert "mode     : local" in output
    assert "NOT authenticated" in output
    assert "video    : jitsi" in output


async def test_local_mode_binds_loopback_even_when_host_says_otherwise(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [SCRIPT, "run"], env=_env(tmp_path, PORT=str(port), HOST="0.0.0.0"), cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        await _wait_healthy(f"http://127.0.0.1:{port}/healthz", process, 30)
        assert _listening_addresses(port) == {"127.0.0.1"}
    finally:
        process.terminate()
        process.communicate(timeout=15)


def _listening_addresses(port: int) -> set[str]:
    """IPv4/IPv6 addresses with a listening socket on `port`, read from /proc/net."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(_decode(address))
    return found


def _decode(address: str) -> str:
    if len(address) == 8:
        return socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)[::-1])
    words = [bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, 32, 8)]
    return socket.inet_ntop(socket.AF_INET6, b"".join(words))


async def test_json_logs_name_the_request_as_a_real_process(tmp_path, connector):
    port = free_port()
    process = subprocess.Popen(
        [SCRIPT, "run"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=_env(tmp_path, PORT=str(port), LOG_FORMAT="json",
                            ALLOWED_TENANT_IDS="another-tenant"),
    )
    try:
        await _wait_healthy(f"http://127.0.0.1:{port}/healthz", process, 30)
        message = teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} help")
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/api/messages", json=message,
                                    headers={"X-Request-Id": "edge-42"}) as resp:
                assert resp.status == 403 and resp.headers["X-Request-Id"] == "edge-42"
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=15)
    lines = [json.loads(line) for line in errors.splitlines()]  # every line is JSON
    refused = [line for line in lines if line["message"].startswith("refused activity")]
    assert [line["request_id"] for line in refused] == ["edge-42"]
    assert {line["request_id"] for line in lines if line is not refused[0]} <= {"-"}
