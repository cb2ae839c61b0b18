"""The `burst` section of the report: what a busy incident cost in Bot Connector calls under
Teams' rate limits, and what its people saw when; the verdicts of issue 16 (outcome 5)."""

from __future__ import annotations

from bench.burst_scenario import BurstSettings, Outcome, seconds

MAX_CALLS_PER_NOTE = 0.25
MAX_UPDATE_S = 2.0
MAX_LAST_CONFIRMATION_S = 15.0


def _verdict(met: bool) -> str:
    return "MET" if met else "MISSED"


def calls_per_note(outcome: Outcome) -> float:
    return outcome.accepted / outcome.notes_sent if outcome.notes_sent else float("nan")


def outcomes_table(outcomes: list[Outcome]) -> str:
    """One row per setup: calls, 429s, the two latencies, confirmations and the record."""
    lines = ["| bot | notes sent / acked | calls after the burst began: accepted / 429 "
             "| calls per note | update visible after | last confirmation after the burst "
             "| confirmations (notes confirmed) | notes on the timeline | waited |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for o in outcomes:
        if not o.notes_sent:
            lines.append(f"| {o.name} | - | - | - | - | - | - | - | - |")
            continue
        timeline = "?" if o.timeline_notes is None else f"{o.timeline_notes}"
        waited = f"{o.waited_s:.0f} s" + ("" if o.settled else " (limit)")
        lines.append(f"| {o.name} | {o.notes_sent} / {o.acks_ok} | {o.accepted} / {o.refused} "
                     f"| {calls_per_note(o):.2f} | {seconds(o.update_visible_s)} "
                     f"| {seconds(o.last_confirmation_s)} | {o.confirmations} ({o.confirmed}) "
                     f"| {timeline} / {o.notes_sent} | {waited} |")
    return "\n".join(lines)


def target_lines(outcomes: list[Outcome]) -> list[str]:
    """Each target the scenario measures, met or missed, with its figure: all of them for
    the single bot, the 429s for the replicas."""
    lines = []
    for o in outcomes:
        if not o.notes_sent:
            continue
        label = f"burst ({o.name})"
        lines.append(f"- {label}: 0 responses 429: {_verdict(o.refused == 0)} ({o.refused})")
        if o.replicas > 1:
            continue
        ratio = calls_per_note(o)
        lines.append(f"- {label}: at most {MAX_CALLS_PER_NOTE:g} Bot Connector calls per note: "
                     f"{_verdict(ratio <= MAX_CALLS_PER_NOTE)} ({ratio:.2f}: {o.accepted} "
                     f"accepted calls for {o.notes_sent} notes)")
        visible = o.update_visible_s
        lines.append(f"- {label}: status update visible within {MAX_UPDATE_S:g} s of being "
                     f"sent: {_verdict(visible is not None and visible <= MAX_UPDATE_S)} "
                     f"({seconds(visible)})")
        on_timeline = o.timeline_notes or 0
        lines.append(f"- {label}: every note on the timeline: "
                     f"{_verdict(on_timeline >= o.notes_sent)} ({on_timeline} / {o.notes_sent})")
        last, complete = o.last_confirmation_s, o.confirmed >= o.notes_sent
        within = complete and last is not None and last <= MAX_LAST_CONFIRMATION_S
        missing = "" if complete else f"; {o.notes_sent - o.confirmed} notes never confirmed"
        lines.append(f"- {label}: last confirmation within {MAX_LAST_CONFIRMATION_S:g} s after "
                     f"the burst ends: {_verdict(within)} ({seconds(last)}{missing})")
    return lines


def burst_markdown(outcomes: list[Outcome]) -> str:
    return "\n".join([outcomes_table(outcomes), "", *target_lines(outcomes)])


def burst_section(outcomes: list[Outcome], settings: BurstSettings) -> list[str]:
    s = settings
    parts = ["## A busy incident under Teams' rate limits (`--scenario burst`)", "",
             f"- one SEV1 declared in a channel; once its thread exists, {s.responders} "
             f"responders post {s.notes} `note`s into it (replies to its card) evenly over "
             f"{s.spread_s:g} s, and after the {s.update_after}th the Investigator posts an "
             "`update`; senders do not wait for acks",
             "- the fake connector enforces Teams' published bot limits "
             "(https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/rate-limit): "
             "per channel 7 calls in 1 s, 8 in 2 s, 60 in 30 s, 1,800 in an hour; 50 a second "
             "per tenant; past them 429 with Retry-After, the refused call not counted",
             "- *calls*: Bot Connector calls from the first note on (thread posts, card "
             "updates); *update visible*: from sending `update` to the thread post with its "
             "text; *last confirmation*: from sending the last note to the last post starting "
             f"\"Noted\" (a merged one confirms several notes); the bench waits until every "
             f"note is confirmed, or none came for {s.quiet_s:g} s with the bot's outbox "
             f"empty, for at most {s.wait_s:g} s; *timeline*: `note` events of the incident "
             "in the bot's database",
             "- setups: one bot on SQLite; two replicas sharing one PostgreSQL database, notes "
             "alternating between them; each setup has its own fake connector, and the setups "
             "run side by side", "", burst_markdown(outcomes)]
    notes = [f"- {o.name}: {text}" for o in outcomes for text in o.notes]
    if notes:
        parts += ["", "### Notes", "", *notes]
    return parts
