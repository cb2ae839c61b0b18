"""The Markdown the bench prints and saves: the `help` section (medians per server, ratios,
per-round detail) and the frame of RESULTS.md that holds every scenario's section.

Throughput is only meaningful as a ratio against the bare floor measured in the same
run, so the ratios (and the target) are part of the report, not left to the reader.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.databases import scalar_on_postgres
from bench.measurement import RoundResult

TARGET = 0.5  # the bot answering `help` should keep at least half the bare throughput


@dataclass
class ServerRounds:
    """Every round of one server, plus anything odd seen outside the numbers."""

    name: str
    rounds: list[RoundResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def requests_per_s(self) -> float:
        return statistics.median(r.load.requests_per_s for r in self.rounds)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r.load.p50_ms for r in self.rounds)

    @property
    def p99_ms(self) -> float:
        return statistics.median(r.load.p99_ms for r in self.rounds)

    @property
    def errors(self) -> int:
        return sum(r.load.errors for r in self.rounds)

    def replies_cell(self) -> str:
        replies = sum(r.replies for r in self.rounds)
        ok = sum(r.load.ok_total for r in self.rounds)
        verdict = "ok" if all(r.replies_complete for r in self.rounds) else "MISSING"
        return f"{replies:,} / {ok:,} answered ({verdict})"


@dataclass
class RunSettings:
    """How the `help` rounds were run; printed with the results so they can be compared."""

    concurrency: int
    duration: float
    warmup: float
    rounds: int


def summary_table(servers: list[ServerRounds]) -> str:
    """Medians of the rounds; errors and replies are totals over all rounds."""
    lines = ["| server | req/s | p50 ms | p99 ms | errors | replies seen |",
             "|---|---:|---:|---:|---:|---|"]
    for s in servers:
        if not s.rounds:
            lines.append(f"| {s.name} | - | - | - | - | not measured |")
            continue
        lines.append(f"| {s.name} | {s.requests_per_s:,.0f} | {s.p50_ms:.1f} | "
                     f"{s.p99_ms:.1f} | {s.errors:,} | {s.replies_cell()} |")
    return "\n".join(lines)


def ratio_lines(servers: list[ServerRounds]) -> list[str]:
    """Throughput ratios between the servers that were measured, and the target verdict."""
    rps = {s.name: s.requests_per_s for s in servers if s.rounds}

    def ratio(a: str, b: str) -> float | None:
        return rps[a] / rps[b] if a in rps and b in rps and rps[b] > 0 else None

    lines = []
    for a, b in (("bot", "bare"), ("stock", "bare"), ("bot", "stock")):
        value = ratio(a, b)
        lines.append(f"- {a}/{b} throughput: {'n/a' if value is None else f'{value:.3f}'}")
    value = ratio("bot", "bare")
    verdict = "n/a" if value is None else ("MET" if value >= TARGET else "NOT MET")
    lines.append(f'- target "bot help >= {TARGET} x bare": {verdict}')
    return lines


def rounds_table(servers: list[ServerRounds]) -> str:
    """Every round, in the order it ran, so a noisy round is visible."""
    lines = ["| round | server | req/s | p50 ms | p99 ms | errors | replies / answered "
             "| server CPU µs/req | load gen CPU |",
             "|---:|---|---:|---:|---:|---:|---|---:|---:|"]
    count = max((len(s.rounds) for s in servers), default=0)
    for index in range(count):
        for s in servers:
            if index < len(s.rounds):
                r = s.rounds[index]
                lines.append(f"| {index + 1} | {s.name} | {r.load.requests_per_s:,.0f} | "
                             f"{r.load.p50_ms:.1f} | {r.load.p99_ms:.1f} | {r.load.errors} | "
                             f"{r.replies:,} / {r.load.ok_total:,} | "
                             f"{r.server_cpu_us_per_request:,.0f} | {r.load_cpu_share:.0%} |")
    return "\n".join(lines)


def results_markdown(servers: list[ServerRounds]) -> str:
    """The summary table and ratios (what stdout shows)."""
    return "\n".join([summary_table(servers), "", *ratio_lines(servers)])


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "?"


def _memory_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def _postgres_version() -> str:
    try:
        version = scalar_on_postgres("SHOW server_version")
    except Exception as exc:  # noqa: BLE001 - any failure: say so in the report
        return f"not reachable ({type(exc).__name__})"
    return f"PostgreSQL {version}"


def environment_lines(*, took_s: float | None = None,
                      load_at_start: tuple[float, ...] | None = None) -> list[str]:
    """Where (and how fast) the numbers were taken, and how busy the machine was."""
    def loads(values: tuple[float, ...]) -> str:
        return ", ".join(f"{value:.1f}" for value in values)
    lines = [
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- machine: {platform.machine()}, {_cpu_model()}, nproc {len(os.sched_getaffinity(0))}, "
        f"{_memory_gb():.0f} GB RAM, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{_postgres_version()} (on the same machine, over loopback)",
        f"- load average (1, 5, 15 min) when the report was written: {loads(os.getloadavg())}"
        + (f"; at the start: {loads(load_at_start)}" if load_at_start else ""),
        "- a load average above the core count means other work shared the machine: compare "
        "the ratios to the baselines measured in the same rounds, not absolute times",
    ]
    if took_s is not None:
        lines.append(f"- the whole run took {took_s:.0f} s")
    return lines


def notes_lines(servers: list[ServerRounds]) -> list[str]:
    return [f"- {s.name}: {note}" for s in servers for note in s.notes]


def help_section(servers: list[ServerRounds], run: RunSettings) -> list[str]:
    """The `help` section of RESULTS.md: load, summary, ratios, rounds, notes."""
    parts = ["## Throughput answering `help` (`--scenario help`)", "",
             f"- load: `@incident help`, {run.concurrency} concurrent senders, closed loop, "
             f"{run.duration:g} s measured after {run.warmup:g} s warm-up, {run.rounds} "
             "interleaved rounds (median)", "",
             "Medians of the rounds; errors (non-2xx or failed requests, warm-up included) "
             "and replies are totals over all rounds. Replies are counted on the fake "
             "connector and must be at least the number of answered requests.", "",
             results_markdown(servers), "", "### Rounds", "",
             "Server CPU is the server process's CPU time over the whole load run divided "
             "by the requests it answered. A load generator near 100% of a core is what "
             "limits the fastest server: its figure is then a lower bound of the floor.", "",
             rounds_table(servers)]
    notes = notes_lines(servers)
    if notes:
        parts += ["", "### Notes", "", *notes]
    return parts


def write_results(path: Path, sections: list[list[str]], *, verdicts: list[str] | None = None,
                  took_s: float | None = None,
                  load_at_start: tuple[float, ...] | None = None) -> None:
    """RESULTS.md: where the numbers were taken, the targets' verdicts, then each scenario's
    section that ran."""
    parts = ["# Benchmark results", "",
             *environment_lines(took_s=took_s, load_at_start=load_at_start)]
    if verdicts:
        parts += ["", "## Targets", "", *verdicts]
    for section in sections:
        parts += ["", *section]
    path.write_text("\n".join(parts) + "\n")
