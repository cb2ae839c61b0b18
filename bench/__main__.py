"""`python -m bench`: every scenario (or the one chosen with --scenario), measured in one run.

Scenarios:
  commands           help, note, declare and a card action at 1, 20 and 100 senders on
                     SQLite and PostgreSQL, beside the bare aiohttp floor and the stock SDK
                     echo (help) and the minimal durable note (note): throughput, ack and
                     reply latency; rounds interleaved. With CAPTURE_CONVERSATION on, also
                     messages without mention: chat in an incident's thread (stored, not
                     answered; its ack beside note's) and chatter elsewhere (dropped;
                     beside help)
  scale              list, status, the review page, note and declare on a database growing
                     to 100k incidents and 1M timeline events, against a small one; memory
  declare-slow-zoom  declare load on a bot whose Zoom takes 3 s per meeting, and on the
                     Jitsi baseline: does the HTTP ack stay fast? (ack p50/p99, rooms made)
  pir-render         rendering one review with 0 to 10,000 timeline events (no database)
  burst              a busy incident under Teams' rate limits: 120 notes from 20 people in
                     6 s and a status update, on one SQLite bot and on two PostgreSQL
                     replicas (429s, calls per note, when the update and confirmations show)
  help               the older throughput-only `help` comparison (bare, stock, bot)
  all                everything but `help` (the default), within 5 minutes

Servers, fakes and load generator are separate processes on loopback. The summary goes
to stdout and to bench/RESULTS.md (one section per scenario run); progress and problems
to stderr; each process's log is kept in bench/results/last-run/. PostgreSQL is reached
through BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test), where the
bench creates scratch databases and drops them at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from bench import pir_render
from bench.burst_report import burst_markdown, burst_section
from bench.burst_report import target_lines as burst_verdicts
from bench.burst_scenario import BurstSettings, run_burst, start_burst_servers
from bench.command_report import commands_markdown, commands_section, target_lines
from bench.command_scenario import CommandSettings, run_commands
from bench.console import say
from bench.databases import ENGINES, scratch_databases
from bench.declare_report import declare_markdown, declare_section
from bench.declare_report import ratio_lines as declare_verdicts
from bench.declare_scenario import DeclareSettings, run_declare, start_declare_servers
from bench.help_scenario import run_help
from bench.processes import Children
from bench.report import RunSettings, help_section, results_markdown, write_results
from bench.scale_report import scale_markdown, scale_section, verdict_lines
from bench.scale_scenario import STAGES, ScaleSettings, run_scale, start_scale_bots
from bench.servers import SERVERS

BENCH_DIR = Path(__file__).resolve().parent
LOG_DIR = BENCH_DIR / "results" / "last-run"
SCENARIOS = ("commands", "scale", "declare-slow-zoom", "pir-render", "burst", "help", "all")
ALL = ("commands", "scale", "declare-slow-zoom", "pir-render", "burst")
BUDGET_S = 300


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=SCENARIOS, nargs="+", default=["all"],
                        help="which scenarios to run (default: all)")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS.md",
                        help="where to write the Markdown report")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES),
                        help="databases for the bots (default: both)")
    commands = parser.add_argument_group("commands scenario")
    commands.add_argument("--senders", type=int, nargs="+", default=[1, 20, 100],
                          help="concurrent senders per cell")
    commands.add_argument("--cell-duration", type=float, default=0.4,
                          help="measured seconds per cell (longer until 15 answers, max 1 s)")
    commands.add_argument("--cell-warmup", type=float, default=0.2,
                          help="unmeasured seconds first (and until every sender had an answer)")
    commands.add_argument("--cell-rounds", type=int, default=3, help="rounds (median)")
    commands.add_argument("--role-requests", type=int, default=6000,
                          help="role requests seeded per bot for the card-action load")
    scale = parser.add_argument_group("scale scenario")
    scale.add_argument("--scale-duration", type=float, default=0.15,
                       help="measured seconds per command and bot (at least 6 answers)")
    scale.add_argument("--scale-rounds", type=int, default=3, help="rounds (median)")
    scale.add_argument("--stages", nargs="+", choices=[s.name for s in STAGES],
                       default=[s.name for s in STAGES if s.name != "empty"],
                       help="database sizes to measure (default: 1k 10k 100k; `empty` adds "
                            "a check that both bots measure alike before any history)")
    help_group = parser.add_argument_group("help scenario")
    help_group.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    help_group.add_argument("--warmup", type=float, default=2.0,
                            help="unmeasured seconds first")
    help_group.add_argument("--concurrency", type=int, default=20, help="concurrent senders")
    help_group.add_argument("--rounds", type=int, default=3, help="rounds per server (median)")
    help_group.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS),
                            help="which servers to measure (default: all)")
    declare = parser.add_argument_group("declare-slow-zoom scenario")
    declare.add_argument("--declare-concurrency", type=int, default=5,
                         help="concurrent senders declaring incidents")
    declare.add_argument("--declare-duration", type=float, default=2.0,
                         help="measured seconds per bot")
    declare.add_argument("--declare-warmup", type=float, default=0.5,
                         help="unmeasured seconds first")
    declare.add_argument("--zoom-delay", type=float, default=3.0,
                         help="seconds the fake Zoom takes per meeting")
    declare.add_argument("--room-wait", type=float, default=5.0,
                         help="longest wait for the rooms after each bot's load")
    burst = parser.add_argument_group("burst scenario")
    burst.add_argument("--burst-notes", type=int, default=120, help="notes in the burst")
    burst.add_argument("--burst-spread", type=float, default=6.0,
                       help="seconds the notes are spread over")
    burst.add_argument("--burst-wait", type=float, default=90.0,
                       help="longest wait for confirmations after the burst")
    args = parser.parse_args(argv)
    if "all" in args.scenario:
        args.scenario = list(ALL)
    return args


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into SystemExit so the `with Children` block stops every child.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    started, load_at_start = time.monotonic(), os.getloadavg()
    sections: list[list[str]] = []
    summaries: list[str] = []
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="incident-bench-") as work, \
            Children(LOG_DIR) as children, scratch_databases(Path(work)) as scratch:
        work_dir = Path(work)
        scale = ScaleSettings(duration=args.scale_duration, warmup=0.05,
                              rounds=args.scale_rounds, engines=tuple(args.engines),
                              stages=tuple(args.stages))
        declare = DeclareSettings(
            concurrency=args.declare_concurrency, duration=args.declare_duration,
            warmup=args.declare_warmup, zoom_delay=args.zoom_delay, room_wait=args.room_wait)
        # Bots of the later scenarios start now and are ready by the time they are needed.
        if "scale" in args.scenario:
            prepared = start_scale_bots(children, scratch, work_dir=work_dir, settings=scale)
        if "declare-slow-zoom" in args.scenario:
            declare_servers = start_declare_servers(children, work_dir=work_dir,
                                                    settings=declare)
        burst = BurstSettings(notes=args.burst_notes, spread_s=args.burst_spread,
                              update_after=args.burst_notes // 2, wait_s=args.burst_wait,
                              engines=tuple(args.engines))
        if "burst" in args.scenario:
            burst_setups = start_burst_servers(children, scratch, work_dir=work_dir,
                                               settings=burst)
        if "commands" in args.scenario:
            began = time.monotonic()
            settings = CommandSettings(
                concurrencies=tuple(args.senders), duration=args.cell_duration,
                warmup=args.cell_warmup, rounds=args.cell_rounds, engines=tuple(args.engines),
                role_requests=args.role_requests)
            results = run_commands(children, scratch, work_dir=work_dir, settings=settings)
            sections.append(commands_section(results))
            sections[-1].append(f"\n_this scenario took {time.monotonic() - began:.0f} s_")
            summaries.append(commands_markdown(results))
            verdicts += target_lines(results)
        if "scale" in args.scenario:
            began = time.monotonic()
            engines = run_scale(children, prepared, settings=scale)
            sections.append(scale_section(engines, scale))
            sections[-1].append(f"\n_this scenario took {time.monotonic() - began:.0f} s_")
            summaries.append(scale_markdown(engines))
            verdicts += [line for result in engines for line in verdict_lines(result)]
        if "declare-slow-zoom" in args.scenario:
            began = time.monotonic()
            variants = run_declare(children, declare_servers, declare)
            sections.append(declare_section(variants, declare))
            sections[-1].append(f"\n_this scenario took {time.monotonic() - began:.0f} s_")
            summaries.append(declare_markdown(variants))
            verdicts += [line for line in declare_verdicts(variants) if "claim" in line]
        if "pir-render" in args.scenario:
            say("pir-render: rendering reviews of 0 to 10,000 events ...")
            table = pir_render.report(repeats=9)
            sections.append(["## Rendering a Post Incident Review (`--scenario pir-render`)", "",
                             "Median of 9 renders of a record with N timeline events, in the "
                             "bench process (pure rendering: the record is built once; the "
                             "`scale` scenario times the page with its database reads).", "",
                             table])
            summaries.append(table)
        if "burst" in args.scenario:
            began = time.monotonic()
            outcomes = run_burst(children, *burst_setups, settings=burst)
            sections.append(burst_section(outcomes, burst))
            sections[-1].append(f"\n_this scenario took {time.monotonic() - began:.0f} s_")
            summaries.append(burst_markdown(outcomes))
            verdicts += burst_verdicts(outcomes)
        if "help" in args.scenario:
            began = time.monotonic()
            run = RunSettings(concurrency=args.concurrency, duration=args.duration,
                              warmup=args.warmup, rounds=args.rounds)
            names = [name for name in SERVERS if name in args.servers]
            servers = run_help(names, children, work_dir=work_dir, settings=run)
            sections.append(help_section(servers, run))
            sections[-1].append(f"\n_this scenario took {time.monotonic() - began:.0f} s_")
            summaries.append(results_markdown(servers))
    took = time.monotonic() - started
    verdicts.insert(0, f"- the whole run within {BUDGET_S} s: {'MET' if took < BUDGET_S else 'MISSED'} "
                       f"({took:.0f} s)")
    print("\n\n".join(["## Targets", "\n".join(verdicts), *summaries]))
    write_results(args.results, sections, verdicts=verdicts, took_s=took,
                  load_at_start=load_at_start)
    say(f"\nwrote {args.results} after {took:.0f} s; process logs in {LOG_DIR}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted; every child process was stopped")
        sys.exit(130)
