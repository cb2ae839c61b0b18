"""Upgrading a database that has rows: each migration that adds a NOT NULL column must give
the rows already there a value (SQLite refuses `ADD COLUMN ... NOT NULL` without a
default, PostgreSQL refuses it on a table with rows), or `incident-bot run` fails to start
on every existing installation."""

from __future__ import annotations

import asyncpg
from tortoise import Tortoise
from tortoise.migrations.api import migrate

from bot.store.database import tortoise_config
from bot.store.migration_lock import migration_lock

# A role request and an outbox row as the schema before 0009 stored them.
BEFORE_0009 = [
    "INSERT INTO incident (tenant_id, number, title, severity, status, declared_at, "
    "declared_by_id, declared_by_name, service_url, channel_id, review_state) VALUES "
    "('t', 1, 'db down', 1, 'investigating', '2026-01-01 00:00:00+00', 'a', 'Ada', "
    "'https://smba.example/', 'c', 'pending')",
    "INSERT INTO handover (incident_id, role, to_id, to_name, requested_by_id, "
    "requested_by_name, status, requested_at) VALUES ((SELECT id FROM incident), "
    "'commander', 'b', 'Bo', 'a', 'Ada', 'pending', '2026-01-01 00:00:00+00')",
]


async def _migrate(url: str, target: str | None = None) -> None:
    async with migration_lock(url):
        try:
            await migrate(config=tortoise_config(url), target=target)
        finally:
            await Tortoise.close_connections()


async def _run(url: str, statements: list[str]) -> list[tuple]:
    if url.startswith("sqlite://"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
            rows: list[tuple] = []
            for sql in statements:
                rows = conn.execute(sql).fetchall()
            return rows
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
    try:
        result = []
        for sql in statements:
            result = [tuple(r) for r in await conn.fetch(sql)]
        return result
    finally:
        await conn.close()


async def _upgrade_keeps_role_requests(url: str) -> None:
    await _migrate(url, "bot.0008_pacing")
    await _run(url, BEFORE_0009)

    await _migrate(url)

    rows = await _run(url, ["SELECT to_name, anyone, answer_by FROM handover"])
    assert [(name, bool(anyone), answer_by) for name, anyone, answer_by in rows] == [
        ("Bo", False, None)]


# A team's settings as the schema before 0010 stored them.
BEFORE_0010 = [
    "INSERT INTO team_settings (tenant_id, team_id, service_url, incidents_channel_id, "
    "updated_at) VALUES ('t', '19:team@thread.tacv2', 'https://smba.example/', "
    "'19:incidents@thread.tacv2', '2026-01-01 00:00:00+00')",
]


async def _upgrade_keeps_teams_in_thread_space(url: str) -> None:
    await _migrate(url, "bot.0009_role_requests")
    await _run(url, BEFORE_0009 + BEFORE_0010)

    await _migrate(url)

    rows = await _run(url, ["SELECT space, aad_group_id, channel_limit_warned FROM "
                            "team_settings"])
    assert [(space, group, bool(warned)) for space, group, warned in rows] == [
        ("thread", None, False)]
    rows = await _run(url, ["SELECT title, space_state FROM incident"])
    assert rows == [("db down", None)]


async def test_teams_stay_in_thread_space_after_the_upgrade_on_sqlite(tmp_path) -> None:
    await _upgrade_keeps_teams_in_thread_space(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def test_teams_stay_in_thread_space_after_the_upgrade_on_postgres(
    postgres_url: str
) -> None:
    await _upgrade_keeps_teams_in_thread_space(postgres_url)


async def test_role_requests_survive_the_upgrade_on_sqlite(tmp_path) -> None:
    await _upgrade_keeps_role_requests(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def test_role_requests_survive_the_upgrade_on_postgres(postgres_url: str) -> None:
    await _upgrade_keeps_role_requests(postgres_url)


async def _upgrade_keeps_incidents_public(url: str) -> None:
    await _migrate(url, "bot.0010_channel_space")
    await _run(url, BEFORE_0009)

    await _migrate(url)

    rows = await _run(url, ["SELECT title, private, chat_id FROM incident"])
    assert [(title, bool(private), chat) for title, private, chat in rows] == [
        ("db down", False, None)]
    assert await _run(url, ["SELECT count(*) FROM incident_member"]) == [(0,)]


async def test_incidents_stay_public_after_the_upgrade_on_sqlite(tmp_path) -> None:
    await _upgrade_keeps_incidents_public(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def test_incidents_stay_public_after_the_upgrade_on_postgres(postgres_url: str) -> None:
    await _upgrade_keeps_incidents_public(postgres_url)


# A commandeer request as the schema before 0012 stored it.
BEFORE_0012 = [
    "INSERT INTO commandeer (incident_id, person_id, name, requested_by_id, "
    "requested_by_name, status, requested_at) VALUES ((SELECT id FROM incident), 'l', "
    "'Linus', 'a', 'Ada', 'joining', '2026-01-01 00:00:00+00')",
]


async def _upgrade_follows_no_old_room(url: str) -> None:
    await _migrate(url, "bot.0010_channel_space")
    await _run(url, BEFORE_0009 + BEFORE_0012)

    await _migrate(url)

    rows = await _run(url, ["SELECT title, room_meeting_id FROM incident"])
    assert rows == [("db down", None)]
    rows = await _run(url, ["SELECT name, joined_room_at FROM commandeer"])
    assert rows == [("Linus", None)]
    rows = await _run(url, ["SELECT count(*) FROM room_session"])
    assert rows == [(0,)]


async def test_old_rooms_are_not_followed_after_the_upgrade_on_sqlite(tmp_path) -> None:
    await _upgrade_follows_no_old_room(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def test_old_rooms_are_not_followed_after_the_upgrade_on_postgres(
    postgres_url: str
) -> None:
    await _upgrade_follows_no_old_room(postgres_url)


# A squad as the schema before 0013 stored it.
BEFORE_0013 = [
    "INSERT INTO squad (tenant_id, name, timezone, period, handoff_time, handoff_weekday, "
    "anchor, created_at) VALUES ('t', 'db', 'UTC', 'weekly', '09:00', 0, '2026-01-05', "
    "'2026-01-01 00:00:00+00')",
]


async def _upgrade_keeps_squads_without_runbooks(url: str) -> None:
    await _migrate(url, "bot.0011_private_incidents")
    await _run(url, BEFORE_0009 + BEFORE_0013)

    await _migrate(url)

    assert await _run(url, ["SELECT name, runbook FROM squad"]) == [("db", None)]
    assert await _run(url, ["SELECT title, runbook FROM incident"]) == [("db down", None)]


async def test_squads_and_incidents_have_no_runbook_after_the_upgrade_on_sqlite(tmp_path) -> None:
    await _upgrade_keeps_squads_without_runbooks(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def test_squads_and_incidents_have_no_runbook_after_the_upgrade_on_postgres(
    postgres_url: str
) -> None:
    await _upgrade_keeps_squads_without_runbooks(postgres_url)


async def _upgrade_adds_no_alert_groups(url: str) -> None:
    await _migrate(url, "bot.0011_private_incidents")
    await _run(url, BEFORE_0009)

    await _migrate(url)

    assert await _run(url, ["SELECT title FROM incident"]) == [("db down",)]
    assert await _run(url, ["SELECT count(*) FROM alert_group"]) == [(0,)]


async def test_alert_groups_start_empty_after_the_upgrade_on_sqlite(tmp_path) -> None:
    await _upgrade_adds_no_alert_groups(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def test_alert_groups_start_empty_after_the_upgrade_on_postgres(postgres_url: str) -> None:
    await _upgrade_adds_no_alert_groups(postgres_url)


async def _upgrade_starts_with_no_conversation(url: str) -> None:
    await _migrate(url, "bot.0011_private_incidents")
    await _run(url, BEFORE_0009 + [
        "INSERT INTO timeline_event (incident_id, at, kind, text) VALUES ((SELECT id FROM "
        "incident), '2026-01-01 00:00:00+00', 'declared', 'Declared')"])

    await _migrate(url)

    assert await _run(url, ["SELECT count(*) FROM chat_entry"]) == [(0,)]
    assert await _run(url, ["SELECT kind, text FROM timeline_event"]) == [
        ("declared", "Declared")]


async def test_the_conversation_starts_empty_after_the_upgrade_on_sqlite(tmp_path) -> None:
    await _upgrade_starts_with_no_conversation(f"sqlite://{tmp_path / 'old.sqlite3'}")


async def test_the_conversation_starts_empty_after_the_upgrade_on_postgres(
    postgres_url: str
) -> None:
    await _upgrade_starts_with_no_conversation(postgres_url)
