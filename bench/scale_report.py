"""The `scale` section of the report: each command's time on the grown database against
the small one at every stage, the grown bot's memory, and the verdicts of issue 9."""

from __future__ import annotations

from bench.scale_scenario import COMMANDS, SCALE_COMMANDS, EngineScale, ScaleSettings

MAX_RATIO = 2.0  # list, status and the review within 2x of the small database
MAX_RSS_MB = 200.0
TARGET_STAGE = "10k"  # 10,000 incidents and 1,000,000 timeline events
GROWTH_FROM, GROWTH_TO = "1k", "100k"
MAX_GROWTH = 2.0  # 100x the incidents may cost at most 2x: flat or logarithmic


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:,.2f}"


def stages_table(result: EngineScale) -> str:
    """One row per stage: sizes, seeding time, grown p50 (and x small) per command, memory."""
    head = " | ".join(f"{c} ms (x small)" for c in COMMANDS)
    lines = [f"| stage | incidents | timeline events | seeded in s | {head} | grown RSS / peak MB |",
             "|---|---:|---:|---:|" + "---:|" * len(COMMANDS) + "---:|"]
    for stage in result.stages:
        cells = " | ".join(f"{_ms(stage.p50(c, 'grown'))} (x{stage.ratio(c):.2f})"
                           + (f", {stage.errors(c)} errors" if stage.errors(c) else "")
                           for c in COMMANDS)
        lines.append(f"| {stage.stage} | {stage.incidents:,} | {stage.events:,} | "
                     f"{stage.seed_s:.1f} | {cells} | {stage.rss_mb.get('grown', 0):.0f} / "
                     f"{stage.hwm_mb.get('grown', 0):.0f} |")
    return "\n".join(lines)


def verdict_lines(result: EngineScale) -> list[str]:
    by_name = {s.stage: s for s in result.stages}
    lines = []
    target = by_name.get(TARGET_STAGE)
    if target is not None:
        for command in SCALE_COMMANDS:
            ratio = target.ratio(command)
            verdict = "MET" if ratio <= MAX_RATIO and not target.errors(command) else "MISSED"
            lines.append(f"- {result.engine}: `{command}` with {target.incidents:,} incidents and "
                         f"{target.events:,} events within {MAX_RATIO:g}x of the small database: "
                         f"{verdict} (x{ratio:.2f}: {target.p50(command, 'grown'):.2f} ms vs "
                         f"{target.p50(command, 'small'):.2f} ms)")
    if result.stages:
        peak = max(s.hwm_mb.get("grown", 0.0) for s in result.stages)
        verdict = "MET" if peak < MAX_RSS_MB else "MISSED"
        lines.append(f"- {result.engine}: grown bot's resident memory < {MAX_RSS_MB:.0f} MB: "
                     f"{verdict} (peak {peak:.0f} MB over all stages)")
    low, high = by_name.get(GROWTH_FROM), by_name.get(GROWTH_TO)
    if low is not None and high is not None:
        for command in COMMANDS:
            growth = high.p50(command, "grown") / low.p50(command, "grown")
            verdict = "flat or logarithmic" if growth <= MAX_GROWTH else "GROWS"
            lines.append(f"- {result.engine}: `{command}` from {low.incidents:,} to "
                         f"{high.incidents:,} incidents: x{growth:.2f} ({verdict}; grown/small "
                         f"x{low.ratio(command):.2f} -> x{high.ratio(command):.2f})")
    return lines


def scale_markdown(results: list[EngineScale]) -> str:
    parts = []
    for result in results:
        if result.stages:
            parts += [f"**{result.engine}**", "", stages_table(result), "",
                      *verdict_lines(result), ""]
    return "\n".join(parts)


def scale_section(results: list[EngineScale], settings: ScaleSettings) -> list[str]:
    parts = ["## Scale and cost growth (`--scenario scale`)", "",
             "- two bots per engine: *small* holds the working set (100 open incidents, 100 "
             "timeline events each); *grown* holds the same plus closed incidents, each with "
             "its timeline, an answered role request and a commandeered helper, seeded in "
             "bulk between stages (1k: 100 events each; 10k: 100 each, 1M events in all; "
             "100k: the next 90k without events)",
             f"- each command: one sender, closed loop, {settings.duration:g} s (at least 6 "
             f"answers) after {settings.warmup:g} s warm-up, on both bots, {settings.rounds} "
             "interleaved rounds; figures are the median p50 of the HTTP answer on *grown*, "
             "and in brackets grown / small",
             "- `list` and `status INC-m` answer with a card; `pir` is `GET` of the signed "
             "review page (HTML) of an incident with 100 events; `note INC-m` and `declare` "
             "write; memory is VmRSS / VmHWM of the grown bot from /proc after the stage",
             "", scale_markdown(results)]
    notes = [f"- {r.engine}: {n}" for r in results for n in r.notes]
    if notes:
        parts += ["### Notes", "", *notes]
    return parts
