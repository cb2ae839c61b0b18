"""The Post Incident Review draft, rendered from a `PirRecord` as Markdown or as one HTML page.

Pure functions: no I/O and no clock; every time shown comes from the record, in UTC and in
the record's timezone. Both formats are built from the same sections (`_sections`), so they
say the same things; only the timeline table and the SVG are written per format, for speed.

User text never shapes the document:
* Markdown: user text is placed inline (list items, table cells), its whitespace folded,
  every character Markdown acts on inline backslash-escaped (\\ ` * _ [ ] < > | ~ & # $),
  and a line-leading `-`, `+`, `=` or `1.` neutralised. http(s) URLs become `<autolinks>`,
  whose content Markdown takes literally. The people-written sections keep their paragraphs.
* HTML: every user string goes through `html.escape`; only http(s) URLs become `<a href>`.
"""

from __future__ import annotations

import datetime as dt
import html
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.incidents import severity as sev
from bot.incidents.event_kinds import category_of
from bot.incidents.pir_record import EventLine, PirRecord

UTC = dt.UTC
MAX_SVG_TICKS = 500  # beyond this many events the SVG draws one bar per time bucket

# ---------------------------------------------------------------------------------------
# Times


def _ts(at: dt.datetime) -> float:
    # The store keeps aware UTC datetimes; a naive one is taken as UTC, not as this host's zone.
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def _stamp(d: dt.datetime) -> str:
    # Cheaper than strftime, which matters at 10,000 events.
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}"


def _duration(start: dt.datetime, end: dt.datetime | None) -> str:
    """"1 h 05 min", "7 min", or "n/a" without an end."""
    if end is None:
        return "n/a"
    minutes = max(0, int((_ts(end) - _ts(start)) // 60))
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"


class _Clock:
    """Formats instants to the minute in UTC and in the record's zone, once per minute."""

    def __init__(self, timezone: str) -> None:
        try:
            self.zone: dt.tzinfo = ZoneInfo(timezone)
            self.label, self.known = timezone, True
        except (ZoneInfoNotFoundError, ValueError):
            self.zone, self.label, self.known = UTC, "UTC", False
        self._minutes: dict[int, tuple[str, str]] = {}

    def pair(self, at: dt.datetime) -> tuple[str, str]:
        """("2026-11-27 09:12", "2026-11-27 10:12"): UTC, then local."""
        minute = int(_ts(at) // 60)
        found = self._minutes.get(minute)
        if found is None:
            utc = dt.datetime.fromtimestamp(minute * 60, UTC)
            found = self._minutes[minute] = (_stamp(utc), _stamp(utc.astimezone(self.zone)))
        return found

    def when(self, at: dt.datetime | None, missing: str = "n/a") -> str:
        """"2026-11-27 09:12 UTC (10:12 Europe/Berlin)"; the local date only when it differs."""
        if at is None:
            return missing
        utc, local = self.pair(at)
        if self.label == "UTC":
            return f"{utc} UTC"
        return f"{utc} UTC ({local[11:] if local[:10] == utc[:10] else local} {self.label})"


# ---------------------------------------------------------------------------------------
# What the document says, independent of format


@dataclass(frozen=True, slots=True)
class _Bold:
    text: str


@dataclass(frozen=True, slots=True)
class _Rich:
    """User prose: whitespace folded, http(s) URLs become links."""

    text: str


@dataclass(frozen=True, slots=True)
class _Link:
    """A URL already checked by `_safe_url`."""

    url: str


_Frag = str | _Bold | _Rich | _Link
_Line = tuple[_Frag, ...]


@dataclass(frozen=True)
class _Block:
    """List items, or people's prose, or (when there is neither) an italic prompt."""

    heading: str | None = None
    items: tuple[_Line, ...] = ()
    prose: str | None = None
    prompt: str = "None recorded."


@dataclass(frozen=True)
class _Section:
    title: str
    blocks: tuple[_Block, ...] = ()
    timeline: bool = False


@dataclass(frozen=True)
class _View:
    record: PirRecord
    clock: _Clock
    events: tuple[EventLine, ...]  # in time order; events at the same time keep theirs
    stamps: tuple[float, ...]  # seconds since the epoch, per event


def _view(record: PirRecord) -> _View:
    stamps = [_ts(event.at) for event in record.timeline]
    events = record.timeline
    if any(later < earlier for earlier, later in itertools.pairwise(stamps)):
        order = sorted(range(len(stamps)), key=stamps.__getitem__)
        events, stamps = tuple(events[i] for i in order), [stamps[i] for i in order]
    return _View(record, _Clock(record.timezone), tuple(events), tuple(stamps))


_URL = re.compile(r"https?://[^\s<>\"'`|\\\[\]{}]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)*_~"


def _safe_url(url: str | None) -> str | None:
    """The URL when it is http(s) with nothing that could end a link early, else None."""
    url = (url or "").strip()
    return url if _URL.fullmatch(url) and url.rstrip(_URL_TAIL) == url else None


def _link_or_text(url: str | None, missing: str) -> _Frag:
    safe = _safe_url(url)
    return _Link(safe) if safe else (url or missing)


def _pieces(text: str) -> Iterator[tuple[str, bool]]:
    """Split text into (plain, False) and (http(s) URL, True) pieces."""
    pos = 0
    for match in _URL.finditer(text):
        # "see https://x/y." ends the sentence, not the URL.
        url = match.group().rstrip(_URL_TAIL)
        if url.partition("://")[2]:
            yield text[pos : match.start()], False
            yield url, True
            pos = match.start() + len(url)
    yield text[pos:], False


def _paragraphs(text: str) -> list[list[str]]:
    """Non-empty stripped lines, grouped by blank lines."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line:
            current.append(line)
        elif current:
            paragraphs.append(current)
            current = []
    return paragraphs + [current] if current else paragraphs


def _listing(items: list[_Line], empty: str, heading: str | None = None) -> _Block:
    return _Block(heading=heading, items=tuple(items), prompt=empty)


def _facts(view: _View) -> _Section:
    r, when = view.record, view.clock.when
    changes = "; ".join(f"{sev.name(level)} at {when(at)}" for at, level in r.severity_history)
    zone = (f"UTC and {r.timezone}" if view.clock.known
            else f"UTC (the timezone {r.timezone!r} is unknown)")
    lines: list[_Line] = [
        (_Bold("Severity:"), f" {sev.name(r.severity)}; history: {changes or 'unchanged'}"),
        (_Bold("Status:"), " ", r.status),
        (_Bold("Declared:"), f" {when(r.declared_at)} by ", r.declared_by),
        (_Bold("Mitigated:"), f" {when(r.mitigated_at, 'not yet')}"),
        (_Bold("Resolved:"), f" {when(r.resolved_at, 'not yet')}"),
        (_Bold("Closed:"), f" {when(r.closed_at, 'not yet')}"),
        (_Bold("PIR due:"), f" {when(r.due_at, 'not set')}"),
        (_Bold("Room:"), " ", _link_or_text(r.room_url, "none")),
        (_Bold("Times shown in:"), f" {zone}"),
    ]
    return _Section("", (_Block(items=tuple(lines)),))


def _impact(record: PirRecord) -> _Section:
    return _Section("Customer impact and systems affected", (
        _Block(heading="Customer impact", prose=record.impact,
               prompt="Not recorded. If customers were affected, have we told them?"),
        _Block(heading="Systems affected", prose=record.affected, prompt="Not recorded."),
    ))


def _metrics(record: PirRecord) -> _Section:
    start = record.declared_at
    return _Section("Metrics", (_Block(items=(
        (_Bold("Time to mitigate:"), f" {_duration(start, record.mitigated_at)}"),
        (_Bold("Time to resolve:"), f" {_duration(start, record.resolved_at)}"),
        (_Bold("Total duration (declared to closed):"), f" {_duration(start, record.closed_at)}"),
    )),))


def _roles(view: _View) -> _Section:
    r, when = view.record, view.clock.when
    holders: list[_Line] = [
        (_Bold("Investigator:"), " ", r.investigator or "nobody"),
        (_Bold("Commander:"), " ", r.commander or "nobody"),
        (_Bold("Also investigating:"), " ", ", ".join(r.assistants) or "nobody"),
    ]
    handovers: list[_Line] = []
    for h in r.handovers:
        answered = f" at {when(h.answered_at)}" if h.answered_at else ", no answer yet"
        handovers.append((
            f"{when(h.requested_at)}: ", _Bold(h.role.capitalize()), " to ", h.to,
            " from ", h.from_ or "nobody", f" — {h.status}{answered}",
            *((". Reason: ", _Rich(h.reason)) if h.reason else ()),
        ))
    return _Section("Roles and handovers", (
        _Block(items=tuple(holders)), _listing(handovers, "No handovers.", "Handovers"),
    ))


def _hypotheses(view: _View) -> _Section:
    when = view.clock.when
    lines: list[_Line] = []
    for h in view.record.hypotheses:
        ended = f"{h.status} at {when(h.resolved_at)}" if h.resolved_at else h.status
        lines.append((_Bold(f"H{h.number}"), " ", _Rich(h.text), f" — {ended}; raised by ",
                      h.author, f" at {when(h.created_at)}"))
    return _Section("Hypotheses", (_listing(lines, "No hypotheses recorded."),))


def _journal(view: _View, events: tuple[EventLine, ...]) -> list[_Line]:
    return [(f"{view.clock.when(e.at)} — ", e.actor or "bot", ": ", _Rich(e.text)) for e in events]


def _updates(view: _View) -> _Section:
    r = view.record
    return _Section("Status updates", (
        _listing(_journal(view, r.updates), "No status updates recorded."),
    ))


def _external(view: _View) -> _Section:
    r, when = view.record, view.clock.when
    told: _Line = (_Bold("Customers told:"), " yes, as ", _Rich(r.public_title or "")) if (
        r.external_updates) else (_Bold("Customers told:"), " no" + (
            " — customer impact was recorded: have they been told?" if r.impact else ""))
    lines: list[_Line] = [
        (f"{when(u.at)} — ", _Bold(u.status), ": ", _Rich(u.text),
         f" (Statuspage: {u.statuspage})")
        for u in r.external_updates]
    return _Section("External communication", (
        _Block(items=(told,)),
        _listing(lines, "No external updates were published.", "External updates"),
    ))


def _commandeered(view: _View) -> _Section:
    when = view.clock.when
    lines: list[_Line] = []
    for c in view.record.commandeered:
        answer = f"{c.status} at {when(c.answered_at)}" if c.answered_at else f"{c.status}, no answer"
        lines.append((_Bold(c.name), " — why: ", _Rich(c.why or "not given"), "; asked by ",
                      c.requested_by, f" at {when(c.requested_at)}; answer: {answer}"))
    return _Section("People commandeered", (_listing(lines, "Nobody was commandeered."),))


def _actions(record: PirRecord) -> _Section:
    lines: list[_Line] = [
        (_Bold(f"A{a.number}"), " ", _Rich(a.text), " — owner: ", a.owner or "nobody yet",
         f"; status: {a.status}; tracked at: ", _link_or_text(a.url, "not linked yet"))
        for a in record.actions
    ]
    return _Section("Follow-up actions", (_listing(
        lines, "None yet. Follow-up actions should address the root cause, be tracked "
        "(Trello, GitHub, ...) and be linked here."),))


_WRITTEN = (
    ("Root cause", "root_cause",
     "Not written yet. What, underneath, made this happen? Was it fully identified?"),
    ("Contributing factors", "contributing_factors",
     "Not written yet. What else made it likelier, worse, or slower to fix?"),
    ("What went well", "went_well",
     "Not written yet. What helped us notice, respond and recover?"),
    ("What did not go well", "went_badly",
     "Not written yet. Where did we lose time, and what would we do differently?"),
)


def _sections(view: _View) -> list[_Section]:
    """Everything below the title, in document order."""
    r = view.record
    return [
        _facts(view),
        _Section("Summary", (_Block(prose=r.description, prompt="No description recorded."),)),
        _impact(r),
        _metrics(r),
        _roles(view),
        _Section("Timeline", timeline=True),
        _hypotheses(view),
        _Section("Notes and evidence", (_listing(_journal(view, r.notes), "No notes recorded."),)),
        _updates(view),
        _external(view),
        _commandeered(view),
        _actions(r),
        *(_Section(title, (_Block(prose=getattr(r, field), prompt=prompt),))
          for title, field, prompt in _WRITTEN),
    ]


def _memo(render: Callable[[str], str]) -> Callable[[str], str]:
    """`render`, remembering its answers for this document (kinds and names repeat)."""
    seen: dict[str, str] = {}

    def cached(text: str) -> str:
        found = seen.get(text)
        if found is None:
            found = seen[text] = render(text)
        return found

    return cached


# ---------------------------------------------------------------------------------------
# Markdown

_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>|~&#$]")
_MD_LEADING = re.compile(r"[-+=]|\d+[.)]")


def _md_escape(text: str) -> str:
    """One line of plain text, with everything Markdown could act on escaped."""
    return _MD_SPECIAL.sub(_backslashed, text.replace("\r", " ").replace("\n", " "))


def _backslashed(match: re.Match[str]) -> str:
    # A function, not the template r"\\\g<0>": re expands templates per match, 2.5x slower.
    return "\\" + match.group()


def _md_lead(line: str) -> str:
    """Neutralise what would start a list or a setext heading at the start of a line."""
    match = _MD_LEADING.match(line)
    if match is None:
        return line
    cut = match.end() - 1
    return f"{line[:cut]}\\{line[cut:]}"


def _md_rich(text: str) -> str:
    text = " ".join(text.split())
    if "://" not in text:
        return _md_escape(text)
    return "".join(f"<{part}>" if is_url else _md_escape(part) for part, is_url in _pieces(text))


def _md_frag(frag: _Frag) -> str:
    if isinstance(frag, str):
        return _md_escape(frag)
    if isinstance(frag, _Bold):
        return f"**{_md_escape(frag.text)}**"
    if isinstance(frag, _Rich):
        return _md_rich(frag.text)
    return f"<{frag.url}>"


def _md_block(out: list[str], block: _Block) -> None:
    if block.heading:
        out += [f"### {block.heading}", ""]
    paragraphs = _paragraphs(block.prose or "")
    if block.items:
        out.extend(f"- {_md_lead(''.join(map(_md_frag, line)).lstrip())}" for line in block.items)
    elif paragraphs:
        # A trailing backslash is a hard line break: people's line breaks survive.
        out.extend(item for p in paragraphs
                   for item in ("\\\n".join(_md_lead(_md_rich(line)) for line in p), ""))
        out.pop()
    else:
        out.append(f"_{_md_escape(block.prompt)}_")
    out.append("")


def _md_timeline(out: list[str], view: _View) -> None:
    if not view.events:
        out += ["_No events recorded._", ""]
        return
    pair, name = view.clock.pair, _memo(_md_escape)
    out.append(f"| UTC | {_md_escape(view.clock.label)} | Kind | Who | What |")
    out.append("|---|---|---|---|---|")
    for event in view.events:
        utc, local = pair(event.at)
        out.append(f"| {utc} | {local} | {name(event.kind)} | {name(event.actor or 'bot')} "
                   f"| {_md_rich(event.text)} |")
    out.append("")


def render_markdown(record: PirRecord) -> str:
    """Render the PIR draft as Markdown."""
    view = _view(record)
    out = [f"# PIR: INC-{record.number} {_md_escape(record.title)}", ""]
    for section in _sections(view):
        if section.title:
            out += [f"## {section.title}", ""]
        if section.timeline:
            _md_timeline(out, view)
        for block in section.blocks:
            _md_block(out, block)
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# HTML

_esc = html.escape

_PALETTE = {
    "lifecycle": "#2e7d32", "severity": "#c62828", "roles": "#6a1b9a", "hypotheses": "#ef6c00",
    "notes": "#1565c0", "updates": "#00838f", "people": "#ad1457", "tasks": "#6d4c41",
    "rooms": "#546e7a", "other": "#757575",
}
_category = category_of  # event kinds grouped for colour: "role_accepted" -> "roles"


_CSS = """
:root{color-scheme:light;--ink:#1f2328;--muted:#59636e;--line:#d1d9e0}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink)}
main{max-width:62rem;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;line-height:1.25;overflow-wrap:anywhere}
h2{font-size:1.25rem;border-bottom:1px solid var(--line);padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.05rem}
li,p,td{overflow-wrap:anywhere}
a{color:#0969da}
.prompt{font-style:italic;color:var(--muted)}
svg.axis{width:100%;min-width:34rem;max-width:52rem;height:auto;display:block;font-size:18px}
svg.axis text{paint-order:stroke;stroke:#fff;stroke-width:4px}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.4rem 1rem;font-size:.85rem}
.k::before{content:"";display:inline-block;width:.65em;height:.65em;border-radius:50%;
 margin-right:.35em;background:var(--c)}
.scroll{overflow-x:auto}
table.events{border-collapse:collapse;width:100%;font-size:.9rem}
.events th,.events td{text-align:left;vertical-align:top;padding:.25rem .5rem;
 border-bottom:1px solid var(--line)}
.events td:nth-child(-n+2){white-space:nowrap;font-variant-numeric:tabular-nums}
@media (max-width:40rem){
 .events thead{display:none}
 .events tr{display:block;padding:.4rem 0;border-bottom:1px solid var(--line)}
 .events td{display:inline;border:0;padding:0 .4rem 0 0}
 .events td:nth-child(2){color:var(--muted)}
 .events td:last-child{display:block}
}
""" + "".join(f".c-{cat}{{--c:{color}}}\n" for cat, color in _PALETTE.items())

_HEAD = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
         '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
         # Nothing in the page may load or run anything, whatever the user text says.
         '<meta http-equiv="Content-Security-Policy" '
         "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n")


def _anchor(url: str) -> str:
    safe = _esc(url)
    return f'<a href="{safe}" rel="noopener noreferrer">{safe}</a>'


def _html_rich(text: str) -> str:
    if "://" not in text:
        return _esc(text)
    return "".join(_anchor(part) if is_url else _esc(part) for part, is_url in _pieces(text))


def _html_frag(frag: _Frag) -> str:
    if isinstance(frag, str):
        return _esc(frag)
    if isinstance(frag, _Bold):
        return f"<strong>{_esc(frag.text)}</strong>"
    if isinstance(frag, _Rich):
        return _html_rich(" ".join(frag.text.split()))
    return _anchor(frag.url)


def _html_block(parts: list[str], block: _Block) -> None:
    if block.heading:
        parts.append(f"<h3>{_esc(block.heading)}</h3>\n")
    paragraphs = _paragraphs(block.prose or "")
    if block.items:
        parts.append("<ul>\n")
        parts.extend(f"<li>{''.join(map(_html_frag, line))}</li>\n" for line in block.items)
        parts.append("</ul>\n")
    elif paragraphs:
        parts.extend(f"<p>{'<br>'.join(map(_html_rich, p))}</p>\n" for p in paragraphs)
    else:
        parts.append(f'<p class="prompt">{_esc(block.prompt)}</p>\n')


def _html_events(parts: list[str], view: _View) -> None:
    if not view.events:
        parts.append('<p class="prompt">No events recorded.</p>\n')
        return
    pair, name, category = view.clock.pair, _memo(_esc), _memo(_category)
    parts.append('<div class="scroll"><table class="events">\n<thead><tr><th>UTC</th>'
                 f"<th>{_esc(view.clock.label)}</th><th>Kind</th><th>Who</th><th>What</th>"
                 "</tr></thead>\n<tbody>\n")
    for event in view.events:
        utc, local = pair(event.at)
        parts.append(f'<tr><td>{utc}</td><td>{local}</td><td class="k c-{category(event.kind)}">'
                     f"{name(event.kind)}</td><td>{name(event.actor or 'bot')}</td>"
                     f"<td>{_html_rich(event.text)}</td></tr>\n")
    parts.append("</tbody>\n</table></div>\n")


def _legend(view: _View) -> str:
    present = {_category(kind) for kind in {event.kind for event in view.events}}
    items = "".join(f'<li class="k c-{cat}">{cat}</li>' for cat in _PALETTE if cat in present)
    return f'<ul class="legend">{items}</ul>\n' if items else ""


def render_html(record: PirRecord) -> str:
    """Render the PIR draft as one self-contained HTML page (inline CSS and SVG, no scripts)."""
    view = _view(record)
    title = _esc(f"PIR: INC-{record.number} {record.title}")
    parts = [_HEAD, f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n",
             f"<h1>{title}</h1>\n"]
    for section in _sections(view):
        parts.append("<section>\n")
        if section.title:
            parts.append(f"<h2>{_esc(section.title)}</h2>\n")
        if section.timeline:
            parts += ['<div class="scroll">', _svg(view), "</div>\n", _legend(view)]
            _html_events(parts, view)
        for block in section.blocks:
            _html_block(parts, block)
        parts.append("</section>\n")
    parts.append("</main>\n</body>\n</html>\n")
    return "".join(parts)


# ---------------------------------------------------------------------------------------
# The SVG timeline: one axis, a tick per event (or a bar per bucket), lifecycle markers

_WIDTH, _X0, _X1, _AXIS_Y = 800, 16.0, 784.0, 118.0
_MARKERS = (("Declared", "declared_at", "#c62828"), ("Mitigated", "mitigated_at", "#ef6c00"),
            ("Resolved", "resolved_at", "#2e7d32"), ("Closed", "closed_at", "#37474f"))


@dataclass(frozen=True)
class _Axis:
    start: float
    span: float

    def x(self, ts: float) -> float:
        return _X0 + (_X1 - _X0) * min(max((ts - self.start) / self.span, 0.0), 1.0)


def _axis(view: _View) -> _Axis:
    r = view.record
    start, end_at = _ts(r.declared_at), r.closed_at or r.resolved_at
    end = _ts(end_at) if end_at else max(view.stamps, default=start)
    return _Axis(start, max(end - start, 60.0))


def _svg(view: _View) -> str:
    axis = _axis(view)
    parts = [(f'<svg class="axis" viewBox="0 0 {_WIDTH} 180" role="img" aria-label="Timeline of '
              f'INC-{view.record.number}" xmlns="http://www.w3.org/2000/svg">\n'),
             f'<line x1="{_X0}" y1="{_AXIS_Y}" x2="{_X1}" y2="{_AXIS_Y}" stroke="#59636e"/>\n']
    if len(view.events) <= MAX_SVG_TICKS:
        _svg_ticks(parts, view, axis)
    else:
        _svg_buckets(parts, view, axis)
    _svg_markers(parts, view, axis)
    _svg_ends(parts, view, axis)
    parts.append("</svg>\n")
    return "".join(parts)


def _svg_ticks(parts: list[str], view: _View, axis: _Axis) -> None:
    clock = view.clock
    for event, ts in zip(view.events, view.stamps):
        x, color = axis.x(ts), _PALETTE[_category(event.kind)]
        utc, local = clock.pair(event.at)
        tip = f"{utc} UTC · {local} {clock.label} — {event.kind} — {event.actor or 'bot'}: "
        tip += event.text if len(event.text) <= 160 else event.text[:159] + "…"
        parts.append(f'<line x1="{x:.1f}" y1="104" x2="{x:.1f}" y2="132" stroke="{color}" '
                     f'stroke-width="2"><title>{_esc(tip)}</title></line>\n')


def _svg_buckets(parts: list[str], view: _View, axis: _Axis) -> None:
    n, category = MAX_SVG_TICKS, _memo(_category)
    buckets: dict[int, dict[str, int]] = {}
    for event, ts in zip(view.events, view.stamps):
        index = min(n - 1, max(0, int((ts - axis.start) / axis.span * n)))
        counts = buckets.setdefault(index, {})
        cat = category(event.kind)
        counts[cat] = counts.get(cat, 0) + 1
    most, width = max(sum(c.values()) for c in buckets.values()), (_X1 - _X0) / n
    for index, counts in sorted(buckets.items()):
        total = sum(counts.values())
        height = 3 + 29 * total / most
        main = max(counts, key=counts.__getitem__)
        began = _stamp(dt.datetime.fromtimestamp(axis.start + index * axis.span / n, UTC))
        detail = ", ".join(f"{count} {cat}" for cat, count in counts.items())
        parts.append(f'<rect x="{_X0 + index * width:.1f}" y="{_AXIS_Y - height:.1f}" '
                     f'width="{max(width - 0.3, 0.8):.2f}" height="{height:.1f}" '
                     f'fill="{_PALETTE[main]}"><title>{total} events from {began} UTC: '
                     f"{_esc(detail)}</title></rect>\n")


def _svg_markers(parts: list[str], view: _View, axis: _Axis) -> None:
    for row, (label, field, color) in enumerate(_MARKERS):
        at = getattr(view.record, field)
        if at is None:
            continue
        x, y = axis.x(_ts(at)), 18.0 + 20 * row  # a row each, so close markers stay legible
        anchor, dx = ("start", 6) if x < _WIDTH / 2 else ("end", -6)
        parts.append(
            f'<g class="marker"><title>{label} {_esc(view.clock.when(at))}</title>'
            f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x:.1f}" y2="{_AXIS_Y}" stroke="{color}" '
            f'stroke-dasharray="3 2"/><circle cx="{x:.1f}" cy="{_AXIS_Y}" r="6" fill="{color}"/>'
            f'<text x="{x + dx:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{color}">'
            f"{label} {view.clock.pair(at)[0][11:]} UTC</text></g>\n")


def _svg_ends(parts: list[str], view: _View, axis: _Axis) -> None:
    clock, label = view.clock, _esc(view.clock.label)
    for ts, x, anchor in ((axis.start, _X0, "start"), (axis.start + axis.span, _X1, "end")):
        utc, local = clock.pair(dt.datetime.fromtimestamp(ts, UTC))
        parts.append(f'<text x="{x}" y="154" text-anchor="{anchor}">{utc} UTC</text>'
                     f'<text x="{x}" y="174" text-anchor="{anchor}" fill="#59636e">'
                     f"{local} {label}</text>\n")
