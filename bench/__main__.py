"""`python -m bench`: the bare floor, the stock SDK echo and our bot, measured in one run.

Servers, fake connector and load generator are separate processes on loopback; rounds
are interleaved (bare, stock, bot, bare, ...) so drift on the machine hits all alike.
The summary goes to stdout and to bench/RESULTS.md; progress and problems to stderr;
each process's log is kept in bench/results/last-run/.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from types import FrameType

from bench.measurement import measure, probe
from bench.processes import Child, Children, StartError
from bench.report import RunSettings, ServerRounds, results_markdown, write_results
from bench.servers import SERVERS, Server, start_connector, start_server

BENCH_DIR = Path(__file__).resolve().parent
LOG_DIR = BENCH_DIR / "results" / "last-run"
PROBLEM_MARKERS = ("Traceback", " ERROR ", " CRITICAL ", "Error:", "Exception")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent senders")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server (median)")
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS),
                        help="which servers to measure (default: all)")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS.md",
                        help="where to write the Markdown report")
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into SystemExit so the `with Children` block stops every child.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    names = [name for name in SERVERS if name in args.servers]
    run = RunSettings(concurrency=args.concurrency, duration=args.duration,
                      warmup=args.warmup, rounds=args.rounds)
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    LOG_DIR.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="incident-bench-") as work_dir, \
            Children(LOG_DIR) as children:
        servers = run_bench(names, children, work_dir=Path(work_dir), args=args)
    print(results_markdown(servers))
    write_results(args.results, servers, run)
    say(f"\nwrote {args.results}; process logs in {LOG_DIR}")
    return 0


def run_bench(names: list[str], children: Children, *, work_dir: Path,
              args: argparse.Namespace) -> list[ServerRounds]:
    """Start everything, probe each server once, then run the interleaved rounds."""
    connector = start_connector(children)
    results = {name: ServerRounds(name) for name in names}
    running = start_servers(names, children, work_dir=work_dir, results=results)
    for name, server in running.items():
        check_probe(server, connector, results[name])
    for index in range(args.rounds):
        for name, server in running.items():
            say(f"round {index + 1}/{args.rounds}: {name} ...")
            run_round(server, connector, children, results[name], args=args)
    for name, server in running.items():
        scan_log(server.child, results[name])
    return list(results.values())


def run_round(server: Server, connector: Server, children: Children, rounds: ServerRounds,
              *, args: argparse.Namespace) -> None:
    """Measure `server` once and add the result (or why there is none) to `rounds`."""
    if not server.child.alive():
        note(rounds, f"exited with {server.child.popen.returncode}", server.child)
        return
    result = measure(server, connector, children, concurrency=args.concurrency,
                     duration=args.duration, warmup=args.warmup)
    rounds.rounds.append(result)
    load = result.load
    say(f"  {load.requests_per_s:,.0f} req/s, p50 {load.p50_ms:.1f} ms, "
        f"p99 {load.p99_ms:.1f} ms, {load.errors} errors, {result.replies:,} replies / "
        f"{load.ok_total:,} answered, server {result.server_cpu_us_per_request:,.0f} µs "
        f"CPU/req, load gen {result.load_cpu_share:.0%} CPU")
    for sample in load.error_samples:
        note(rounds, f"error sample: {sample}")


def start_servers(names: list[str], children: Children, *, work_dir: Path,
                  results: dict[str, ServerRounds]) -> dict[str, Server]:
    """Start each server; one that does not come up is noted and left out."""
    running = {}
    for name in names:
        say(f"starting {name} ...")
        try:
            running[name] = start_server(name, children, work_dir=work_dir)
        except StartError as exc:
            say(str(exc))
            results[name].notes.append(f"did not start: {str(exc).splitlines()[0]}")
    return running


def check_probe(server: Server, connector: Server, rounds: ServerRounds) -> None:
    """One message before the load, so a broken server is reported with its output."""
    result = probe(server, connector)
    say(f"{server.name}: probe answered HTTP {result.status}, {result.replies} reply: "
        f"{result.reply}")
    if not result.ok:
        note(rounds, f"probe answered HTTP {result.status} {result.body!r} with "
             f"{result.replies} replies", server.child)


def scan_log(child: Child, rounds: ServerRounds) -> None:
    """Count error-looking lines in a server's log; the first one goes in the notes."""
    lines = child.log_path.read_text(errors="replace").splitlines()
    problems = [line for line in lines if any(m in line for m in PROBLEM_MARKERS)]
    if problems:
        note(rounds, f"{len(problems)} error-looking log lines, first: {problems[0][:200]!r}")


def note(rounds: ServerRounds, text: str, child: Child | None = None) -> None:
    """Record a problem for the report; print the server's log tail with it."""
    rounds.notes.append(text)
    say(f"{rounds.name}: {text}")
    if child is not None:
        say(child.log_tail())


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("interrupted; every child process was stopped")
        sys.exit(130)
