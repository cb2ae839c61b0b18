"""How to start each process of the bench: the three servers and the fake connector.

Every server listens on its own free loopback port and is told nothing about the others;
only the messages posted to it name the fake connector (`serviceUrl`).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.processes import Child, Children, free_port, wait_ready

SERVERS = ("bare", "stock", "bot")
REPO_ROOT = Path(__file__).resolve().parent.parent
# The console script sits next to the interpreter running the bench (the project venv).
BOT_SCRIPT = Path(sys.executable).parent / "incident-bot"
# Bot Framework credentials the bot reads; cleared so it runs in local (anonymous) mode.
CREDENTIAL_VARIABLES = ("microsoftappid", "microsoftapppassword", "app_id", "app_password")


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


def start_connector(children: Children) -> Server:
    """The loopback fake Bot Connector every server replies to."""
    port = free_port()
    child = children.start("connector", _python_module("bench.fake_connector", port),
                           cwd=REPO_ROOT)
    server = Server("connector", child, f"http://127.0.0.1:{port}")
    wait_ready(child, f"{server.base_url}/count", timeout=30)
    return server


def start_server(name: str, children: Children, *, work_dir: Path) -> Server:
    """Start one of `SERVERS` and wait until it answers its health check."""
    port = free_port()
    if name == "bot":
        child = children.start("bot", [str(BOT_SCRIPT), "run"],
                               env=bot_environment(port, work_dir), cwd=work_dir)
        timeout = 90.0  # imports, migrations and database open
    else:
        module = {"bare": "bench.bare_echo", "stock": "bench.stock_echo"}[name]
        child = children.start(name, _python_module(module, port), cwd=REPO_ROOT)
        timeout = 30.0
    server = Server(name, child, f"http://127.0.0.1:{port}")
    wait_ready(child, f"{server.base_url}/healthz", timeout=timeout)
    return server


def bot_environment(port: int, work_dir: Path) -> dict[str, str]:
    """The bot's env: local mode, a throw-away SQLite file, this run's port."""
    env = {key: value for key, value in os.environ.items()
           if key.lower() not in CREDENTIAL_VARIABLES}
    env.update({
        "PORT": str(port),
        "DATABASE_URL": f"sqlite://{work_dir / 'bench.sqlite3'}",
        "MicrosoftAppId": "",
        "MicrosoftAppPassword": "",
    })
    return env
