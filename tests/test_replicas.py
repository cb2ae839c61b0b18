"""Two bot processes on one PostgreSQL database, behind the same Teams traffic, behave as
one bot: numbers stay unique, a role has one holder, each timer and message runs once.

This is how production runs for availability (docs/replicas.md); the guarantees come
from the database (an atomic counter upsert, row locks, `FOR UPDATE SKIP LOCKED`
leases), not from anything held in a process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.bot_process import BotProcess
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE
from tests.fakes.connector import FakeConnector
from tests.scenario import eventually

DECLARES = 16


def _say(connector: FakeConnector, text: str, *, sender=ADA, mentions=(), root_id=None) -> dict:
    for user in mentions:
        text = text.replace(f"@{user.name.split()[0]}", user.mention()[0])
    return teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} {text}",
                                 sender=sender, mentions=list(mentions), root_id=root_id)


@pytest.mark.slow
async def test_two_replicas_on_one_postgres_act_as_one_bot(postgres_url: str, tmp_path: Path,
                                                            connector: FakeConnector):
    # Both start at once, so both also migrate the new database at once.
    first, second = await asyncio.gather(
        BotProcess(postgres_url, tmp_path, name="replica-a").start(),
        BotProcess(postgres_url, tmp_path, name="replica-b").start())
    replicas = [first, second]
    db = await asyncpg.connect(postgres_url)
    try:
        async with aiohttp.ClientSession() as session:
            assert await first.post(session, _say(connector, "setup")) == 200
            declares = [replicas[i % 2].post(session, _say(
                connector, f"declare Replica {i} sev2 @Ada @Grace", mentions=(ADA, GRACE)))
                for i in range(DECLARES)]
            assert set(await asyncio.gather(*declares)) == {200}

            numbers = [r["number"] for r in await db.fetch("SELECT number FROM incident")]
            assert sorted(numbers) == list(range(1, DECLARES + 1)), numbers

            await eventually(lambda: _all_settled(db), timeout=60)
            # Grace presses Accept once, and Teams (a retry on a timeout) delivers it to
            # each replica under a different activity id, at the same moment.
            pending = await db.fetch("SELECT h.id, h.incident_id, i.card_activity_id FROM "
                                     "handover h JOIN incident i ON i.id = h.incident_id WHERE "
                                     "h.status = 'pending' AND h.to_id = $1", GRACE.id)
            assert len(pending) == DECLARES
            presses = [replica.post(session, teams.card_action(
                connector.url, verb="handover.accept", card_id=row["card_activity_id"],
                data={"verb": "handover.accept", "handoverId": row["id"],
                      "incidentId": row["incident_id"]}, sender=GRACE))
                for row in pending for replica in replicas]
            assert set(await asyncio.gather(*presses)) == {200}
            await eventually(lambda: _all_settled(db), timeout=60)

        commanders = await db.fetch("SELECT commander_id FROM incident")
        assert {r["commander_id"] for r in commanders} == {GRACE.id}
        accepted = await db.fetch("SELECT incident_id, count(*) AS n FROM timeline_event "
                                  "WHERE kind = 'role_accepted' AND actor_id = $1 "
                                  "GROUP BY incident_id", GRACE.id)
        assert len(accepted) == DECLARES and {r["n"] for r in accepted} == {1}, accepted

        jobs = await db.fetch("SELECT kind, status, attempts FROM job")
        assert jobs and all(j["attempts"] == 1 for j in jobs if j["status"] == "done"), jobs
        assert Counter(j["kind"] for j in jobs if j["status"] == "done")["room.create"] \
            == DECLARES

        await _each_message_delivered_once(db, connector)
        assert "Traceback" not in first.log() + second.log()
    finally:
        await db.close()
        for replica in replicas:
            replica.stop()


async def _all_settled(db: asyncpg.Connection) -> bool:
    busy = await db.fetchval("SELECT count(*) FROM outbox_message WHERE status IN "
                             "('pending', 'sending')")
    running = await db.fetchval("SELECT count(*) FROM job WHERE status = 'running' OR "
                                "(status = 'pending' AND due_ms < $1)",
                                int(time.time() * 1000))
    return busy == 0 and running == 0


async def _each_message_delivered_once(db: asyncpg.Connection, connector: FakeConnector) -> None:
    rows = await db.fetch("SELECT status, payload FROM outbox_message")
    assert rows and {r["status"] for r in rows} == {"sent"}
    sent = Counter(json.dumps(json.loads(r["payload"]), sort_keys=True) for r in rows)
    received = Counter(json.dumps(c.body, sort_keys=True) for c in connector.calls
                       if c.method != "GET" and c.answered < 300)
    assert received == sent, "some messages were sent twice or never"
