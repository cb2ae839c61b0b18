"""Opening, migrating and checking the database, SQLite or PostgreSQL alike."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.migrations.api import migrate as tortoise_migrate

from bot.logs import Throttled
from bot.store.availability import (
    DatabaseUnavailable,
    answered_within,
    describe_error,
    is_connection_lost,
)
from bot.store.migration_lock import migration_lock

log = logging.getLogger(__name__)
# /healthz must answer within 2 s whatever the database does (issue 14).
PING_TIMEOUT_S = 2.0
# A database away for minutes is probed every second: one line a minute says so.
_ping_failures = Throttled(log, interval_s=60.0)

APP_LABEL = "bot"
MODEL_MODULES = ["bot.store.models", "bot.store.incident_models", "bot.store.oncall_models",
                 "bot.store.pir_models", "bot.store.status_models",
                 "bot.store.pace_models", "bot.store.alert_models"]
MIGRATIONS_MODULE = "bot.store.migrations"


def normalise_url(url: str) -> str:
    """Accept `postgresql://` too, and give SQLite a busy timeout so writers queue, not fail."""
    if url.startswith("postgresql://"):
        url = "postgres://" + url[len("postgresql://") :]
    if url.startswith("sqlite://") and "busy_timeout" not in url:
        url += ("&" if "?" in url else "?") + "busy_timeout=5000"
    return url


def tortoise_config(url: str) -> dict[str, Any]:
    """The Tortoise configuration for one database URL."""
    return {
        "connections": {"default": normalise_url(url)},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def describe(url: str) -> str:
    """The URL without its password, for banners and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def dialect() -> str:
    """`sqlite` or `postgres`: a few queries differ (row locks)."""
    name: str = connections.get("default").capabilities.dialect
    return name


async def apply_migrations(url: str) -> None:
    """Bring the schema up to date; safe to run on every start and from several replicas."""
    async with migration_lock(normalise_url(url)):
        try:
            await tortoise_migrate(config=tortoise_config(url))
        finally:
            await Tortoise.close_connections()


async def open_database(url: str) -> None:
    """Connect Tortoise for this process (models are then usable from any task)."""
    # Tortoise caches INSERT statements per connection *name*, not per dialect: a process
    # that opens SQLite and then PostgreSQL (the test suite) would reuse `?` placeholders.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


async def close_database() -> None:
    """Close every connection (the pool on PostgreSQL)."""
    await Tortoise.close_connections()


async def ping(*, timeout_s: float = PING_TIMEOUT_S) -> bool:
    """True when the database answers a trivial query within `timeout_s` (a connection
    the server had closed is replaced and tried once more)."""
    async def select_one() -> None:
        try:
            await connections.get("default").execute_query("SELECT 1")
        except Exception as exc:
            if not is_connection_lost(exc):
                raise
            await renew_connections()
            await connections.get("default").execute_query("SELECT 1")

    try:
        await answered_within(timeout_s, select_one)
    except Exception as exc:  # noqa: BLE001 - any driver error means "not reachable"
        _ping_failures.warning("database ping failed", describe_error(exc))
        return False
    return True


async def takes_writes(*, timeout_s: float = PING_TIMEOUT_S) -> bool:
    """True when the database would take a write now. Stricter than `ping`: SQLite answers
    reads while another process holds its write lock, and a PostgreSQL standby answers
    them after a failover."""

    async def probe() -> None:
        from bot.store.transactions import transaction  # it imports this module

        if dialect() == "sqlite":
            async with transaction() as conn:  # a write that changes nothing takes the lock
                await conn.execute_query(
                    "UPDATE incident_counter SET last_number = last_number WHERE 0 = 1")
            return
        rows = await connections.get("default").execute_query_dict(
            "SELECT pg_is_in_recovery() AS standby")
        if rows[0]["standby"]:
            raise DatabaseUnavailable("the database is a standby (read-only)")

    try:
        await answered_within(timeout_s, probe)
    except Exception:  # noqa: BLE001 - any failure means "not now"
        return False
    return True


async def renew_connections() -> None:
    """After the server closed a pooled connection (a failover, `pg_terminate_backend`,
    a proxy's idle timeout) the others are usually dead too: replace them all on their
    next use instead of handing each out once more to fail."""
    client = connections.get("default")
    expire = getattr(client, "_expire_connections", None)  # PostgreSQL's pooled clients
    if expire is not None:
        await expire()
