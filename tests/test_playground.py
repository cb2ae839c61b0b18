"""A real Teams client end to end: the M365 Agents Playground's web UI against the bot.

The Playground listens on every interface and has no host option, so the bot, the
Playground and Chromium run in a network namespace of this test's own that has only
loopback (`unshare --net`); where one cannot be made, the test skips and says why.
The story itself is in tests/playground_session.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser import missing

REPO = Path(__file__).parent.parent
_SH = 'ip link set lo up && exec "$0" "$@"'


def _unshare() -> list[str]:
    # Root makes the namespace directly; anyone else needs a user namespace for it.
    return ["unshare", "--net"] + ([] if os.geteuid() == 0 else ["--map-root-user"])


def _why_not() -> str | None:
    reason = missing("@microsoft/m365agentsplayground")
    if reason:
        return reason
    for tool in ("node", "unshare", "ip"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed; the Playground test needs it"
    probe = subprocess.run([*_unshare(), "sh", "-c", _SH, "true"], capture_output=True,
                           text=True, timeout=30)
    if probe.returncode != 0:
        return ("cannot make a private network namespace for the Playground (it listens on "
                f"every interface): {' '.join(_unshare())} failed: {probe.stderr.strip()}")
    return None


REASON = _why_not()


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
@pytest.mark.timeout(300)
@pytest.mark.slow
def test_nominee_accepts_the_role_card_in_the_playground(tmp_path: Path) -> None:
    run = subprocess.run(
        [*_unshare(), "sh", "-c", _SH, sys.executable, "-m", "tests.playground_session",
         str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=280,
    )
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                     for p in sorted(tmp_path.glob("*.log")))
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-5000:]}\n{logs}"
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["refused_for_ada"]
    assert "Accepted by Grace Hopper" in seen["role_card"]
    assert "Investigator\n\nGrace Hopper" in seen["incident_card"]
    for shot in ("1-declared.png", "2-ada-refused.png", "3-accepted.png"):
        assert (tmp_path / shot).stat().st_size > 10_000


def test_session_refuses_to_start_where_others_could_reach_the_playground(tmp_path) -> None:
    from tests.playground_session import main, only_loopback

    if only_loopback():
        pytest.skip("this machine has only loopback: nothing to refuse")
    assert main(["session", str(tmp_path)]) == 2
    assert not (tmp_path / "playground.log").exists()
