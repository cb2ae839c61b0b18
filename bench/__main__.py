"""`python -m bench`: every scenario (or the one chosen with --scenario), measured in one run.

Scenarios:
  help               the bare floor, the stock SDK echo and our bot answering `help`
                     (throughput; rounds interleaved bare, stock, bot, bare, ...)
  declare-slow-zoom  declare load on a bot whose Zoom takes 3 s per meeting, and on the
                     Jitsi baseline: does the HTTP ack stay fast? (ack p50/p99, rooms made)
  all                both (the default), within about 5 minutes

Servers, fakes and load generator are separate processes on loopback. The summary goes
to stdout and to bench/RESULTS.md (one section per scenario run); progress and problems
to stderr; each process's log is kept in bench/results/last-run/.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from bench.console import say
from bench.declare_report import declare_markdown, declare_section
from bench.declare_scenario import DeclareSettings, run_declare
from bench.help_scenario import run_help
from bench.processes import Children
from bench.report import RunSettings, help_section, results_markdown, write_results
from bench.servers import SERVERS

BENCH_DIR = Path(__file__).resolve().parent
LOG_DIR = BENCH_DIR / "results" / "last-run"
SCENARIOS = ("help", "declare-slow-zoom", "all")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=SCENARIOS, default="all",
                        help="which scenario to run (default: all)")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS.md",
                        help="where to write the Markdown report")
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
    declare.add_argument("--declare-duration", type=float, default=10.0,
                         help="measured seconds per bot")
    declare.add_argument("--declare-warmup", type=float, default=1.0,
                         help="unmeasured seconds first")
    declare.add_argument("--zoom-delay", type=float, default=3.0,
                         help="seconds the fake Zoom takes per meeting")
    declare.add_argument("--room-wait", type=float, default=60.0,
                         help="longest wait for the rooms after each bot's load")
    return parser.parse_args(argv)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into SystemExit so the `with Children` block stops every child.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    sections: list[list[str]] = []
    summaries: list[str] = []
    with tempfile.TemporaryDirectory(prefix="incident-bench-") as work_dir, \
            Children(LOG_DIR) as children:
        if args.scenario in ("help", "all"):
            run = RunSettings(concurrency=args.concurrency, duration=args.duration,
                              warmup=args.warmup, rounds=args.rounds)
            names = [name for name in SERVERS if name in args.servers]
            servers = run_help(names, children, work_dir=Path(work_dir), settings=run)
            sections.append(help_section(servers, run))
            summaries.append(results_markdown(servers))
        if args.scenario in ("declare-slow-zoom", "all"):
            settings = DeclareSettings(
                concurrency=args.declare_concurrency, duration=args.declare_duration,
                warmup=args.declare_warmup, zoom_delay=args.zoom_delay,
                room_wait=args.room_wait)
            variants = run_declare(children, work_dir=Path(work_dir), settings=settings)
            sections.append(declare_section(variants, settings))
            summaries.append(declare_markdown(variants))
    print("\n\n".join(summaries))
    write_results(args.results, sections)
    say(f"\nwrote {args.results}; process logs in {LOG_DIR}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted; every child process was stopped")
        sys.exit(130)
