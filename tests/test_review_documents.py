"""The PIR draft as Markdown and HTML: complete, in order, in two timezones, and safe from
whatever people typed during the incident."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from html.parser import HTMLParser

from bot.incidents.pir_record import (
    ActionLine,
    CommandeerLine,
    EventLine,
    HandoverLine,
    HypothesisLine,
    PirRecord,
)
from bot.web.review_html import render_html
from bot.web.review_markdown import render_markdown

DECLARED = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
HOSTILE = "<script>alert(1)</script> # heading | pipe | [x](javascript:x) ](javascript:x)"
WRITTEN_PROMPTS = ("Not written yet. What, underneath, made this happen?",
                   "Not written yet. What else made it likelier",
                   "Not written yet. What helped us notice",
                   "Not written yet. Where did we lose time")


def at(hours: int, minutes: int) -> dt.datetime:
    return DECLARED.replace(hour=hours, minute=minutes)


# (time, kind, actor, text): the whole incident, in order.
EVENTS = (
    (at(9, 0), "declared", "Ana", "Declared by Ana: checkout errors"),
    (at(9, 5), "severity", "Ana", "Severity changed from SEV3 to SEV2 by Ana"),
    (at(9, 10), "role_requested", "Ana", "Ana asked Bo to take Commander"),
    (at(9, 12), "role_accepted", "Bo", "Bo accepted Commander"),
    (at(9, 15), "hypothesis", "Ana", "Hypothesis 1 stale cache"),
    (at(9, 20), "note", "Ana", "Graph spike at https://grafana.example.com/d/abc?from=1&to=2"),
    (at(9, 30), "role_requested", "Bo", "Bo asked Cy to take Investigator"),
    (at(9, 32), "role_declined", "Cy", "Cy declined Investigator"),
    (at(9, 40), "hypothesis_settled", "Ana", "Hypothesis 1 confirmed"),
    (at(9, 45), "update", "Bo", "Checkout failing for a third of users"),
    (at(9, 50), "commandeered", "Bo", "Bo commandeered Dee"),
    (at(9, 55), "commandeer_answer", "Dee", "Dee is joining"),
    (at(10, 0), "severity", "Bo", "Severity changed from SEV2 to SEV1 by Bo"),
    (at(10, 5), "mitigated", "Ana", "Mitigated by Ana"),
    (at(11, 30), "resolved", "Ana", "Resolved by Ana"),
    (at(23, 30), "closed", None, "Closed"),
)


def incident(**changes: object) -> PirRecord:
    """INC-7 as the review sees it: every kind of line, and the written sections empty."""
    timeline = tuple(EventLine(when, kind, actor, text) for when, kind, actor, text in EVENTS)
    record = PirRecord(
        number=7, title="Checkout errors", severity=1, status="closed", declared_at=DECLARED,
        declared_by="Ana", timezone="Europe/Berlin",
        description="Checkout returned 500s.\nPayments were not taken.",
        impact="A third of checkouts failed.", affected="checkout, payments",
        mitigated_at=at(10, 5), resolved_at=at(11, 30), closed_at=at(23, 30),
        due_at=DECLARED + dt.timedelta(days=1), investigator="Ana", commander="Bo",
        assistants=("Eve",), room_url="https://meet.example.com/inc-7",
        severity_history=((at(9, 0), 3), (at(9, 5), 2), (at(10, 0), 1)),
        handovers=(
            HandoverLine(at(9, 10), "commander", "Bo", "Ana", "accepted", at(9, 12)),
            HandoverLine(at(9, 30), "investigator", "Cy", "Ana", "declined", at(9, 32),
                         reason="on call for payments"),
        ),
        timeline=timeline,
        hypotheses=(
            HypothesisLine(1, "stale cache", "confirmed", "Ana", at(9, 15), at(9, 40)),
            HypothesisLine(2, "bad deploy", "disproved", "Bo", at(9, 16), at(9, 41)),
            HypothesisLine(3, "DNS", "open", "Eve", at(9, 17), None),
        ),
        notes=(timeline[5],),
        updates=(timeline[9],),
        commandeered=(CommandeerLine("Dee", "knows the cache", "Bo", at(9, 50), "joining",
                                     at(9, 55)),),
        actions=(
            ActionLine(1, "Expire cache on deploy", "Ana", "open",
                       "https://github.com/example/shop/issues/12"),
            ActionLine(2, "Alert on checkout 500s", None, "open", None),
        ),
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


def section(document: str, start: str, end: str) -> str:
    return document[document.index(start) : document.index(end)]


def many_events(count: int) -> tuple[EventLine, ...]:
    kinds = ("note", "role_requested", "hypothesis", "update", "severity", "checkin_sent")
    return tuple(EventLine(DECLARED + dt.timedelta(seconds=9 * i), kinds[i % len(kinds)],
                           "Ana" if i % 2 else None, f"Event {i}: see https://x.example/{i}")
                 for i in range(count))


def test_markdown_lists_every_event_in_order_in_utc_and_local_time() -> None:
    timeline = section(render_markdown(incident()), "## Timeline", "## Hypotheses")

    assert "| UTC | Europe/Berlin | Kind | Who | What |" in timeline
    assert "| 2026-11-27 09:12 | 2026-11-27 10:12 | role\\_accepted | Bo | Bo accepted Commander |" \
        in timeline
    # After 23:00 UTC Berlin is already on the next day.
    assert "| 2026-11-27 23:30 | 2026-11-28 00:30 | closed | bot | Closed |" in timeline
    positions = [timeline.index(f"| {text.split(' https')[0]}") for _, _, _, text in EVENTS]
    assert positions == sorted(positions)


def test_html_lists_every_event_in_order_in_utc_and_local_time() -> None:
    page = render_html(incident())
    table = section(page, '<table class="events">', "</table>")

    assert "<th>UTC</th><th>Europe/Berlin</th>" in table
    assert ("<tr><td>2026-11-27 09:12</td><td>2026-11-27 10:12</td>"
            '<td class="k c-roles">role_accepted</td><td>Bo</td><td>Bo accepted Commander</td>'
            in table)
    positions = [table.index(f"<td>{text.split(' https')[0]}") for _, _, _, text in EVENTS]
    assert positions == sorted(positions)


def test_events_recorded_out_of_order_are_shown_in_time_order() -> None:
    record = incident()
    shuffled = incident(timeline=record.timeline[::-1])

    assert render_markdown(shuffled) == render_markdown(record)
    assert render_html(shuffled) == render_html(record)


def test_metrics_are_measured_from_the_declaration() -> None:
    for document in (render_markdown(incident()), render_html(incident())):
        metrics = section(document, "Metrics", "Roles and handovers")
        assert "Time to mitigate:" in metrics and "1 h 05 min" in metrics
        assert "Time to resolve:" in metrics and "2 h 30 min" in metrics
        assert "14 h 30 min" in metrics


def test_metrics_not_reached_yet_are_not_available() -> None:
    open_incident = incident(status="investigating", mitigated_at=None, resolved_at=None,
                             closed_at=None)

    metrics = section(render_markdown(open_incident), "## Metrics", "## Roles")

    assert metrics.count(" n/a") == 3


def test_summary_shows_severity_history_and_times_in_both_zones() -> None:
    markdown = render_markdown(incident())

    assert ("**Severity:** SEV1; history: SEV3 at 2026-11-27 09:00 UTC (10:00 Europe/Berlin); "
            "SEV2 at 2026-11-27 09:05 UTC (10:05 Europe/Berlin); SEV1 at") in markdown
    assert "**Closed:** 2026-11-27 23:30 UTC (2026-11-28 00:30 Europe/Berlin)" in markdown
    assert "**PIR due:** 2026-11-28 09:00 UTC (10:00 Europe/Berlin)" in markdown


def test_both_handovers_show_how_they_ended() -> None:
    markdown = render_markdown(incident())

    assert ("2026-11-27 09:10 UTC (10:10 Europe/Berlin): **Commander** to Bo from Ana — "
            "accepted at 2026-11-27 09:12 UTC (10:12 Europe/Berlin)") in markdown
    assert ("**Investigator** to Cy from Ana — declined at 2026-11-27 09:32 UTC "
            "(10:32 Europe/Berlin). Reason: on call for payments") in markdown


def test_hypotheses_commandeered_and_actions_are_listed() -> None:
    markdown = render_markdown(incident())

    assert "**H1** stale cache — confirmed at 2026-11-27 09:40 UTC" in markdown
    assert "**H2** bad deploy — disproved at" in markdown
    assert "**H3** DNS — open; raised by Eve" in markdown
    assert ("**Dee** — why: knows the cache; asked by Bo at 2026-11-27 09:50 UTC "
            "(10:50 Europe/Berlin); answer: joining at 2026-11-27 09:55 UTC") in markdown
    assert ("**A1** Expire cache on deploy — owner: Ana; status: open; tracked at: "
            "<https://github.com/example/shop/issues/12>") in markdown
    assert "**A2** Alert on checkout 500s — owner: nobody yet" in markdown


def test_urls_in_notes_become_links() -> None:
    url = "https://grafana.example.com/d/abc?from=1&to=2"

    assert f"Graph spike at <{url}>" in render_markdown(incident())
    page = render_html(incident())
    escaped = url.replace("&", "&amp;")
    assert f'Graph spike at <a href="{escaped}" rel="noopener noreferrer">{escaped}</a>' in page
    assert '<a href="https://github.com/example/shop/issues/12"' in page


def test_empty_written_sections_show_prompts() -> None:
    for document in (render_markdown(incident()), render_html(incident())):
        for prompt in WRITTEN_PROMPTS:
            assert prompt in document
    assert "_Not written yet. What, underneath, made this happen?" in render_markdown(incident())


def test_written_sections_show_their_text_and_paragraphs() -> None:
    record = incident(root_cause="The cache kept old prices.\n\nNobody expired it.",
                      went_well="Fast page.")

    markdown, page = render_markdown(record), render_html(record)

    assert "## Root cause\n\nThe cache kept old prices.\n\nNobody expired it.\n" in markdown
    assert "<p>The cache kept old prices.</p>\n<p>Nobody expired it.</p>" in page
    assert "Fast page." in markdown and "Fast page." in page
    assert WRITTEN_PROMPTS[0] not in markdown and WRITTEN_PROMPTS[2] not in page


def hostile_incident() -> PirRecord:
    record = incident()
    event = EventLine(at(9, 21), "note", HOSTILE, HOSTILE)
    return dataclasses.replace(
        record, title=HOSTILE, description=f"{HOSTILE}\n# heading\n1. list\n---",
        timeline=(*record.timeline, event), notes=(event,), root_cause=f"# heading\n{HOSTILE}",
        actions=(ActionLine(1, HOSTILE, HOSTILE, "open", "javascript:alert(1)"),),
        room_url="javascript:alert(1)", assistants=(HOSTILE,))


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


def test_hostile_text_is_escaped_in_html() -> None:
    page = render_html(hostile_incident())
    parsed = Tags()
    parsed.feed(page)

    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script" not in parsed.tags
    assert parsed.hrefs and all(href.startswith("https://") for href in parsed.hrefs)
    assert "javascript:alert(1)" in page  # shown as text, never as a link


def unescaped(markdown: str, characters: str) -> list[str]:
    """Each occurrence of `characters` not escaped by a backslash, with what follows it."""
    return [markdown[m.start() : m.start() + 8]
            for m in re.finditer(rf"\\.|[{re.escape(characters)}]", markdown)
            if not m.group().startswith("\\")]


def test_hostile_text_makes_no_markdown_heading_link_or_html() -> None:
    markdown = render_markdown(hostile_incident())

    headings = [line for line in markdown.splitlines() if line.lstrip().startswith("#")]
    assert headings[0] == "# PIR: INC-7 " + HOSTILE.translate(
        {ord(c): "\\" + c for c in "<>#|[]"})
    assert all(re.fullmatch(r"#{2,3} [A-Z][A-Za-z -]+", line) for line in headings[1:])
    assert unescaped(markdown, "[]") == []
    assert all(token.startswith("<https:") for token in unescaped(markdown, "<"))
    assert "<javascript" not in markdown and "\\](javascript:x)" in markdown
    assert "\n1\\. list" in markdown and "\n\\---" in markdown


def test_hostile_text_keeps_markdown_table_columns() -> None:
    markdown = render_markdown(hostile_incident())
    rows = [line for line in markdown.splitlines() if line.startswith("| 2026-")]

    assert len(rows) == len(EVENTS) + 1
    assert all(len(unescaped(row, "|")) == 6 for row in rows)


def test_svg_timeline_has_markers_and_a_tick_per_event() -> None:
    page = render_html(incident())
    svg = section(page, "<svg", "</svg>")

    assert page.count("<svg") == 1
    assert svg.count('<g class="marker">') == 4
    for label in ("Declared 09:00 UTC", "Mitigated 10:05 UTC", "Resolved 11:30 UTC",
                  "Closed 23:30 UTC"):
        assert label in svg
    ticks = re.findall(r'<line [^>]*stroke-width="2"><title>([^<]*)</title>', svg)
    assert len(ticks) == len(EVENTS)
    assert ticks[3].startswith("2026-11-27 09:12 UTC · 2026-11-27 10:12 Europe/Berlin")


def test_ten_thousand_events_render_with_a_bounded_svg() -> None:
    record = incident(timeline=many_events(10_000), closed_at=None, resolved_at=None)

    markdown, page = render_markdown(record), render_html(record)

    assert sum(line.startswith("| 2026-") for line in markdown.splitlines()) == 10_000
    assert page.count("<tr><td>2026-") == 10_000
    shapes = sum(page.count(tag) for tag in ("<rect", "<circle", "<line"))
    assert 0 < page.count("<rect") <= 500 and shapes < 2_000
    assert "events from 2026-11-27 09:00 UTC" in page


def test_unknown_timezone_falls_back_to_utc() -> None:
    record = incident(timezone="Mars/Olympus_Mons")

    markdown, page = render_markdown(record), render_html(record)

    assert "UTC (the timezone 'Mars/Olympus\\_Mons' is unknown)" in markdown
    assert "| 2026-11-27 09:12 | 2026-11-27 09:12 | role\\_accepted |" in markdown
    assert "<th>UTC</th><th>UTC</th>" in page


def test_an_empty_incident_renders() -> None:
    record = incident(timeline=(), handovers=(), hypotheses=(), notes=(), updates=(),
                      commandeered=(), actions=(), mitigated_at=None, resolved_at=None,
                      closed_at=None, description=None, impact=None, affected=None)

    markdown, page = render_markdown(record), render_html(record)

    assert "_No events recorded._" in markdown and "No events recorded." in page
    assert "_No handovers._" in markdown and "None yet. Follow-up actions" in page
    assert '<g class="marker">' in page
