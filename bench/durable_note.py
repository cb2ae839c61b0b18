"""The durable floor for `note`: one SQLite transaction per note, the reply sent from an outbox.

What any bot that keeps notes durably must do at minimum per message, with nothing else:
parse the activity, insert the timeline event and the reply to send in ONE transaction
(so a committed note is never without its confirmation, and a crash only delays it),
commit, answer 200; a background task then posts the outbox rows to the connector (into
the activity's thread, like `bench.bare_echo`; one thread's replies in order, threads at
once) and marks them sent. No incident lookup, no permissions, no cards.

The database is opened the way the bot's is (Tortoise's SQLite client with the bot's URL:
one aiosqlite connection behind one lock, autocommit with explicit BEGIN, and the same
pragmas), so `sqlite note / durable note` is the cost of what the bot does beyond this.
The bot sets no `synchronous`: SQLite's default applies to both (FULL, even in WAL mode).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import re
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import aiosqlite
from aiohttp import web

log = logging.getLogger("durable_note")
# Tortoise's SQLite defaults plus the bot's busy_timeout (bot/store/database.py).
PRAGMAS = {"journal_mode": "WAL", "journal_size_limit": 16384, "foreign_keys": "ON",
           "busy_timeout": 5000}
SCHEMA = """
CREATE TABLE IF NOT EXISTS timeline_event (
    id INTEGER PRIMARY KEY, incident_id INTEGER NOT NULL, at TEXT NOT NULL,
    kind TEXT NOT NULL, actor_id TEXT, actor_name TEXT, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS timeline_event_incident_at ON timeline_event (incident_id, at);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY, service_url TEXT NOT NULL, conversation_id TEXT NOT NULL,
    activity_id TEXT NOT NULL, payload TEXT NOT NULL, status TEXT NOT NULL,
    created_at TEXT NOT NULL, sent_at TEXT);
CREATE INDEX IF NOT EXISTS outbox_status_id ON outbox (status, id);
"""
BATCH = 100  # outbox rows sent per round
RETRY_S = 1.0  # after a failed send, and the poll for rows left from an earlier run
_INCIDENT = re.compile(r"\bINC-(\d+)\b")
# An outbox row as the sender reads it: id, service URL, conversation, reply-to id, payload.
Row = tuple[int, str, str, str, str]


class Store:
    """The one connection, and a lock so transactions on it take turns."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Store:
        db = await aiosqlite.connect(path, isolation_level=None)
        for pragma, value in PRAGMAS.items():
            await (await db.execute(f"PRAGMA {pragma}={value}")).close()
        await db.executescript(SCHEMA)
        return cls(db)

    async def note(self, *, incident: int, actor: dict[str, Any], text: str,
                   reply: tuple[str, str, str, dict[str, Any]]) -> None:
        """The note and the reply it owes, committed together."""
        now = dt.datetime.now(dt.UTC).isoformat(sep=" ")
        service_url, conversation_id, activity_id, payload = reply
        async with self.lock:
            await self.db.execute("BEGIN")
            try:
                await self.db.execute(
                    "INSERT INTO timeline_event (incident_id, at, kind, actor_id, actor_name, "
                    "text) VALUES (?, ?, 'note', ?, ?, ?)",
                    (incident, now, actor.get("id"), actor.get("name"), text))
                await self.db.execute(
                    "INSERT INTO outbox (service_url, conversation_id, activity_id, payload, "
                    "status, created_at) VALUES (?, ?, ?, ?, 'pending', ?)",
                    (service_url, conversation_id, activity_id, json.dumps(payload), now))
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
            await self.db.execute("COMMIT")

    async def pending(self) -> list[Row]:
        async with self.lock:
            cursor = await self.db.execute(
                "SELECT id, service_url, conversation_id, activity_id, payload FROM outbox "
                "WHERE status = 'pending' ORDER BY id LIMIT ?", (BATCH,))
            rows = await cursor.fetchall()
            await cursor.close()
        return [tuple(row) for row in rows]

    async def mark_sent(self, ids: list[int]) -> None:
        if not ids:
            return
        now = dt.datetime.now(dt.UTC).isoformat(sep=" ")
        marks = ",".join("?" * len(ids))
        async with self.lock:
            await self.db.execute(
                f"UPDATE outbox SET status = 'sent', sent_at = ? WHERE id IN ({marks})",
                (now, *ids))


STORE = web.AppKey("store", Store)
SESSION = web.AppKey("session", aiohttp.ClientSession)
WAKE = web.AppKey("wake", asyncio.Event)


async def post_messages(request: web.Request) -> web.Response:
    """Keep the activity's text as a note on the incident it names, with its reply."""
    activity = json.loads(await request.read())
    text = activity.get("text") or ""
    found = _INCIDENT.search(text)
    number = int(found.group(1)) if found else 0
    reply = {"type": "message", "text": f"Noted on INC-{number}'s timeline."}
    await request.app[STORE].note(
        incident=number, actor=activity.get("from") or {}, text=text,
        reply=(activity["serviceUrl"], activity["conversation"]["id"], activity["id"], reply))
    request.app[WAKE].set()
    return web.Response(status=200)


async def send_thread(session: aiohttp.ClientSession, rows: list[Row]) -> list[int]:
    """Post one thread's replies in order; the ids sent (up to the first failure)."""
    sent = []
    for row_id, service_url, conversation_id, activity_id, payload in rows:
        url = f"{service_url}v3/conversations/{conversation_id}/activities/{activity_id}"
        try:
            async with session.post(url, data=payload,
                                    headers={"Content-Type": "application/json"}) as reply:
                await reply.read()
                if reply.status >= 300:
                    log.warning("connector answered %s for outbox row %s", reply.status, row_id)
                    break
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("outbox row %s not sent: %s", row_id, exc)
            break
        sent.append(row_id)
    return sent


async def deliver(app: web.Application) -> None:
    """Send what the outbox holds whenever a commit wakes it (and every `RETRY_S`)."""
    store, session, wake = app[STORE], app[SESSION], app[WAKE]
    while True:
        try:
            await asyncio.wait_for(wake.wait(), RETRY_S)
        except TimeoutError:
            pass
        wake.clear()
        while rows := await store.pending():
            threads: dict[str, list[Row]] = defaultdict(list)
            for row in rows:
                threads[row[2]].append(row)
            sent = await asyncio.gather(*(send_thread(session, group)
                                          for group in threads.values()))
            ids = [row_id for group in sent for row_id in group]
            await store.mark_sent(ids)
            if len(ids) < len(rows):
                await asyncio.sleep(RETRY_S)  # the connector refuses: do not spin


async def get_healthz(request: web.Request) -> web.Response:
    """Ready as soon as it listens (the database is open by then)."""
    return web.Response(status=200)


def create_app(database: Path) -> web.Application:
    """The durable note server on the SQLite file `database`."""
    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        app[STORE] = await Store.open(database)
        app[SESSION] = aiohttp.ClientSession()
        app[WAKE] = asyncio.Event()
        sender = asyncio.create_task(deliver(app))
        yield
        sender.cancel()
        await asyncio.gather(sender, return_exceptions=True)
        await app[SESSION].close()
        await app[STORE].db.close()

    app = web.Application()
    app.cleanup_ctx.append(lifetime)
    app.router.add_post("/api/messages", post_messages)
    app.router.add_get("/healthz", get_healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database", type=Path, required=True, help="the SQLite file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    web.run_app(create_app(args.database), host="127.0.0.1", port=args.port, access_log=None,
                print=None)


if __name__ == "__main__":
    main()
