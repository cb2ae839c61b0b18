"""Scenario `burst`: a busy incident under Teams' rate limits.

One SEV1 is declared in a channel; once its thread exists, 20 responders post 120
`note`s into that thread (replies to its card, as Teams sends them) spread evenly over
6 s, and after the 60th the Investigator posts an `update`. The fake connector enforces
Teams' published limits (`bench.teams_limits`: 7 calls a second, 60 in 30 s per channel),
so a bot answering each note with its own reply is throttled: the question is what
people see, and when. Measured: Bot Connector calls after the burst began (accepted and
refused), 429s, calls per note, how long the status update took to reach the thread,
how long after the last note the last confirmation came (a confirmation is any post
starting "Noted", one entry or several merged), and whether the bot's database has every
note on the timeline. Run on one bot on SQLite and on two replicas sharing a PostgreSQL
database (notes alternating between them); each setup has its own fake connector (its
own tenant and channel), and the two run side by side so their waits overlap.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.console import problem_summary, say
from bench.databases import POSTGRES, SQLITE, Database, Scratch, postgres_problem
from bench.measurement import quiesce
from bench.message import ADA, CHANNEL_ID, Sender, channel_message
from bench.processes import Children, StartError, get_json
from bench.servers import Server, start_bot, start_connector, wait_started

DECLARE_TEXT = "<at>incident</at> declare checkout failing for EU customers sev1"
NOTE_TEXT = "<at>incident</at> note burst note {n} from {name}: checkout-api p99 at 2.4 s"
UPDATE_MARK = "failover to eu-west-2 under way"  # the thread post must contain this
UPDATE_TEXT = f"<at>incident</at> update {UPDATE_MARK}, next update in 15 minutes"
CONFIRMATION = "Noted"
_MERGED = re.compile(r"^Noted (\d+) entries")
POLL_S = 0.25


@dataclass(frozen=True)
class BurstSettings:
    """The burst, and how long to wait for what it asks the bot to post."""

    notes: int = 120
    responders: int = 20
    spread_s: float = 6.0
    update_after: int = 60  # notes sent before the status update
    wait_s: float = 90.0  # longest wait for confirmations after the burst
    quiet_s: float = 5.0  # confirmations have stopped when none came for this long
    engines: tuple[str, ...] = (SQLITE, POSTGRES)


@dataclass
class Setup:
    """One measured setup: its connector, its bot replicas and their shared database."""

    name: str
    engine: str
    connector: Server
    bots: list[Server]
    database: Database


@dataclass
class Outcome:
    """What one setup did with the burst."""

    name: str
    replicas: int
    notes_sent: int = 0
    acks_ok: int = 0  # notes answered 2xx
    ack_errors: list[str] = field(default_factory=list)
    accepted: int = 0  # Bot Connector calls accepted after the burst began
    refused: int = 0  # ... and answered 429
    update_visible_s: float | None = None  # from sending `update` to its thread post
    last_confirmation_s: float | None = None  # from the last note sent to the last "Noted"
    confirmations: int = 0  # posts starting "Noted"
    confirmed: int = 0  # entries they confirm (a merged one confirms several)
    timeline_notes: int | None = None  # note events of the incident in the bot's database
    waited_s: float = 0.0
    settled: bool = False  # confirmations stopped before the time limit
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        say(f"burst ({self.name}): {text}")


def responders(count: int) -> list[Sender]:
    """Distinct people posting notes (the declarer is not among them)."""
    return [Sender(f"29:responder-{k:02d}", f"Responder {k:02d}", f"00000000-0000-0000-0000-{k:012d}")
            for k in range(1, count + 1)]


def start_burst_servers(children: Children, scratch: Scratch, *, work_dir: Path,
                        settings: BurstSettings) -> tuple[list[Setup], list[Outcome]]:
    """Start each setup's connector and bots without waiting for the bots (start-up is
    mostly waiting, so the bench may start them while it measures something else)."""
    setups, skipped = [], []
    for engine in settings.engines:
        replicas = 2 if engine == POSTGRES else 1
        name = f"{engine} x{replicas}"
        if engine == POSTGRES and (why := postgres_problem()):
            skipped.append(Outcome(name, replicas, notes=[f"left out: {why}"]))
            continue
        connector = start_connector(children, f"connector-burst-{engine}", teams_limits=True)
        database = scratch.create(engine, "burst")
        bots = [start_bot(f"bot-burst-{engine}-{n}", children, work_dir=work_dir,
                          database_url=database.url, wait=False, paced=True)
                for n in range(1, replicas + 1)]
        setups.append(Setup(name, engine, connector, bots, database))
    return setups, skipped


def run_burst(children: Children, setups: list[Setup], skipped: list[Outcome], *,
              settings: BurstSettings) -> list[Outcome]:
    """Every setup at once (each on its own connector), then stop them all."""
    def guarded(setup: Setup) -> Outcome:
        try:
            return run_setup(setup, settings)
        except Exception as exc:  # noqa: BLE001 - one setup failing must not lose the other
            outcome = Outcome(setup.name, len(setup.bots))
            outcome.note(f"stopped by {type(exc).__name__}: {exc}")
            return outcome

    with ThreadPoolExecutor(max_workers=max(1, len(setups))) as pool:
        outcomes = list(pool.map(guarded, setups))
    for setup, outcome in zip(setups, outcomes):
        for bot in setup.bots:
            if problems := problem_summary(bot.child):
                outcome.note(f"{bot.name}: {problems}")
            children.stop(bot.child)
        children.stop(setup.connector.child)
    return [*outcomes, *skipped]


def run_setup(setup: Setup, settings: BurstSettings) -> Outcome:
    """Declare, wait for the thread, run the burst, wait for what follows, read the record."""
    outcome = Outcome(setup.name, len(setup.bots))
    try:
        for bot in setup.bots:
            wait_started(bot)
    except StartError as exc:
        outcome.note(f"a bot did not start: {str(exc).splitlines()[0]}")
        return outcome
    thread = declare(setup, outcome)
    if thread is None:
        return outcome
    thread_id, card_id = thread
    quiesce(setup.connector, quiet_s=1.0, limit_s=10.0)  # the declare's own posts are done
    before = get_json(f"{setup.connector.base_url}/count")
    say(f"burst ({setup.name}): {settings.notes} notes from {settings.responders} responders "
        f"in {settings.spread_s:g} s into {thread_id} ...")
    sent = asyncio.run(send_burst(setup, outcome, thread_id, card_id, settings))
    posts = wait_for_confirmations(setup, outcome, sent, first_post=int(before["posts"]),
                                   settings=settings)
    after = get_json(f"{setup.connector.base_url}/count")
    outcome.accepted = sum(1 for p in posts if p["t"] >= sent.began)
    outcome.refused = int(after["throttled"]) - int(before["throttled"])
    updates = [p["t"] for p in posts if p["method"] == "POST" and UPDATE_MARK in p["text"]]
    if updates:
        outcome.update_visible_s = min(updates) - sent.update_at
    outcome.timeline_notes = timeline_notes(setup.database, thread_id)
    if after["other"]:
        outcome.note(f"{after['other']} calls the fake connector does not know, the last "
                     f"`{after['last_other']}`")
    say(f"burst ({setup.name}): {outcome.accepted} calls accepted, {outcome.refused} refused "
        f"(429), update after {seconds(outcome.update_visible_s)}, {outcome.confirmed} notes "
        f"confirmed, last {seconds(outcome.last_confirmation_s)} after the burst, "
        f"{outcome.timeline_notes} on the timeline")
    return outcome


def post_message(bot: Server, message: dict[str, Any]) -> int:
    """POST one activity to a bot; its HTTP status."""
    request = urllib.request.Request(bot.messages_url, data=json.dumps(message).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def declare(setup: Setup, outcome: Outcome) -> tuple[str, str] | None:
    """Declare the SEV1 as a new channel post; the thread id and card id once the bot has
    created the thread and stored it (notes sent before that would find no incident)."""
    connector = setup.connector.base_url
    status = post_message(setup.bots[0], channel_message(
        activity_id="burst-declare", service_url=f"{connector}/", text=DECLARE_TEXT,
        conversation_id=f"{CHANNEL_ID};messageid=burst-declare"))
    if not 200 <= status < 300:
        outcome.note(f"declare answered HTTP {status}")
        return None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        created = [p for p in get_json(f"{connector}/posts")["posts"] if p["kind"] == "create"]
        if created:
            thread_id, card_id = created[0]["conversation"], created[0]["id"]
            quoted = thread_id.replace("'", "''")
            if setup.database.scalar(
                    f"SELECT count(*) FROM incident WHERE thread_id = '{quoted}'"):
                return thread_id, card_id
        time.sleep(0.1)
    outcome.note("the incident's thread was not created (or not stored) within 20 s")
    return None


@dataclass
class Sent:
    """When the burst was sent (monotonic seconds, the clock the connector stamps with)."""

    began: float
    update_at: float
    ended: float  # the last note's send


async def send_burst(setup: Setup, outcome: Outcome, thread_id: str, card_id: str,
                     settings: BurstSettings) -> Sent:
    """Send the notes on a fixed schedule (not waiting for acks, as people do not), the
    update after the `update_after`-th; replicas take the notes in turn."""
    service_url = f"{setup.connector.base_url}/"
    people = responders(settings.responders)
    interval = settings.spread_s / settings.notes

    async def post(session: aiohttp.ClientSession, bot: Server, message: dict[str, Any]) -> None:
        what = "update" if message["text"] == UPDATE_TEXT else "note"
        try:
            async with session.post(bot.messages_url, json=message) as resp:
                await resp.read()
                if 200 <= resp.status < 300:
                    outcome.acks_ok += what == "note"
                else:
                    outcome.ack_errors.append(f"{what}: HTTP {resp.status}")
        except (TimeoutError, aiohttp.ClientError) as exc:
            outcome.ack_errors.append(f"{what}: {type(exc).__name__}: {exc}")

    def message(number: int, text: str, sender: Sender) -> dict[str, Any]:
        return channel_message(activity_id=f"burst-{number}", service_url=service_url,
                               text=text, conversation_id=thread_id, sender=sender,
                               reply_to_id=card_id)

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks, began = [], time.monotonic()
        update_at = ended = began
        for n in range(settings.notes):
            if n == settings.update_after:  # half an interval after the last note before it
                await asyncio.sleep(max(0.0, began + (n - 0.5) * interval - time.monotonic()))
                update_at = time.monotonic()
                tasks.append(asyncio.create_task(post(
                    session, setup.bots[n % len(setup.bots)],
                    message(settings.notes + 1, UPDATE_TEXT, ADA))))
            await asyncio.sleep(max(0.0, began + n * interval - time.monotonic()))
            person = people[n % len(people)]
            ended = time.monotonic()
            tasks.append(asyncio.create_task(post(
                session, setup.bots[n % len(setup.bots)],
                message(n + 1, NOTE_TEXT.format(n=n + 1, name=person.name), person))))
            outcome.notes_sent += 1
        await asyncio.gather(*tasks)
    if outcome.ack_errors:
        outcome.note(f"{len(outcome.ack_errors)} messages not acknowledged, the first: "
                     f"{outcome.ack_errors[0][:200]}")
    return Sent(began=began, update_at=update_at, ended=ended)


def entries(text: str) -> int:
    """How many notes a confirmation confirms: "Noted 14 entries ..." is 14, else 1."""
    merged = _MERGED.match(text)
    return int(merged.group(1)) if merged else 1


def wait_for_confirmations(setup: Setup, outcome: Outcome, sent: Sent, *, first_post: int,
                           settings: BurstSettings) -> list[dict[str, Any]]:
    """Read the connector's log until every note is confirmed, or confirmations stopped
    (none for `quiet_s` and nothing left in the bot's outbox), or `wait_s` passed; the
    calls accepted since `first_post`."""
    connector, posts, start = setup.connector.base_url, [], time.monotonic()
    next_post, last_seen = first_post, start
    while True:
        answer = get_json(f"{connector}/posts?from={next_post}")
        next_post = answer["next"]
        fresh = [p for p in answer["posts"] if p["text"].startswith(CONFIRMATION)]
        posts += answer["posts"]
        now = time.monotonic()
        if fresh:
            last_seen = now
            outcome.confirmations += len(fresh)
            outcome.confirmed += sum(entries(p["text"]) for p in fresh)
            outcome.last_confirmation_s = max(p["t"] for p in fresh) - sent.ended
        if outcome.confirmed >= outcome.notes_sent:
            outcome.settled = True
            break
        if now - last_seen >= settings.quiet_s and not undelivered(setup.database):
            outcome.settled = True
            break
        if now - start >= settings.wait_s:
            outcome.note(f"confirmations still coming after {settings.wait_s:g} s "
                         f"({undelivered(setup.database)} messages in the bot's outbox)")
            break
        time.sleep(POLL_S)
    outcome.waited_s = time.monotonic() - start
    return posts


def undelivered(database: Database) -> int:
    """Messages the bot still means to send (its outbox rows not yet sent or failed)."""
    try:
        return int(database.scalar(
            "SELECT count(*) FROM outbox_message WHERE status IN ('pending', 'sending')"))
    except Exception:  # noqa: BLE001 - an outbox of another shape: rely on quiet alone
        return 0


def timeline_notes(database: Database, thread_id: str) -> int | None:
    """The `note` events on the timeline of the incident whose thread this is."""
    quoted = thread_id.replace("'", "''")
    try:
        return int(database.scalar(
            "SELECT count(*) FROM timeline_event WHERE kind = 'note' AND incident_id = "
            f"(SELECT id FROM incident WHERE thread_id = '{quoted}')"))
    except Exception:  # noqa: BLE001 - report "unknown" rather than fail the run
        return None


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"
