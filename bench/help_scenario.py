"""Scenario `help`: the bare floor, the stock SDK echo and our bot answering `help`.

Rounds are interleaved (bare, stock, bot, bare, ...) so drift on the machine hits all
alike; the bot's throughput is only meaningful as a ratio of the bare floor of this run.
"""

from __future__ import annotations

from pathlib import Path

from bench.console import problem_lines, say
from bench.measurement import measure, probe
from bench.processes import Child, Children, StartError
from bench.report import RunSettings, ServerRounds
from bench.servers import Server, start_connector, start_server


def run_help(names: list[str], children: Children, *, work_dir: Path,
             settings: RunSettings) -> list[ServerRounds]:
    """Start everything, probe each server once, then run the interleaved rounds."""
    connector = start_connector(children)
    results = {name: ServerRounds(name) for name in names}
    running = start_servers(names, children, work_dir=work_dir, results=results)
    for name, server in running.items():
        check_probe(server, connector, results[name])
    for index in range(settings.rounds):
        for name, server in running.items():
            say(f"round {index + 1}/{settings.rounds}: {name} ...")
            run_round(server, connector, children, results[name], settings=settings)
    for name, server in running.items():
        scan_log(server.child, results[name])
    for server in [*running.values(), connector]:
        children.stop(server.child)  # the next scenario gets the machine to itself
    return list(results.values())


def run_round(server: Server, connector: Server, children: Children, rounds: ServerRounds,
              *, settings: RunSettings) -> None:
    """Measure `server` once and add the result (or why there is none) to `rounds`."""
    if not server.child.alive():
        note(rounds, f"exited with {server.child.popen.returncode}", server.child)
        return
    result = measure(server, connector, children, concurrency=settings.concurrency,
                     duration=settings.duration, warmup=settings.warmup)
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
    problems = problem_lines(child)
    if problems:
        note(rounds, f"{len(problems)} error-looking log lines, first: {problems[0][:200]!r}")


def note(rounds: ServerRounds, text: str, child: Child | None = None) -> None:
    """Record a problem for the report; print the server's log tail with it."""
    rounds.notes.append(text)
    say(f"{rounds.name}: {text}")
    if child is not None:
        say(child.log_tail())
