"""What every scenario tells the person running the bench: progress, and a child's problems.

Progress goes to stderr so stdout carries only the Markdown summary; problems are looked
for in each child's log, because a server may answer 2xx while logging a traceback.
"""

from __future__ import annotations

import sys
import time

from bench.processes import Child

_STARTED = time.monotonic()

PROBLEM_MARKERS = ("Traceback", " ERROR ", " CRITICAL ", "Error:", "Exception")


def say(text: str) -> None:
    """One line of progress (or a problem) on stderr."""
    print(f"[{time.monotonic() - _STARTED:5.0f} s] {text}", file=sys.stderr, flush=True)


def problem_lines(child: Child) -> list[str]:
    """The error-looking lines of a child's log, in order."""
    if not child.log_path.exists():
        return []
    lines = child.log_path.read_text(errors="replace").splitlines()
    return [line for line in lines if any(m in line for m in PROBLEM_MARKERS)]


def problem_summary(child: Child) -> str | None:
    """How many error-looking lines a child logged and the first one, or None if clean."""
    problems = problem_lines(child)
    if not problems:
        return None
    return f"{len(problems)} error-looking log lines, first: `{problems[0][:200]}`"
