"""Child processes of one bench run, and the guarantee that none of them outlives it.

Each child gets its own session (so a Ctrl-C in the terminal reaches only the bench,
which then stops them in order) and a parent-death signal (so even a `kill -9` of the
bench takes them down). Output goes to files, never to pipes that could fill and stall.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

PR_SET_PDEATHSIG = 1


class StartError(RuntimeError):
    """A child did not become ready; the message carries the end of its log."""


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: SIGKILL it if the bench dies first.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Child:
    """One started process and where its output went."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    out_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        """The last lines the child wrote to stderr (and stdout, for servers)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Children:
    """Starts children and stops every one of them when the `with` block ends."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._children: list[Child] = []

    def __enter__(self) -> Children:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop_all()

    def start(self, name: str, argv: list[str], *, env: dict[str, str] | None = None,
              cwd: Path | None = None, separate_stdout: bool = False) -> Child:
        """Start `argv`; stderr (and stdout unless `separate_stdout`) go to `<name>.log`."""
        log_path = self._log_dir / f"{name}.log"
        out_path = self._log_dir / f"{name}.out" if separate_stdout else log_path
        with open(log_path, "ab") as log, open(out_path, "ab") as out:
            popen = subprocess.Popen(
                argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=log,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        child = Child(name=name, popen=popen, log_path=log_path, out_path=out_path)
        self._children.append(child)
        return child

    def stop(self, child: Child, *, grace: float = 3.0) -> None:
        """SIGTERM the child's process group, then SIGKILL it if it lingers."""
        if child.alive():
            _signal_group(child.pid, signal.SIGTERM)
            try:
                child.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _signal_group(child.pid, signal.SIGKILL)
                child.popen.wait()
        if child in self._children:
            self._children.remove(child)

    def stop_all(self) -> None:
        """Stop the children, newest first; runs on success, errors and Ctrl-C alike."""
        for child in reversed(list(self._children)):
            self.stop(child)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def get_json(url: str, *, timeout: float = 5.0) -> Any:
    """GET a JSON document from a loopback server."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_ready(child: Child, url: str, *, timeout: float) -> None:
    """Poll `url` until it answers 200; fail early, with the log, if the child exits."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if not child.alive():
            raise StartError(f"{child.name} exited with {child.popen.returncode} before "
                             f"{url} answered:\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    raise StartError(f"{child.name}: {url} not ready after {timeout:.0f} s ({last}):\n"
                     f"{child.log_tail()}")
