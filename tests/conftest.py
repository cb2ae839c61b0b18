"""Fixtures: a database per test (SQLite always, PostgreSQL when reachable), the loopback
fakes, and the real app served on a real port."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestServer

from bot.app import create_app
from bot.config import Settings
from bot.store.database import apply_migrations, close_database, open_database
from tests.domain import Domain
from tests.fakes.connector import FakeConnector
from tests.fakes.github import FakeGitHub
from tests.fakes.google import FakeGoogle
from tests.fakes.google_drive import FakeGoogleDrive
from tests.fakes.graph import FakeGraph
from tests.fakes.identity import FakeIdentity
from tests.fakes.jira import FakeJira
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.trello import FakeTrello
from tests.fakes.zoom import FakeZoom


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `slow` tests first, the rest in their order: `make test` hands tests to its
    workers in this order, and a two-minute story handed out last would keep the whole
    suite waiting for it after every other worker is done (longest first)."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
_pg_state: dict[str, str | None] = {}


async def _pg_unreachable_reason() -> str | None:
    if "reason" not in _pg_state:
        try:
            conn = await asyncpg.connect(PG_ADMIN_URL, timeout=3)
            await conn.close()
            _pg_state["reason"] = None
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            _pg_state["reason"] = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"
    return _pg_state["reason"]


# Migrating a new database costs about a second on SQLite and two on PostgreSQL, which
# across the suite's ~600 databases was a third of `make test`. So each test process
# migrates one template per engine and every test gets a copy: a file copy on SQLite,
# `CREATE DATABASE ... TEMPLATE` on PostgreSQL. The bot still runs its migrations at start
# (a no-op on a copy); tests of migrating a new database use `postgres_url` or their own
# file (tests/test_cli.py, tests/test_replicas.py).
@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "bot.sqlite3"
    asyncio.run(apply_migrations(f"sqlite://{path}"))
    return path


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str | None]:
    if asyncio.run(_pg_unreachable_reason()):
        yield None
        return
    name = f"bot_template_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    asyncio.run(apply_migrations(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name))
    yield name
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(statement: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


def _copy_of(template: Path, tmp_path: Path) -> str:
    shutil.copyfile(template, tmp_path / "bot.sqlite3")
    return f"sqlite://{tmp_path}/bot.sqlite3"


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path,
                       _migrated_sqlite: Path,
                       _postgres_template: str | None) -> AsyncIterator[str]:
    """A new database with the schema applied: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        yield _copy_of(_migrated_sqlite, tmp_path)
        return
    async for url in _new_postgres_database(template=_postgres_template):
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A new, empty PostgreSQL database, for tests that need several processes on one."""
    async for url in _new_postgres_database():
        yield url


async def _new_postgres_database(*, template: str | None = None) -> AsyncIterator[str]:
    reason = await _pg_unreachable_reason()
    if reason:
        pytest.skip(reason)
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class ProxiedDatabase:
    """A new PostgreSQL database behind a loopback proxy the test can cut or sever."""

    url: str  # through the proxy: what the bot is given
    direct_url: str  # straight to PostgreSQL: for the test's own queries
    proxy: TcpProxy


@pytest.fixture
async def proxied_postgres(postgres_url: str) -> AsyncIterator[ProxiedDatabase]:
    """`postgres_url` reached through a `TcpProxy` (stopped at the end of the test)."""
    real = urlsplit(postgres_url)
    proxy = await TcpProxy(real.hostname or "127.0.0.1", real.port or 5432).start()
    through = postgres_url.replace(f"{real.hostname}:{real.port}", f"127.0.0.1:{proxy.port}")
    yield ProxiedDatabase(through, postgres_url, proxy)
    await proxy.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path, _migrated_sqlite: Path) -> str:
    """A SQLite file database (schema applied), for tests whose subject is not the store."""
    return _copy_of(_migrated_sqlite, tmp_path)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """The database migrated and opened for direct use by store tests."""
    await apply_migrations(database_url)
    await open_database(database_url)
    yield database_url
    await close_database()


@pytest.fixture
async def domain(sqlite_url: str) -> AsyncIterator[Domain]:
    """The domain on a migrated SQLite database, no HTTP (see `tests.domain`)."""
    await apply_migrations(sqlite_url)
    await open_database(sqlite_url)
    yield Domain()
    await close_database()


@pytest.fixture
async def connector() -> AsyncIterator[FakeConnector]:
    fake = FakeConnector()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def identity() -> AsyncIterator[FakeIdentity]:
    fake = FakeIdentity()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def zoom() -> AsyncIterator[FakeZoom]:
    """A loopback Zoom (OAuth and meetings API)."""
    fake = FakeZoom()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def google() -> AsyncIterator[FakeGoogle]:
    """A loopback Google (token, Meet and Calendar APIs)."""
    fake = FakeGoogle()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def drive() -> AsyncIterator[FakeGoogleDrive]:
    """A loopback Google with Drive (token, Meet, Calendar and Drive uploads)."""
    fake = FakeGoogleDrive()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraph]:
    """A loopback Microsoft Graph (token, presence, app installs, online meetings)."""
    fake = FakeGraph()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def github() -> AsyncIterator[FakeGitHub]:
    """A loopback GitHub issues API."""
    fake = FakeGitHub()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def jira() -> AsyncIterator[FakeJira]:
    """A loopback Jira Cloud REST API (create issue)."""
    fake = FakeJira()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def trello() -> AsyncIterator[FakeTrello]:
    """A loopback Trello REST API (create card)."""
    fake = FakeTrello()
    await fake.start()
    yield fake
    await fake.stop()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a test, ignoring any .env file on the machine; the local journal goes
    to a directory of its own (never the working directory)."""
    overrides.setdefault("journal_dir", tempfile.mkdtemp(prefix="incident-bot-journal-"))
    return Settings(_env_file=None, database_url=database_url, **overrides)


@dataclass
class RunningBot:
    """The real app on a real loopback port, and a client to post activities to it."""

    server: TestServer
    session: aiohttp.ClientSession
    settings: Settings

    @property
    def url(self) -> str:
        return str(self.server.make_url("/api/messages"))

    async def post(self, activity: Any, *, headers: dict[str, str] | None = None,
                   raw: bytes | None = None) -> tuple[int, Any]:
        """POST an activity; the status and the JSON body (or None)."""
        send_headers = {"Content-Type": "application/json", **(headers or {})}
        data = raw if raw is not None else None
        kwargs: dict[str, Any] = {"data": data} if raw is not None else {"json": activity}
        if raw is None:
            send_headers.pop("Content-Type")
        async with self.session.post(self.url, headers=send_headers, **kwargs) as resp:
            text = await resp.text()
            try:
                body = await resp.json(content_type=None) if text else None
            except ValueError:
                body = text
            return resp.status, body

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.session.get(self.server.make_url(path)) as resp:
            return resp.status, await resp.json(content_type=None)


BotFactory = Callable[..., "asyncio.Future[RunningBot]"]


@pytest.fixture
async def start_bot() -> AsyncIterator[Callable[..., Any]]:
    """Start the real app with the given settings; stopped at the end of the test."""
    started: list[RunningBot] = []

    async def start(settings: Settings) -> RunningBot:
        server = TestServer(create_app(settings), host="127.0.0.1")
        await server.start_server()
        running = RunningBot(server, aiohttp.ClientSession(), settings)
        started.append(running)
        return running

    yield start
    for running in started:
        await running.session.close()
        await running.server.close()


@pytest.fixture
async def bot(start_bot, database_url: str) -> RunningBot:
    """The bot in local mode (no credentials), on each database."""
    return await start_bot(make_settings(database_url))


@pytest.fixture
async def local_bot(start_bot, sqlite_url: str) -> RunningBot:
    """The bot in local mode on SQLite, for tests about the transport only."""
    return await start_bot(make_settings(sqlite_url))
