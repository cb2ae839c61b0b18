"""Scenario `commands`: four commands and two kinds of conversation at 1, 20 and 100
senders, on SQLite and PostgreSQL, beside the bare aiohttp floor and the stock SDK echo
(answering `help`) and the minimal durable note (`bench.durable_note`, answering `note`)
measured in the same rounds.

Commands: `help` (no database), `note` (one transaction and a reply, spread over 100 open
incidents), `declare` (incident, thread, card, room job; Jitsi, so no outside call) and
an `adaptiveCard/action` accepting a role request (one seeded request per press).

Conversation (the bots run with `CAPTURE_CONVERSATION=true`, docs/conversation-capture.md):
`chat`, a message without the bot's @mention (no mention entity, no `<at>`) said in a
seeded incident's thread (its conversation and `replyToId`, spread over the same 100
incidents as `note`), which the bot stores as a chat entry and a timeline event in one
transaction and never answers; and `chatter`, a new top-level post without mention
elsewhere in the channel, which the bot drops unread (no transaction, no answer). Their
ack is their only latency; after each of their cells the bench counts the chat entries
and timeline events the cell added and the connector calls it caused, and notes any
departure (`chat`: one entry and one event per ack; `chatter`: none; neither: no call).
The setting leaves the commands as they were: they carry the mention, so the bot runs
them on the same path; only the seeded incidents' timelines also hold the chat of the
earlier rounds (as incidents do where conversation is captured).

Each cell runs once per round; rounds are interleaved (every server and command at 1
sender, then at 20, then at 100, then the next round), so drift on a shared machine hits
all alike. The ack is the HTTP answer; the reply is the bot's post reaching the connector
(for a card action: the announcement in the incident's thread).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from bench import seed
from bench.console import problem_summary, say
from bench.databases import POSTGRES, Database, Scratch, postgres_problem
from bench.load import Job, LoadResult
from bench.measurement import probe, quiesce, run_job
from bench.message import (
    ACCEPT,
    CHANNEL_POST,
    CHAT_TEXT,
    CHATTER_TEXT,
    DECLARE_TEXT,
    HELP_TEXT,
    INCIDENT_THREAD,
    NEW_THREAD,
    NOTE_TEXT,
    SEEDED_CARD,
    SEEDED_THREAD,
    SPREAD,
)
from bench.processes import Children, StartError, get_json
from bench.servers import (
    DURABLE,
    Server,
    start_bot,
    start_connector,
    start_load_server,
    start_server,
    wait_started,
)

COMMANDS = {"help": HELP_TEXT, "note": NOTE_TEXT, "declare": DECLARE_TEXT, "accept": ACCEPT,
            "chat": CHAT_TEXT, "chatter": CHATTER_TEXT}
# Said without the bot's mention: never answered, so only the ack is timed.
UNANSWERED = ("chat", "chatter")
# Where each message is said (conversation, replyToId); the rest start a thread each.
PLACES = {"note": (INCIDENT_THREAD, ""), "chat": (SEEDED_THREAD, SEEDED_CARD),
          "chatter": (CHANNEL_POST, "")}
# The command each conversation is compared with: the same work without the mention.
COMPARED = {"chatter": "help", "chat": "note"}
CAPTURE = {"CAPTURE_CONVERSATION": "true"}
# The baselines and the command each answers: the bare aiohttp floor and the stock SDK
# echo answer `help`; the minimal durable note answers `note` beside the bot's.
BASELINES = {"bare": "help", "stock": "help", DURABLE: "note"}
FIRST_REQUEST = 1001  # seeded role requests (and their incidents) start at this id
# A card action answers with the refreshed card; anything else (an error message) is wrong.
ACCEPTED = "application/vnd.microsoft.card.adaptive"
BACKGROUND = ("declare", "accept")  # leave outbox work behind: wait for it between cells


@dataclass
class CommandSettings:
    """How hard and how long each cell runs."""

    concurrencies: tuple[int, ...]
    duration: float
    warmup: float
    rounds: int
    engines: tuple[str, ...]
    role_requests: int  # seeded per bot for the card-action load
    min_samples: int = 15  # a slow cell measures longer, until it has this many answers
    max_window: float = 1.0  # but never longer than this


@dataclass
class Cell:
    """One server running one command at one concurrency, over the rounds."""

    server: str  # bare, stock, durable, sqlite, postgres
    command: str
    concurrency: int
    runs: list[LoadResult] = field(default_factory=list)

    def median(self, name: str) -> float:
        values = [getattr(r, name) for r in self.runs]
        values = [v for v in values if v == v]  # NaN: no replies timed in that run
        return statistics.median(values) if values else float("nan")

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)

    @property
    def missing(self) -> int:
        return sum(r.replies_missing for r in self.runs)


@dataclass
class Kept:
    """What the cells of one conversation kind left behind, summed over the rounds."""

    acks: int = 0  # messages answered 2xx
    entries: int = 0  # chat_entry rows added
    events: int = 0  # timeline_event rows added
    calls: int = 0  # replies, thread creations and card updates reaching the connector


@dataclass
class CommandResults:
    settings: CommandSettings
    cells: dict[tuple[str, str, int], Cell] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    kept: dict[tuple[str, str, int], Kept] = field(default_factory=dict)

    def cell(self, server: str, command: str, concurrency: int) -> Cell:
        key = (server, command, concurrency)
        if key not in self.cells:
            self.cells[key] = Cell(server, command, concurrency)
        return self.cells[key]

    def note(self, text: str) -> None:
        self.notes.append(text)
        say(f"commands: {text}")


@dataclass
class Bot:
    engine: str
    server: Server
    database: Database
    next_request: int = FIRST_REQUEST
    last_request: int = 0


def start_bots(children: Children, scratch: Scratch, results: CommandResults, *,
               work_dir: Path, connector: Server) -> list[Bot]:
    """One bot per engine, each on a fresh database seeded for `note` and `accept`."""
    pending = []
    for engine in results.settings.engines:
        if engine == POSTGRES and (why := postgres_problem()):
            results.note(f"PostgreSQL left out: {why}")
            continue
        database = scratch.create(engine, "commands")
        server = start_bot(f"bot-{engine}", children, work_dir=work_dir,
                           database_url=database.url, wait=False, extra_env=CAPTURE)
        pending.append(Bot(engine, server, database))
    bots = []
    for bot in pending:
        try:
            wait_started(bot.server)
        except StartError as exc:
            results.note(f"{bot.engine} bot did not start: {str(exc).splitlines()[0]}")
            continue
        bot.last_request = FIRST_REQUEST + results.settings.role_requests - 1
        service_url = f"{connector.base_url}/"
        bot.database.execute(
            seed.incidents(bot.database, first=1, last=SPREAD, service_url=service_url,
                           open_=True, events_each=10)
            + seed.role_requests(bot.database, first=FIRST_REQUEST, last=bot.last_request,
                                 service_url=service_url)
            + seed.finish(bot.database))
        seed.analyze(bot.database)
        bots.append(bot)
    return bots


def run_commands(children: Children, scratch: Scratch, *, work_dir: Path,
                 settings: CommandSettings) -> CommandResults:
    """Start everything, probe each server once, then run the interleaved rounds."""
    results = CommandResults(settings)
    connector = start_connector(children, "connector-commands")
    load = start_load_server(children)
    baselines = {}
    for name in BASELINES:
        say(f"commands: starting {name} ...")
        baselines[name] = start_server(name, children, work_dir=work_dir)
    say("commands: starting the bots and seeding their databases ...")
    bots = start_bots(children, scratch, results, work_dir=work_dir, connector=connector)
    for server in [*baselines.values(), *(b.server for b in bots)]:
        answer = probe(server, connector)
        if not answer.ok:
            results.note(f"{server.name}: probe answered HTTP {answer.status} "
                         f"{answer.body!r} with {answer.replies} replies")
    for index in range(settings.rounds):
        for concurrency in settings.concurrencies:
            say(f"commands: round {index + 1}/{settings.rounds}, {concurrency} senders ...")
            for name, server in baselines.items():
                measure_cell(results, load, connector, server, name, BASELINES[name],
                             concurrency)
            for bot in bots:
                for command in COMMANDS:
                    measure_bot(results, load, connector, bot, command, concurrency)
    for server in [*baselines.values(), *(b.server for b in bots)]:
        if problems := problem_summary(server.child):
            results.note(f"{server.name}: {problems}")
        children.stop(server.child)
    children.stop(load.child)
    children.stop(connector.child)
    return results


def measure_bot(results: CommandResults, load: Server, connector: Server, bot: Bot,
                command: str, concurrency: int) -> None:
    """One cell of one bot; a card action uses role requests nobody has answered yet."""
    first = 0
    if command == "accept":
        first = bot.next_request
        if first > bot.last_request:
            results.note(f"{bot.engine}: no unanswered role requests left for accept "
                         f"at {concurrency} senders")
            return
    before = _footprint(bot, connector) if command in UNANSWERED else None
    result = measure_cell(results, load, connector, bot.server, bot.engine, command,
                          concurrency, first=first)
    if before is not None:
        _account(results, bot, connector, command, concurrency, result, before)
    if command == "accept":
        bot.next_request += result.sent
        if bot.next_request > bot.last_request + 1:
            results.note(f"{bot.engine}: accept at {concurrency} senders ran out of seeded "
                         f"role requests (raise --role-requests)")
    if command in BACKGROUND:
        quiesce(connector, limit_s=1.5)


def _footprint(bot: Bot, connector: Server) -> tuple[int, int, int]:
    """Chat entries, timeline events, and connector calls so far."""
    seen = get_json(f"{connector.base_url}/count")
    calls = int(seen["replies"]) + int(seen["conversations"]) + int(seen["updates"])
    return (int(bot.database.scalar("SELECT count(*) FROM chat_entry")),
            int(bot.database.scalar("SELECT count(*) FROM timeline_event")), calls)


def _account(results: CommandResults, bot: Bot, connector: Server, command: str,
             concurrency: int, result: LoadResult, before: tuple[int, int, int]) -> None:
    """File what a `chat` or `chatter` cell stored and caused; note what it should not."""
    entries, events, calls = (after - was for after, was in
                              zip(_footprint(bot, connector), before, strict=True))
    kept = results.kept.setdefault((bot.engine, command, concurrency), Kept())
    kept.acks += result.ok_total
    kept.entries += entries
    kept.events += events
    kept.calls += calls
    stored = result.ok_total if command == "chat" else 0
    if entries != stored or events != stored or calls:
        results.note(f"{bot.engine} {command} x{concurrency}: {result.ok_total} acked, "
                     f"{entries} chat entries and {events} timeline events added (expected "
                     f"{stored} of each), {calls} connector calls (expected none)")


def measure_cell(results: CommandResults, load: Server, connector: Server, server: Server,
                 name: str, command: str, concurrency: int, *, first: int = 0) -> LoadResult:
    """Run one load and file it under (name, command, concurrency)."""
    settings = results.settings
    if not server.child.alive():
        gone = f"{name}: exited with {server.child.popen.returncode}; its later cells are empty"
        if gone not in results.notes:
            results.note(gone)
        return LoadResult(requests_per_s=0.0, p50_ms=float("nan"), p99_ms=float("nan"),
                          errors=0, ok_total=0, measured=0, cpu_s=0.0, wall_s=0.0,
                          error_samples=[])
    conversation_id, reply_to_id = PLACES.get(command, (NEW_THREAD, ""))
    job = Job(url=server.messages_url, service_url=f"{connector.base_url}/",
              concurrency=concurrency, duration=settings.duration, warmup=settings.warmup,
              text=COMMANDS[command], first=first, replies=command not in UNANSWERED,
              expect=ACCEPTED if command == "accept" else "",
              conversation_id=conversation_id, reply_to_id=reply_to_id,
              mention=command not in UNANSWERED,
              min_samples=settings.min_samples, max_window=settings.max_window)
    result = run_job(load, job)
    if not server.child.alive():  # it died under this load: the figures are not its own
        return measure_cell(results, load, connector, server, name, command, concurrency)
    results.cell(name, command, concurrency).runs.append(result)
    say(f"  {name:8} {command:8} {concurrency:3}: {result.requests_per_s:8,.0f}/s ack p50 "
        f"{result.p50_ms:6.1f} p99 {result.p99_ms:6.1f} ms, reply p50 {result.reply_p50_ms:6.1f} "
        f"p99 {result.reply_p99_ms:6.1f} ms, {result.errors} errors, "
        f"{result.replies_missing} replies missing{' (saturated)' if result.saturated else ''}")
    for sample in result.error_samples[:2]:
        results.note(f"{name} {command} x{concurrency} error sample: {sample[:200]}")
    return result
