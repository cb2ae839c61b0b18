"""Scenario `scale`: do commands stay as fast when the database holds years of incidents?

Two bots run side by side on each engine: `small` keeps only the working set (100 open
incidents with 100 timeline events each) and `grown` has the same working set plus a
growing history of closed incidents, each with its timeline, an answered role request and
a commandeered helper. The history grows in stages (1k, 10k incidents with 1M events in
all, then 100k incidents), bulk-seeded between measurements; at every stage each command
runs on both bots in interleaved rounds (one sender, closed loop), so `grown / small` is
the cost of the history with the machine's drift divided out. The grown bot's resident
memory is read from /proc after each stage.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import seed
from bench.console import problem_summary, say
from bench.databases import POSTGRES, Database, Scratch, postgres_problem
from bench.load import Job, LoadResult
from bench.measurement import quiesce, run_job
from bench.message import DECLARE_TEXT, INCIDENT_THREAD, LIST_TEXT, NEW_THREAD, NOTE_TEXT, SPREAD, STATUS_TEXT
from bench.processes import Children, StartError
from bench.servers import Server, start_bot, start_connector, start_load_server, wait_started

WORKING_SET_EVENTS = 100  # per open incident of the working set
REVIEWED = 1  # the incident whose review page is loaded (100 events)
SIZES = ("small", "grown")
COMMANDS = {"list": LIST_TEXT, "status": STATUS_TEXT, "pir": "", "note": NOTE_TEXT,
            "declare": DECLARE_TEXT}
SCALE_COMMANDS = ("list", "status", "pir")  # issue 9's "within 2x" commands


@dataclass(frozen=True)
class Stage:
    """The grown database after seeding incidents `first..last` with `events` each."""

    name: str
    first: int
    last: int
    events: int


STAGES = (
    Stage("empty", 0, 0, 0),
    Stage("1k", SPREAD + 1, 1_000, 100),
    Stage("10k", 1_001, 10_000, 100),
    Stage("100k", 10_001, 100_000, 0),
)


@dataclass
class ScaleSettings:
    duration: float
    warmup: float
    rounds: int
    engines: tuple[str, ...]
    stages: tuple[str, ...]


@dataclass
class StageResult:
    """One stage on one engine: the runs per (command, size), the seeding time, memory."""

    stage: str
    incidents: int = 0
    events: int = 0
    seed_s: float = 0.0
    runs: dict[tuple[str, str], list[LoadResult]] = field(default_factory=dict)
    rss_mb: dict[str, float] = field(default_factory=dict)  # VmRSS by size
    hwm_mb: dict[str, float] = field(default_factory=dict)  # VmHWM (peak) by size

    def p50(self, command: str, size: str) -> float:
        values = [r.p50_ms for r in self.runs.get((command, size), []) if r.measured]
        return statistics.median(values) if values else float("nan")

    def errors(self, command: str) -> int:
        return sum(r.errors for size in SIZES for r in self.runs.get((command, size), []))

    def ratio(self, command: str) -> float:
        return self.p50(command, "grown") / self.p50(command, "small")


@dataclass
class EngineScale:
    engine: str
    stages: list[StageResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)
        say(f"scale ({self.engine}): {text}")


def memory_mb(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, from /proc, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return int(fields["VmRSS"][0]) / 1024, int(fields["VmHWM"][0]) / 1024


@dataclass
class Prepared:
    """The scenario's bots, started (not yet ready) and their databases, per engine."""

    results: list[EngineScale]
    started: list[tuple[EngineScale, dict[str, Database], dict[str, Server]]]


def start_scale_bots(children: Children, scratch: Scratch, *, work_dir: Path,
                     settings: ScaleSettings) -> Prepared:
    """Start every engine's two bots at once, without waiting: start-up is mostly waiting
    (imports, migrations), so the bench may start them while it measures something else."""
    results, started = [], []
    for engine in settings.engines:
        result = EngineScale(engine)
        results.append(result)
        if engine == POSTGRES and (why := postgres_problem()):
            result.note(f"left out: {why}")
            continue
        databases = {size: scratch.create(engine, f"scale-{size}") for size in SIZES}
        bots = {size: start_bot(f"bot-scale-{engine}-{size}", children, work_dir=work_dir,
                                database_url=databases[size].url, wait=False)
                for size in SIZES}
        started.append((result, databases, bots))
    return Prepared(results, started)


def run_scale(children: Children, prepared: Prepared, *,
              settings: ScaleSettings) -> list[EngineScale]:
    """Measure one engine after the other, each engine's bots stopped when it is done."""
    connector = start_connector(children, "connector-scale")
    load = start_load_server(children)
    for result, databases, bots in prepared.started:
        try:
            for bot in bots.values():
                wait_started(bot)
        except StartError as exc:
            result.note(f"a bot did not start: {str(exc).splitlines()[0]}")
            continue
        run_engine(result, databases, bots, connector=connector, load=load,
                   settings=settings)
        for size, bot in bots.items():
            if problems := problem_summary(bot.child):
                result.note(f"{size} bot: {problems}")
            children.stop(bot.child)
    children.stop(load.child)
    children.stop(connector.child)
    return prepared.results


def run_engine(result: EngineScale, databases: dict[str, Database], bots: dict[str, Server],
               *, connector: Server, load: Server, settings: ScaleSettings) -> None:
    """Seed the working set into both databases, then grow one stage by stage."""
    service_url = f"{connector.base_url}/"
    for database in databases.values():
        database.execute(seed.incidents(database, first=1, last=SPREAD, service_url=service_url,
                                        open_=True, events_each=WORKING_SET_EVENTS)
                         + seed.finish(database))
        seed.analyze(database)
    for stage in STAGES:
        if stage.name not in settings.stages:
            continue
        say(f"scale ({result.engine}): stage {stage.name} ...")
        outcome = StageResult(stage.name)
        result.stages.append(outcome)
        if stage.last:
            started = time.monotonic()
            grow(databases["grown"], stage, service_url=service_url)
            outcome.seed_s = time.monotonic() - started
        grown = databases["grown"]
        outcome.incidents = int(grown.scalar("SELECT count(*) FROM incident"))
        outcome.events = int(grown.scalar("SELECT count(*) FROM timeline_event"))
        say(f"  {outcome.incidents:,} incidents, {outcome.events:,} events "
            f"(seeded in {outcome.seed_s:.1f} s)")
        measure_stage(outcome, bots, load, connector, settings=settings)
        for size, bot in bots.items():
            outcome.rss_mb[size], outcome.hwm_mb[size] = memory_mb(bot.child.pid)


def grow(database: Database, stage: Stage, *, service_url: str) -> None:
    """Add the stage's closed incidents (and their timelines and history) in bulk."""
    database.execute(
        seed.incidents(database, first=stage.first, last=stage.last, service_url=service_url,
                       open_=False, events_each=stage.events)
        + seed.history(database, first=stage.first, last=stage.last)
        + seed.finish(database))
    seed.analyze(database)


def measure_stage(outcome: StageResult, bots: dict[str, Server], load: Server,
                  connector: Server, *, settings: ScaleSettings) -> None:
    """Every command on both bots, interleaved, `rounds` times."""
    expires = int(time.time()) + 3600
    for _ in range(settings.rounds):
        for command, text in COMMANDS.items():
            for size, bot in bots.items():
                job = Job(url=bot.messages_url, service_url=f"{connector.base_url}/",
                          concurrency=1, duration=settings.duration, warmup=settings.warmup,
                          text=text, replies=command != "pir",
                          conversation_id=INCIDENT_THREAD if command == "note" else NEW_THREAD,
                          min_samples=6, max_window=3 * settings.duration)
                if command == "pir":
                    job = Job(url=bot.base_url + seed.review_path(REVIEWED, expires=expires),
                              service_url=f"{connector.base_url}/", concurrency=1,
                              duration=settings.duration, warmup=settings.warmup, get=True,
                              expect="Seeded event", min_samples=6,
                              max_window=3 * settings.duration)
                result = run_job(load, job)
                outcome.runs.setdefault((command, size), []).append(result)
                for sample in result.error_samples[:1]:
                    say(f"  {command} on {size}: error sample {sample[:200]}")
            if command == "declare":
                quiesce(connector, limit_s=1.0)
    for command in COMMANDS:
        say(f"  {command:8} p50 small {outcome.p50(command, 'small'):7.2f} ms, grown "
            f"{outcome.p50(command, 'grown'):7.2f} ms, x{outcome.ratio(command):.2f}")
