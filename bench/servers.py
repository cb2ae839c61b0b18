"""How to start each process of the bench: the servers, the fake connector and fake Zoom.

Every server listens on its own free loopback port and is told nothing about the others;
only the messages posted to it name the fake connector (`serviceUrl`), and only a bot
given Zoom settings (`extra_env`) ever calls the fake Zoom.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.processes import Child, Children, free_port, wait_ready

SERVERS = ("bare", "stock", "bot")
DURABLE = "durable"  # the minimal durable `note` (bench.durable_note), for `commands` only
REPO_ROOT = Path(__file__).resolve().parent.parent
# `incident-bot run`, through the interpreter running the bench (the project venv): the
# bot's own entry point, under a command line that a colleague's `pkill -f incident-bot`
# on a shared machine does not match.
BOT_COMMAND = [sys.executable, "-m", "bot", "run"]
# Bot Framework credentials the bot reads; cleared so it runs in local (anonymous) mode.
CREDENTIAL_VARIABLES = ("microsoftappid", "microsoftapppassword", "app_id", "app_password")
# Integration settings inherited from the shell are dropped too, so the video provider
# (Jitsi unless a scenario says otherwise) and outside calls are the bench's choice.
INTEGRATION_PREFIXES = ("zoom_", "google_", "video_", "jitsi_", "graph_")


@dataclass
class Server:
    """A running process that answers HTTP on `base_url`."""

    name: str
    child: Child
    base_url: str

    @property
    def messages_url(self) -> str:
        return f"{self.base_url}/api/messages"


def _python_module(module: str, port: int) -> list[str]:
    return [sys.executable, "-m", module, "--port", str(port)]


def start_connector(children: Children, name: str = "connector", *,
                    teams_limits: bool = False) -> Server:
    """The loopback fake Bot Connector every server replies to (one per scenario); with
    `teams_limits` it answers 429 past Teams' rate limits and logs what it accepted."""
    port = free_port()
    argv = _python_module("bench.fake_connector", port) + (
        ["--teams-limits"] if teams_limits else [])
    child = children.start(name, argv, cwd=REPO_ROOT)
    server = Server(name, child, f"http://127.0.0.1:{port}")
    wait_ready(child, f"{server.base_url}/count", timeout=30)
    return server


def start_fake_zoom(children: Children, *, delay_s: float) -> Server:
    """The loopback Zoom API whose meeting creation takes `delay_s` seconds."""
    port = free_port()
    child = children.start("fake-zoom", _python_module("bench.fake_zoom", port)
                           + ["--delay", str(delay_s)], cwd=REPO_ROOT)
    server = Server("fake-zoom", child, f"http://127.0.0.1:{port}")
    wait_ready(child, f"{server.base_url}/count", timeout=30)
    return server


def start_server(name: str, children: Children, *, work_dir: Path) -> Server:
    """Start one of `SERVERS` (or `DURABLE`) and wait until it answers its health check."""
    if name == "bot":
        return start_bot("bot", children, work_dir=work_dir)
    port = free_port()
    module = {"bare": "bench.bare_echo", "stock": "bench.stock_echo",
              DURABLE: "bench.durable_note"}[name]
    argv = _python_module(module, port)
    if name == DURABLE:  # its own SQLite file, like each bot's
        argv += ["--database", str(work_dir / f"{name}.sqlite3")]
    child = children.start(name, argv, cwd=REPO_ROOT)
    server = Server(name, child, f"http://127.0.0.1:{port}")
    wait_ready(child, f"{server.base_url}/healthz", timeout=30.0)
    return server


def start_bot(name: str, children: Children, *, work_dir: Path,
              extra_env: dict[str, str] | None = None, database_url: str | None = None,
              wait: bool = True, paced: bool = False) -> Server:
    """Start `incident-bot run` as `name` (its log is `<name>.log`) on its own SQLite file
    (or `database_url`); with `wait=False` the caller calls `wait_started` later.

    `paced`: the bot spends Teams' rate limits (its default). Off elsewhere: the other
    scenarios send thousands of requests a second into one tenant and channel, 40 times
    what Teams lets a bot answer there, so a paced bot would (rightly) queue the answers
    and the scenario would measure Teams' limit instead of the bot. `burst` measures
    pacing, against a connector that enforces the limits."""
    port = free_port()
    env = bot_environment(port, database_url or f"sqlite://{work_dir / f'{name}.sqlite3'}")
    env["TEAMS_PACING"] = "on" if paced else "off"
    env.update(extra_env or {})
    child = children.start(name, BOT_COMMAND, env=env, cwd=work_dir)
    server = Server(name, child, f"http://127.0.0.1:{port}")
    if wait:
        wait_started(server)
    return server


def wait_started(server: Server) -> None:
    """Wait for a bot's imports, migrations and database open."""
    wait_ready(server.child, f"{server.base_url}/healthz", timeout=90.0)


def start_load_server(children: Children) -> Server:
    """The load generator, serving `POST /run` (one load at a time) for the whole bench."""
    port = free_port()
    child = children.start("load", [sys.executable, "-m", "bench.load", "--serve", str(port)],
                           cwd=REPO_ROOT)
    server = Server("load", child, f"http://127.0.0.1:{port}")
    wait_ready(child, f"{server.base_url}/healthz", timeout=30.0)
    return server


def bot_environment(port: int, database_url: str) -> dict[str, str]:
    """The bot's env: local mode, Jitsi, the given database, this run's port."""
    env = {key: value for key, value in os.environ.items()
           if key.lower() not in CREDENTIAL_VARIABLES
           and not key.lower().startswith(INTEGRATION_PREFIXES)}
    env.update({
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "MicrosoftAppId": "",
        "MicrosoftAppPassword": "",
    })
    return env
