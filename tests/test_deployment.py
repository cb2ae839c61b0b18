"""The container files, checked without a Docker engine: the compose file parses and
names only settings the bot knows, the Dockerfile copies what exists and runs the bot
as a non-root user with a health check."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from bot.config import environment_names

ROOT = Path(__file__).resolve().parents[1]
yaml = pytest.importorskip("yaml")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.replace("\\\n", " ").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_compose_runs_the_bot_image_on_postgres_16_with_a_volume(compose):
    services = compose["services"]
    assert services["db"]["image"] == "postgres:16"
    volume, _, target = services["db"]["volumes"][0].partition(":")
    assert target == "/var/lib/postgresql/data" and volume in compose["volumes"]
    for name in ("bot", "migrate"):
        assert services[name]["build"] == {"context": ".", "dockerfile": "Dockerfile"}
        url = services[name]["environment"]["DATABASE_URL"]
        assert url.startswith("postgres://") and "@db:5432/" in url


def test_compose_migrates_once_then_starts_two_replicas_without_migrating(compose):
    bot, migrate = compose["services"]["bot"], compose["services"]["migrate"]
    assert migrate["command"] == ["incident-bot", "migrate"]
    assert bot["command"] == ["incident-bot", "run", "--no-migrate"]
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["deploy"]["replicas"] == 2


def test_compose_sets_only_variables_the_bot_reads(compose):
    known = environment_names()
    for name in ("bot", "migrate"):
        unknown = set(compose["services"][name]["environment"]) - known
        assert not unknown, f"{name} sets {unknown}, which bot/config.py does not read"
    assert compose["services"]["bot"]["environment"]["PORT"] == "3978"


def test_dockerfile_is_python_3_11_slim_and_copies_what_exists(dockerfile):
    assert dockerfile[0] == ("FROM", "python:3.11-slim")
    for instruction, args in dockerfile:
        if instruction == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such path"


def test_dockerfile_runs_incident_bot_as_a_non_root_user(dockerfile):
    users = [args for instruction, args in dockerfile if instruction == "USER"]
    assert users and users[-1] not in ("root", "0")
    cmd = [args for instruction, args in dockerfile if instruction == "CMD"][-1]
    assert shlex.split(cmd.strip("[]").replace(",", " ")) == ["incident-bot", "run"]


def test_dockerfile_health_check_asks_livez(dockerfile):
    # Not /healthz: a database outage must not mark containers that journal unhealthy.
    [check] = [args for instruction, args in dockerfile if instruction == "HEALTHCHECK"]
    assert "/livez" in check and "PORT" in check


def test_compose_keeps_each_replica_s_journal_on_a_volume(compose):
    bot = compose["services"]["bot"]
    journal = bot["environment"]["JOURNAL_DIR"]
    volume, _, target = next(v for v in bot["volumes"] if v.endswith(journal)).partition(":")
    assert target == journal and volume in compose["volumes"]


def test_dockerfile_sets_only_variables_the_bot_or_python_reads(dockerfile):
    names: set[str] = set()
    for instruction, args in dockerfile:
        if instruction == "ENV":
            names |= set(re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", args))
    ours = {n for n in names if not n.startswith(("PYTHON", "PIP_"))}
    assert ours <= environment_names(), ours - environment_names()


def test_docker_context_leaves_out_secrets_and_local_state():
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for entry in (".env", ".venv", ".git", "*.sqlite3"):
        assert entry in ignored
