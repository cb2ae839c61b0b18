"""`python -m bench.pir_render`: how long the PIR draft takes to render as events grow.

Renders one incident with 0, 100, 1,000 and 10,000 timeline events (every other section
filled as in a busy incident) as Markdown and as HTML, and prints the median of several
runs per size. Absolute times depend on the machine, so the table ends with the ratio of
10,000 events over 100: linear rendering gives about 100, a quadratic one about 10,000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable

from bot.incidents.pir_record import ActionLine, EventLine, HandoverLine, PirRecord
from bot.web.review_html import render_html
from bot.web.review_markdown import render_markdown

SIZES = (0, 100, 1_000, 10_000)
DECLARED = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
KINDS = ("note", "update", "role_requested", "role_accepted", "hypothesis", "severity",
         "checkin_sent", "commandeered", "task")
TEXTS = ("Error rate back to 0.2 % after the rollback",
         "Dashboard: https://grafana.example.com/d/checkout?from=now-1h&to=now",
         "Ana asked Bo to take Commander | pager said <b>SEV1</b>",
         "# Hypothesis: the `cache` kept stale *prices* [again](javascript:x)")


def incident(events: int) -> PirRecord:
    """A busy incident with `events` timeline events, 9 s apart."""
    timeline = tuple(EventLine(DECLARED + dt.timedelta(seconds=9 * i), KINDS[i % len(KINDS)],
                               ("Ana", "Bo", None)[i % 3], f"{TEXTS[i % len(TEXTS)]} ({i})")
                     for i in range(events))
    end = DECLARED + dt.timedelta(seconds=9 * max(events, 1))
    return PirRecord(
        number=7, title="Checkout errors", severity=1, status="resolved", declared_at=DECLARED,
        declared_by="Ana", timezone="Europe/Berlin", description="Checkout returned 500s.",
        mitigated_at=DECLARED + dt.timedelta(minutes=65), resolved_at=end,
        investigator="Ana", commander="Bo",
        handovers=(HandoverLine(DECLARED, "commander", "Bo", "Ana", "accepted", DECLARED),),
        timeline=timeline, notes=timeline[::10], updates=timeline[1::25],
        actions=(ActionLine(1, "Expire cache on deploy", "Ana", "open",
                            "https://github.com/example/shop/issues/12"),),
    )


def median_ms(render: Callable[[PirRecord], str], record: PirRecord, repeats: int) -> float:
    """The median wall time of `repeats` renders, after one warm-up."""
    render(record)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        render(record)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def report(repeats: int) -> str:
    """The Markdown table: one row per size, then the 10k/100 ratios."""
    lines = [f"PIR render, median of {repeats} runs",
             "", "| events | markdown ms | html ms | markdown KB | html KB |",
             "|---:|---:|---:|---:|---:|"]
    medians: dict[int, tuple[float, float]] = {}
    for size in SIZES:
        record = incident(size)
        medians[size] = (median_ms(render_markdown, record, repeats),
                         median_ms(render_html, record, repeats))
        kb = (len(render_markdown(record)) / 1024, len(render_html(record)) / 1024)
        lines.append(f"| {size:,} | {medians[size][0]:.2f} | {medians[size][1]:.2f} "
                     f"| {kb[0]:,.0f} | {kb[1]:,.0f} |")
    ratio = [medians[10_000][i] / medians[100][i] for i in (0, 1)]
    lines += ["", (f"- ratio 10,000/100 events: markdown {ratio[0]:.0f}x, "
                   f"html {ratio[1]:.0f}x (linear is about 100x)")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pir_render", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per size")
    print(report(parser.parse_args(argv).repeats))


if __name__ == "__main__":
    main()
