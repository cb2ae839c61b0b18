"""The `declare-slow-zoom` section of the report: ack latency with a slow Zoom vs Jitsi.

The claim is about the HTTP ack Teams waits for, so the verdict compares ack p99 against
the Jitsi baseline of the same run (the absolute 1 s ceiling is shown beside it); the room counts are
shown beside it because a fast ack that never yields a room would prove nothing.
"""

from __future__ import annotations

from bench.declare_scenario import JITSI, SLOW_ZOOM, DeclareSettings, Variant, seconds

MAX_P99_RATIO = 1.5
MAX_P99_MS = 1000.0


def variants_table(variants: list[Variant]) -> str:
    """One row per bot: the ack figures, then what the background work produced."""
    lines = ["| bot | video | declares/s | ack p50 ms | ack p99 ms | errors | declared "
             "| threads | rooms | Zoom meetings | probe: ack / thread / room | server CPU µs/req |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for v in variants:
        probe = (f"{v.probe.ack_ms:.0f} ms / {seconds(v.probe.thread_s)} / "
                 f"{seconds(v.probe.room_s)}" if v.probe else "-")
        if v.round is None or v.after_load is None:
            lines.append(f"| {v.name} | {v.video} | - | - | - | - | - | - | - | - | {probe} | - |")
            continue
        load, seen = v.round.load, v.after_load
        meetings = f"{seen.zoom_meetings:,}" if v.name == SLOW_ZOOM else "-"
        lines.append(f"| {v.name} | {v.video} | {load.requests_per_s:,.1f} | {load.p50_ms:.1f} "
                     f"| {load.p99_ms:.1f} | {load.errors:,} | {load.ok_total:,} "
                     f"| {seen.threads:,} | {seen.room_posts:,} | {meetings} | {probe} "
                     f"| {v.round.server_cpu_us_per_request:,.0f} |")
    return "\n".join(lines)


def ratio_lines(variants: list[Variant]) -> list[str]:
    """p50, p99 and throughput of the slow-Zoom bot over the Jitsi baseline, and the verdict."""
    by_name = {v.name: v.round.load for v in variants if v.round is not None}
    zoom, jitsi = by_name.get(SLOW_ZOOM), by_name.get(JITSI)
    if zoom is None or jitsi is None:
        return ["- ratios: n/a (a bot was not measured)",
                '- claim "declare ack stays fast with a slow Zoom": n/a']
    p50, p99 = zoom.p50_ms / jitsi.p50_ms, zoom.p99_ms / jitsi.p99_ms
    throughput = zoom.requests_per_s / jitsi.requests_per_s
    met = p99 <= MAX_P99_RATIO and zoom.errors == 0
    return [f"- ack p50 {SLOW_ZOOM}/{JITSI}: {p50:.2f}",
            f"- ack p99 {SLOW_ZOOM}/{JITSI}: {p99:.2f}",
            f"- throughput {SLOW_ZOOM}/{JITSI}: {throughput:.2f}",
            f'- claim "declare ack unaffected by a {SLOW_ZOOM} video provider: ack p99 <= '
            f'{MAX_P99_RATIO} x Jitsi in the same run, no errors": {"MET" if met else "MISSED"} '
            f"(x{p99:.2f}: {zoom.p99_ms:.0f} ms vs {jitsi.p99_ms:.0f} ms; absolute p99 "
            f"{'under' if zoom.p99_ms < MAX_P99_MS else 'OVER'} {MAX_P99_MS:.0f} ms)"]


def room_lines(variants: list[Variant]) -> list[str]:
    """How many rooms the background work had made when the bench stopped waiting."""
    lines = []
    for v in variants:
        if v.rooms is None or v.after_load is None:
            continue
        state = "stopped growing" if v.rooms.settled else "still growing at the limit"
        in_flight = (f", {v.zoom_in_flight} meeting requests in flight"
                     if v.name == SLOW_ZOOM else "")
        rate = v.rooms.value / v.since_load_s if v.since_load_s else 0.0
        lines.append(f"- {v.name}: {v.rooms.value:,} rooms for {v.declared:,} incidents declared "
                     f"under load, {v.after_load.threads:,} threads, after waiting "
                     f"{v.rooms.waited_s:.0f} s ({state}{in_flight}); {rate:.2f} rooms/s "
                     f"over the {v.since_load_s:.0f} s since the load began")
    return lines


def declare_markdown(variants: list[Variant]) -> str:
    """The table and ratios (what stdout shows)."""
    return "\n".join([variants_table(variants), "", *ratio_lines(variants), *room_lines(variants)])


def declare_section(variants: list[Variant], settings: DeclareSettings) -> list[str]:
    """The whole section for RESULTS.md."""
    parts = ["## Declare with a slow video provider (`--scenario declare-slow-zoom`)", "",
             f"- load: `@incident declare bench incident <n>`, {settings.concurrency} concurrent "
             f"senders, closed loop, {settings.duration:g} s measured after {settings.warmup:g} s "
             f"warm-up, one run per bot, each bot on a fresh SQLite file",
             f"- {SLOW_ZOOM}: rooms from a fake Zoom that takes {settings.zoom_delay:g} s per "
             f"meeting (VIDEO_TIMEOUT_SECONDS=10); {JITSI}: no video settings (Jitsi link, no "
             "network call)",
             f"- after the load the bench waits (at most {settings.room_wait:g} s) until the room "
             "count stops growing; *declared* counts every 2xx ack, warm-up included; *threads* "
             "and *rooms* (thread posts announcing the room) are counted on the fake connector, "
             "*Zoom meetings* on the fake Zoom; the probe is one declare at rest, before the load",
             "", declare_markdown(variants)]
    notes = [f"- {v.name}: {text}" for v in variants for text in v.notes]
    if notes:
        parts += ["", "### Notes", "", *notes]
    return parts
