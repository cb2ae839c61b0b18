"""What the Post Incident Review says, whatever its format: sections built from a
`PirRecord`, with the times, people and links they show.

Pure functions: no I/O and no clock; every time shown comes from the record, in UTC and in
the record's timezone. The Markdown (`bot.web.review_markdown`) and HTML
(`bot.web.review_html`) documents are both written from `document_sections`, so they say
the same things; only the timeline table and the SVG chart are written per format, for
speed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.incidents.pir_record import EventLine, PirRecord

UTC = dt.UTC

# ---------------------------------------------------------------------------------------
# Times


def timestamp_of(at: dt.datetime) -> float:
    # The store keeps aware UTC datetimes; a naive one is taken as UTC, not as this host's zone.
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).timestamp()


def minute_stamp(d: dt.datetime) -> str:
    # Cheaper than strftime, which matters at 10,000 events.
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d}"


def _duration(start: dt.datetime, end: dt.datetime | None) -> str:
    """"1 h 05 min", "7 min", or "n/a" without an end."""
    if end is None:
        return "n/a"
    minutes = max(0, int((timestamp_of(end) - timestamp_of(start)) // 60))
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
        minute = int(timestamp_of(at) // 60)
        found = self._minutes.get(minute)
        if found is None:
            utc = dt.datetime.fromtimestamp(minute * 60, UTC)
            found = self._minutes[minute] = (minute_stamp(utc), minute_stamp(utc.astimezone(self.zone)))
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
class Bold:
    text: str


@dataclass(frozen=True, slots=True)
class Rich:
    """User prose: whitespace folded, http(s) URLs become links."""

    text: str


@dataclass(frozen=True, slots=True)
class _Link:
    """A URL already checked by `_safe_url`."""

    url: str


Frag = str | Bold | Rich | _Link


@dataclass(frozen=True)
class FragStyle:
    """How one format writes each kind of fragment."""

    plain: Callable[[str], str]
    bold: Callable[[str], str]
    rich: Callable[[str], str]  # user prose, whitespace not yet folded
    link: Callable[[str], str]  # a URL `_safe_url` accepted


def render_frag(frag: Frag, style: FragStyle) -> str:
    """`frag` in the format `style` describes."""
    if isinstance(frag, str):
        return style.plain(frag)
    if isinstance(frag, Bold):
        return style.bold(frag.text)
    if isinstance(frag, Rich):
        return style.rich(frag.text)
    return style.link(frag.url)
_Line = tuple[Frag, ...]


@dataclass(frozen=True)
class Block:
    """List items, or people's prose, or (when there is neither) an italic prompt."""

    heading: str | None = None
    items: tuple[_Line, ...] = ()
    prose: str | None = None
    prompt: str = "None recorded."


@dataclass(frozen=True)
class _Section:
    title: str
    blocks: tuple[Block, ...] = ()
    timeline: bool = False
    # Shown closed until opened (HTML `<details>`, whose text the browser's find searches):
    # `summary` is what the closed section says.
    summary: str | None = None


@dataclass(frozen=True)
class View:
    record: PirRecord
    clock: _Clock
    events: tuple[EventLine, ...]  # in time order; events at the same time keep theirs
    stamps: tuple[float, ...]  # seconds since the epoch, per event


def view_of(record: PirRecord) -> View:
    stamps = [timestamp_of(event.at) for event in record.timeline]
    events = record.timeline
    if any(later < earlier for earlier, later in itertools.pairwise(stamps)):
        order = sorted(range(len(stamps)), key=stamps.__getitem__)
        events, stamps = tuple(events[i] for i in order), [stamps[i] for i in order]
    return View(record, _Clock(record.timezone), tuple(events), tuple(stamps))


_URL = re.compile(r"https?://[^\s<>\"'`|\\\[\]{}]+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)*_~"


def _safe_url(url: str | None) -> str | None:
    """The URL when it is http(s) with nothing that could end a link early, else None."""
    url = (url or "").strip()
    return url if _URL.fullmatch(url) and url.rstrip(_URL_TAIL) == url else None


def _link_or_text(url: str | None, missing: str) -> Frag:
    safe = _safe_url(url)
    return _Link(safe) if safe else (url or missing)


def text_pieces(text: str) -> Iterator[tuple[str, bool]]:
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


def split_paragraphs(text: str) -> list[list[str]]:
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


def _listing(items: list[_Line], empty: str, heading: str | None = None) -> Block:
    return Block(heading=heading, items=tuple(items), prompt=empty)


def _facts(view: View) -> _Section:
    r, when = view.record, view.clock.when
    changes = "; ".join(f"{r.scale.name(level)} at {when(at)}"
                        for at, level in r.severity_history)
    zone = (f"UTC and {r.timezone}" if view.clock.known
            else f"UTC (the timezone {r.timezone!r} is unknown)")
    lines: list[_Line] = [
        (Bold("Severity:"), f" {r.scale.name(r.severity)}; history: {changes or 'unchanged'}"),
        (Bold("Status:"), " ", r.status),
        (Bold("Declared:"), f" {when(r.declared_at)} by ", r.declared_by),
        (Bold("Mitigated:"), f" {when(r.mitigated_at, 'not yet')}"),
        (Bold("Resolved:"), f" {when(r.resolved_at, 'not yet')}"),
        (Bold("Closed:"), f" {when(r.closed_at, 'not yet')}"),
        (Bold("PIR due:"), f" {when(r.due_at, 'not set')}"),
        (Bold("Room:"), " ", _link_or_text(r.room_url, "none")),
        (Bold("Times shown in:"), f" {zone}"),
    ]
    return _Section("", (Block(items=tuple(lines)),))


def _impact(record: PirRecord) -> _Section:
    return _Section("Customer impact and systems affected", (
        Block(heading="Customer impact", prose=record.impact,
               prompt="Not recorded. If customers were affected, have we told them?"),
        Block(heading="Systems affected", prose=record.affected, prompt="Not recorded."),
    ))


def _metrics(record: PirRecord) -> _Section:
    start = record.declared_at
    return _Section("Metrics", (Block(items=(
        (Bold("Time to mitigate:"), f" {_duration(start, record.mitigated_at)}"),
        (Bold("Time to resolve:"), f" {_duration(start, record.resolved_at)}"),
        (Bold("Total duration (declared to closed):"), f" {_duration(start, record.closed_at)}"),
    )),))


def _roles(view: View) -> _Section:
    r, when = view.record, view.clock.when
    holders: list[_Line] = [
        (Bold("Investigator:"), " ", r.investigator or "nobody"),
        (Bold("Commander:"), " ", r.commander or "nobody"),
        (Bold("Also investigating:"), " ", ", ".join(r.assistants) or "nobody"),
    ]
    handovers: list[_Line] = []
    for h in r.handovers:
        answered = f" at {when(h.answered_at)}" if h.answered_at else ", no answer yet"
        handovers.append((
            f"{when(h.requested_at)}: ", Bold(h.role.capitalize()), " to ", h.to,
            " from ", h.from_ or "nobody", f" — {h.status}{answered}",
            *((". Reason: ", Rich(h.reason)) if h.reason else ()),
        ))
    return _Section("Roles and handovers", (
        Block(items=tuple(holders)), _listing(handovers, "No handovers.", "Handovers"),
    ))


def _hypotheses(view: View) -> _Section:
    when = view.clock.when
    lines: list[_Line] = []
    for h in view.record.hypotheses:
        ended = f"{h.status} at {when(h.resolved_at)}" if h.resolved_at else h.status
        lines.append((Bold(f"H{h.number}"), " ", Rich(h.text), f" — {ended}; raised by ",
                      h.author, f" at {when(h.created_at)}"))
    return _Section("Hypotheses", (_listing(lines, "No hypotheses recorded."),))


def _journal(view: View, events: tuple[EventLine, ...]) -> list[_Line]:
    return [(f"{view.clock.when(e.at)} — ", e.actor or "bot", ": ", Rich(e.text)) for e in events]


def _updates(view: View) -> _Section:
    r = view.record
    return _Section("Status updates", (
        _listing(_journal(view, r.updates), "No status updates recorded."),
    ))


def _external(view: View) -> _Section:
    r, when = view.record, view.clock.when
    told: _Line = (Bold("Customers told:"), " yes, as ", Rich(r.public_title or "")) if (
        r.external_updates) else (Bold("Customers told:"), " no" + (
            " — customer impact was recorded: have they been told?" if r.impact else ""))
    lines: list[_Line] = [
        (f"{when(u.at)} — ", Bold(u.status), ": ", Rich(u.text),
         f" (Statuspage: {u.statuspage})")
        for u in r.external_updates]
    return _Section("External communication", (
        Block(items=(told,)),
        _listing(lines, "No external updates were published.", "External updates"),
    ))


def _conversation(view: View) -> _Section:
    """What people wrote in the incident's place, each message with its links and
    attachments (references only), edits and deletions said."""
    when = view.clock.when
    lines: list[_Line] = []
    for m in view.record.conversation:
        line: list[Frag] = [f"{when(m.at)} — ", Bold(m.author), ": "]
        if m.deleted:
            line.append(f"({m.text})")
        else:
            line.append(Rich(m.text))
            if m.edited_at:
                line.append(f" (edited {when(m.edited_at)})")
            for url in m.links:
                line += [" — link: ", _link_or_text(url, "")]
            for name, where in m.attachments:
                line += [" — attachment: ", name]
                if where:
                    line += [" ", _link_or_text(where, "")]
        lines.append(tuple(line))
    count = len(lines)
    return _Section("Conversation", (_listing(
        lines, "Nothing recorded: the conversation is captured only with "
        "CAPTURE_CONVERSATION."),),
        summary=f"{count} message{'' if count == 1 else 's'} written in the incident's "
                "thread, channel or chat (open to read; your browser's find searches them)")


def _commandeered(view: View) -> _Section:
    when = view.clock.when
    lines: list[_Line] = []
    for c in view.record.commandeered:
        answer = f"{c.status} at {when(c.answered_at)}" if c.answered_at else f"{c.status}, no answer"
        joined = f"; joined the room at {when(c.joined_room_at)}" if c.joined_room_at else ""
        lines.append((Bold(c.name), " — why: ", Rich(c.why or "not given"), "; asked by ",
                      c.requested_by, f" at {when(c.requested_at)}; answer: {answer}{joined}"))
    return _Section("People commandeered", (_listing(lines, "Nobody was commandeered."),))


def _attendance(view: View) -> _Section:
    """Who was in the Incident Command Room: each person's stays and minutes in total (a
    stay not ended counts until the incident closed, else is "still there", uncounted)."""
    r, when = view.record, view.clock.when
    if r.attendance_unavailable:
        return _Section("Attendance", (Block(prompt=r.attendance_unavailable),))
    people: dict[tuple[str, bool], list[tuple[dt.datetime, dt.datetime | None]]] = {}
    for stay in r.attendance:
        people.setdefault((stay.name, stay.matched), []).append((stay.joined_at, stay.left_at))
    lines: list[_Line] = []
    for (name, matched), stays in people.items():
        seconds = sum(timestamp_of(end) - timestamp_of(start) for start, left in stays
                      if (end := left or r.closed_at) is not None)
        spans = "; ".join(f"{when(start)} to {when(left or r.closed_at, 'still there')}"
                          for start, left in stays)
        unmatched = "" if matched else " (not matched to a Teams person)"
        lines.append((Bold(name), f"{unmatched} — {max(0, int(seconds // 60))} min in total: "
                      f"{spans}"))
    return _Section("Attendance", (_listing(lines, "Nobody joined the Incident Command Room."),))


def _actions(record: PirRecord) -> _Section:
    lines: list[_Line] = [
        (Bold(f"A{a.number}"), " ", Rich(a.text), " — owner: ", a.owner or "nobody yet",
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


def document_sections(view: View) -> list[_Section]:
    """Everything below the title, in document order."""
    r = view.record
    return [
        _facts(view),
        _Section("Summary", (Block(prose=r.description, prompt="No description recorded."),)),
        _impact(r),
        _metrics(r),
        _roles(view),
        _Section("Timeline", timeline=True),
        _conversation(view),
        _hypotheses(view),
        _Section("Notes and evidence", (_listing(_journal(view, r.notes), "No notes recorded."),)),
        _updates(view),
        _external(view),
        _commandeered(view),
        _attendance(view),
        _actions(r),
        *(_Section(title, (Block(prose=getattr(r, field), prompt=prompt),))
          for title, field, prompt in _WRITTEN),
    ]


def memo(render: Callable[[str], str]) -> Callable[[str], str]:
    """`render`, remembering its answers for this document (kinds and names repeat)."""
    seen: dict[str, str] = {}

    def cached(text: str) -> str:
        found = seen.get(text)
        if found is None:
            found = seen[text] = render(text)
        return found

    return cached
