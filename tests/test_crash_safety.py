"""A bot process killed with SIGKILL in the middle of a busy incident keeps everything it
acknowledged: the acknowledgement (HTTP 200) is only given after the commit, and the
outbox and the timers live in the same database, so a restart finishes what was started.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.teams.markdown import literal
from tests.bot_process import BotProcess
from tests.fakes import activities as teams
from tests.fakes.activities import ADA, GRACE, LINUS
from tests.fakes.connector import FakeConnector

SENDERS = 6
PER_SENDER = 50
KILL_AFTER_ACKS = 120


def _query(path: Path, sql: str, *args: Any) -> list[tuple]:
    with sqlite3.connect(path, timeout=30) as conn:
        return conn.execute(sql, args).fetchall()


async def _eventually(check, *, timeout: float = 60, what: str = "condition") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.1)


def _say(connector: FakeConnector, text: str, *, sender=ADA, mentions=(), root_id=None) -> dict:
    for user in mentions:
        text = text.replace(f"@{user.name.split()[0]}", user.mention()[0])
    return teams.channel_message(connector.url, f"{teams.BOT_MENTION_TEXT} {text}",
                                 sender=sender, mentions=list(mentions), root_id=root_id)


class Load:
    """Several on-call engineers typing at once; remembers what the bot acknowledged."""

    def __init__(self, bot: BotProcess, connector: FakeConnector, roots: list[str]) -> None:
        self.bot, self.connector, self.roots = bot, connector, roots
        self.acked_notes: list[str] = []
        self.acked_declares: list[str] = []
        self.refused = 0
        self.enough = asyncio.Event()

    async def sender(self, session: aiohttp.ClientSession, who: int) -> None:
        roots = itertools.cycle(self.roots)
        for n in range(PER_SENDER):
            token = f"s{who}n{n}"
            if n % 10 == 9:
                activity, kind = _say(self.connector, f"declare Load {token} sev3"), "declare"
            else:
                activity = _say(self.connector, f"note evidence {token}", root_id=next(roots))
                kind = "note"
            try:
                status = await self.bot.post(session, activity)
            except aiohttp.ClientError:
                return  # the process is gone: nothing more can be acknowledged
            if status != 200:
                self.refused += 1
                continue
            (self.acked_notes if kind == "note" else self.acked_declares).append(token)
            if len(self.acked_notes) + len(self.acked_declares) >= KILL_AFTER_ACKS:
                self.enough.set()


@pytest.mark.slow
async def test_a_sigkilled_bot_keeps_every_acknowledged_change(tmp_path: Path, connector):
    database = tmp_path / "bot.sqlite3"
    bot = await BotProcess(f"sqlite://{database}", tmp_path, name="first").start()
    try:
        async with aiohttp.ClientSession() as session:
            assert await bot.post(session, _say(connector, "setup")) == 200
            for i in range(3):
                # Ada investigates; Grace and Linus are asked to command and to help, and
                # nobody answers: their requests keep timers pending across the crash.
                declare = _say(connector, f"declare Checkout {i} sev2 @Ada @Grace",
                               mentions=(ADA, GRACE))
                assert await bot.post(session, declare) == 200
            roots = await _eventually(lambda: [r for (r,) in _query(
                database, "SELECT card_activity_id FROM incident WHERE card_activity_id "
                "IS NOT NULL")] if len(_query(database, "SELECT id FROM incident WHERE "
                "card_activity_id IS NOT NULL")) == 3 else None, what="three threads")
            assert await bot.post(session, _say(connector, "commandeer @Linus db expert",
                                                sender=GRACE, mentions=(LINUS,),
                                                root_id=roots[0])) == 200

            load = Load(bot, connector, roots)
            senders = [asyncio.create_task(load.sender(session, who)) for who in range(SENDERS)]
            await asyncio.wait_for(load.enough.wait(), timeout=120)
            bot.kill()
            await asyncio.gather(*senders)
        assert load.refused == 0
        acked = len(load.acked_notes) + len(load.acked_declares)
        assert KILL_AFTER_ACKS <= acked < SENDERS * PER_SENDER, "the kill was not mid-load"

        # While the bot is down, time passes: leases of half-sent messages and claimed jobs
        # run out, and every pending timer becomes due.
        _query(database, "UPDATE outbox_message SET locked_until_ms = 0")
        _query(database, "UPDATE job SET locked_until_ms = 0, due_ms = 0 "
               "WHERE status IN ('pending', 'running')")
        unsent = _query(database, "SELECT count(*) FROM outbox_message WHERE status IN "
                        "('pending', 'sending')")[0][0]
        print(f"acked {acked} ({len(load.acked_declares)} declares); unsent at the kill: "
              f"{unsent}")
        timers = {row[0] for row in _query(database, "SELECT id FROM job WHERE status IN "
                                                     "('pending', 'running')")}
        assert timers, "the crash should leave timers pending"

        second = await BotProcess(f"sqlite://{database}", tmp_path, name="second").start()
        try:
            await _eventually(lambda: not _query(
                database, "SELECT id FROM outbox_message WHERE status IN ('pending', "
                "'sending')") and not _query(database, "SELECT id FROM job WHERE id IN (%s) "
                "AND status IN ('pending', 'running')" % ",".join(map(str, timers))),
                what="outbox drained and timers run", timeout=90)
        finally:
            second.stop()
    finally:
        bot.kill()

    _every_acknowledged_command_is_stored(database, load)
    _every_message_was_delivered(database, connector)
    _no_incident_is_half_declared(database)
    _the_timers_fired(database, timers)


def _every_acknowledged_command_is_stored(database: Path, load: Load) -> None:
    stored = "\n".join(text for (text,) in _query(database, "SELECT text FROM timeline_event"))
    missing = [t for t in load.acked_notes if f"evidence {t}" not in stored]
    assert not missing, f"{len(missing)} acknowledged notes lost: {missing[:5]}"
    titles = {title for (title,) in _query(database, "SELECT title FROM incident")}
    lost = [t for t in load.acked_declares if f"Load {t}" not in titles]
    assert not lost, f"acknowledged declarations lost: {lost}"


def _every_message_was_delivered(database: Path, connector: FakeConnector) -> None:
    rows = _query(database, "SELECT id, status, payload, result, merge_text FROM outbox_message")
    assert rows and all(row[1] == "sent" for row in rows), {row[1] for row in rows}
    delivered = {json.dumps(c.body, sort_keys=True) for c in connector.calls if c.answered < 300}
    texts = {(c.body or {}).get("text") for c in connector.calls if c.answered < 300}
    # Routine confirmations that waited together left as one message ("Noted 3 entries"):
    # each carrier must have said the count of what it carried.
    carried: dict[int, int] = {}
    for _, _, _, result, _ in rows:
        into = json.loads(result or "{}").get("merged_into")
        if into is not None:
            carried[into] = carried.get(into, 1) + 1
    undelivered = [i for i, _, payload, result, merge_text in rows
                   if "merged_into" not in json.loads(result or "{}")
                   and (literal(merge_text.replace("{n}", str(carried[i]))) not in texts
                        if i in carried
                        else json.dumps(json.loads(payload), sort_keys=True) not in delivered)]
    assert not undelivered, f"outbox rows marked sent but never received: {undelivered[:5]}"


def _no_incident_is_half_declared(database: Path) -> None:
    for number, thread, card, events, title in _query(
            database, "SELECT number, thread_id, card_activity_id, (SELECT count(*) FROM "
            "timeline_event e WHERE e.incident_id = i.id AND e.kind = 'declared'), title "
            "FROM incident i"):
        assert thread and card, f"INC-{number} ({title}) has no thread or card"
        assert events == 1, f"INC-{number} ({title}) has {events} declaration events"


def _the_timers_fired(database: Path, timers: set[int]) -> None:
    states = dict(_query(database, "SELECT id, status FROM job WHERE id IN (%s)"
                  % ",".join(map(str, timers))))
    assert set(states.values()) <= {"done", "cancelled"}, states
    assert "done" in states.values()
    expired = _query(database, "SELECT count(*) FROM handover WHERE status = 'expired'")[0][0]
    assert expired >= 1, "the role requests pending at the crash never expired"
