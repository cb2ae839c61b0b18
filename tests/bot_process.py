"""The bot as a real operating-system process, for tests about what survives a crash or
runs beside another replica: the in-process test server cannot be SIGKILLed."""

from __future__ import annotations

import asyncio
import ctypes
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

SCRIPT = Path(sys.executable).with_name("incident-bot")
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_healthy(base: str, *, timeout: float = 60, name: str = "bot",
                       alive: Callable[[], bool] = lambda: True,
                       log: Callable[[], str] = lambda: "") -> None:
    """Wait until `base`/healthz answers 200 (fail if the process exits first)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if not alive():
                raise AssertionError(f"{name} exited during start-up:\n{log()}")
            try:
                async with session.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{name}: /healthz not ready within {timeout} s")


def bot_env(database_url: str, **extra: str) -> dict[str, str]:
    """This environment without any bot settings of the machine's, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.lower().startswith(("microsoftapp", "database_url", "port", "host"))}
    env.update(DATABASE_URL=database_url, **extra)
    return env


def _die_with_parent() -> None:
    # Runs in the child before exec: if the test process dies, so does the bot.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _child_setup(files: int | None) -> Callable[[], None]:
    def setup() -> None:
        _die_with_parent()
        if files is not None:  # a host with a low descriptor limit (`ulimit -n`)
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    return setup


@dataclass
class BotProcess:
    """`incident-bot run` on a loopback port, its output in a log file."""

    database_url: str
    workdir: Path
    name: str = "bot"
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    open_files: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def start(self, *, timeout: float = 60) -> BotProcess:
        """Start it and wait until /healthz answers."""
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [str(SCRIPT), "run"], cwd=self.workdir, stdin=subprocess.DEVNULL,
                stdout=log, stderr=log, preexec_fn=_child_setup(self.open_files),
                env=bot_env(self.database_url, PORT=str(self.port), **self.env),
            )
        await self._wait_healthy(timeout)
        return self

    async def _wait_healthy(self, timeout: float) -> None:
        await wait_healthy(self.base, timeout=timeout, alive=self.alive, name=self.name,
                           log=self.log)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, exactly like a lost machine."""
        if self.popen is not None and self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, waiting for the graceful shutdown (SIGKILL if it hangs)."""
        if self.popen is None or not self.alive():
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()

    async def post(self, session: aiohttp.ClientSession, activity: Any) -> int:
        """POST an activity; its HTTP status."""
        async with session.post(f"{self.base}/api/messages", json=activity) as resp:
            await resp.read()
            return resp.status
