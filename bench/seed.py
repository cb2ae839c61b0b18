"""Filling a scratch database fast: incidents, their timelines and role requests in bulk SQL.

Rows are generated inside the database (`generate_series` on PostgreSQL, a recursive CTE
on SQLite) in one transaction, never through the ORM one row at a time: a million
timeline events take seconds. Every seeded incident belongs to the tenant the load
messages come from, so the bot's queries have to find their rows among all of them.

Seeded incident `x` has number `x`, thread `19:seed-x@thread.tacv2` and card `card-x`, so
a post into its thread reaches the fake connector as a reply to activity `card-x`.
"""

from __future__ import annotations

import hashlib
import hmac

from bench.databases import POSTGRES, Database
from bench.message import CHANNEL_ID, TEAM_ID

TENANT = "tenant-1"
# The bot's key for signed review links (bot/incidents/review_links.py): seeded, so the
# bench can sign links to review pages itself.
REVIEW_KEY_NAME = "review-links"
REVIEW_KEY = "5e" * 32
# Ids (and numbers) the bot itself gives out start here, above anything seeded, so stages
# seeded while the bot declares incidents never collide with them.
BOT_IDS_FROM = 10_000_000
EVENT_TEXT = "Seeded event: error rate 2.1%, see https://grafana.example.com/d/checkout"



def _series(db: Database, alias: str = "g", column: str = "x") -> str:
    """The integers ? to ? (two parameters) as table `alias` with one column `column`."""
    if db.engine == POSTGRES:
        return f"generate_series(?::bigint, ?::bigint) AS {alias}({column})"
    return (f"(WITH RECURSIVE s({column}) AS (SELECT ? UNION ALL SELECT {column} + 1 FROM s "
            f"WHERE {column} < ?) SELECT {column} FROM s) AS {alias}")


def _time(db: Database, minutes: str, seconds: str = "0") -> str:
    """A timestamp `minutes` minutes (plus `seconds`) after 2025-01-01 UTC, as SQL."""
    if db.engine == POSTGRES:
        return (f"(timestamptz '2025-01-01 00:00:00+00' + ({minutes}) * interval '1 minute' "
                f"+ ({seconds}) * interval '1 second')")
    # Tortoise stores aware datetimes on SQLite as `YYYY-MM-DD HH:MM:SS+00:00` text.
    return (f"strftime('%Y-%m-%d %H:%M:%S+00:00', '2025-01-01', '+' || ({minutes}) || "
            f"' minutes', '+' || ({seconds}) || ' seconds')")


def incidents(db: Database, *, first: int, last: int, service_url: str, open_: bool,
              events_each: int) -> list[tuple[str, tuple]]:
    """Incidents `first..last` (ids and numbers alike), each with `events_each` events."""
    status, review = ("investigating", "pending") if open_ else ("closed", "done")
    closed_at = "NULL" if open_ else _time(db, "x + 120")
    statements = [(
        "INSERT INTO incident (id, tenant_id, number, title, severity, status, review_state, "
        "declared_at, closed_at, declared_by_id, declared_by_name, investigator_id, "
        "investigator_name, service_url, team_id, channel_id, thread_id, card_activity_id) "
        f"SELECT x, '{TENANT}', x, 'Seeded incident ' || x, x % 4 + 1, '{status}', '{review}', "
        f"{_time(db, 'x')}, {closed_at}, '29:declarer', 'Dee Clarer', '29:inv', "
        f"'Ivy Investigator', ?, '{TEAM_ID}', '{CHANNEL_ID}', "
        f"'19:seed-' || x || '@thread.tacv2', 'card-' || x FROM {_series(db)}",
        (service_url, first, last))]
    if events_each:
        statements.append(events(db, first=first, last=last, each=events_each))
    return statements


def events(db: Database, *, first: int, last: int, each: int) -> tuple[str, tuple]:
    """`each` timeline events for every incident `first..last`, one second apart."""
    kind = "CASE e.y % 3 WHEN 0 THEN 'note' WHEN 1 THEN 'update' ELSE 'task' END"
    return (
        "INSERT INTO timeline_event (incident_id, at, kind, actor_id, actor_name, text) "
        f"SELECT i.x, {_time(db, 'i.x', 'e.y')}, {kind}, '29:inv', 'Ivy Investigator', "
        f"'{EVENT_TEXT} (' || e.y || ')' FROM {_series(db, 'i', 'x')} CROSS JOIN "
        f"{_series(db, 'e', 'y')}",
        (first, last, 1, each))


def history(db: Database, *, first: int, last: int) -> list[tuple[str, tuple]]:
    """What a closed incident leaves besides its timeline: an answered role request and a
    commandeered helper each."""
    series = _series(db)
    return [
        ("INSERT INTO handover (incident_id, role, to_id, to_name, from_id, from_name, "
         "requested_by_id, requested_by_name, status, requested_at, answered_at) "
         f"SELECT x, 'commander', '29:cmd', 'Cam Commander', NULL, NULL, '29:inv', "
         f"'Ivy Investigator', 'accepted', {_time(db, 'x')}, {_time(db, 'x', '30')} "
         f"FROM {series}", (first, last)),
        ("INSERT INTO commandeer (incident_id, person_id, name, why, requested_by_id, "
         "requested_by_name, status, requested_at, answered_at) "
         f"SELECT x, '29:db', 'Dana Base', 'database expert', '29:cmd', 'Cam Commander', "
         f"'joining', {_time(db, 'x', '60')}, {_time(db, 'x', '90')} FROM {series}",
         (first, last)),
    ]


def role_requests(db: Database, *, first: int, last: int,
                  service_url: str) -> list[tuple[str, tuple]]:
    """Open incidents `first..last`, each with a pending request (same id) asking the load's
    sender (29:1abc) to become Incident Commander: what the card-action load accepts."""
    return incidents(db, first=first, last=last, service_url=service_url, open_=True,
                     events_each=0) + [(
        "INSERT INTO handover (id, incident_id, role, to_id, to_name, requested_by_id, "
        "requested_by_name, status, requested_at, card_activity_id) "
        f"SELECT x, x, 'commander', '29:1abc', 'Ada Lovelace', '29:inv', 'Ivy Investigator', "
        f"'pending', {_time(db, 'x')}, 'hcard-' || x FROM {_series(db)}",
        (first, last))]


def finish(db: Database) -> list[tuple[str, tuple]]:
    """Counters and sequences past anything seeded (the first time), the review-link key."""
    statements: list[tuple[str, tuple]] = [
        ("INSERT INTO incident_counter (tenant_id, last_number) VALUES (?, ?) "
         "ON CONFLICT (tenant_id) DO NOTHING", (TENANT, BOT_IDS_FROM)),
        ("INSERT INTO signing_secret (name, secret) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
         (REVIEW_KEY_NAME, REVIEW_KEY)),
    ]
    if db.engine == POSTGRES:
        statements += [(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"GREATEST((SELECT max(id) FROM {table}), ?))", (BOT_IDS_FROM,))
                       for table in ("incident", "handover")]
    else:
        statements.append(("UPDATE sqlite_sequence SET seq = max(seq, ?) "
                           "WHERE name IN ('incident', 'handover')", (BOT_IDS_FROM,)))
    return statements


def analyze(db: Database) -> None:
    """Refresh PostgreSQL's statistics, as autovacuum would shortly after a bulk load."""
    if db.engine == POSTGRES:
        db.execute([("ANALYZE", ())])


def review_path(incident_id: int, *, expires: int, fmt: str = "html") -> str:
    """A signed link to a review page, as the bot signs them with the seeded key."""
    message = f"{incident_id}:{fmt}:{expires}".encode()
    signature = hmac.new(bytes.fromhex(REVIEW_KEY), message, hashlib.sha256).hexdigest()
    return f"/incidents/{incident_id}/review.{fmt}?expires={expires}&sig={signature}"
