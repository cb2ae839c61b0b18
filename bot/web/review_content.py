"""What the Post Incident Review says, whatever its format: sections built from a
`PirRecord`, with the times, people and links they show.

Pure functions: no I/O and no clock; every time shown comes from the record, in UTC and in
the record's timezone. The Markdown (`bot.web.review_markdown`) and HTML
(`bot.web.review_html`) documents both follow the review template
(`bot.web.review_template`), whose placeholders are `PLACEHOLDERS`, so they say the same
things; only the timeline table and the SVG chart are written per format, for speed.
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
class Piece:
    """What a block placeholder of the template stands for: blocks, or the events table
    or chart (written per format, for speed)."""

    blocks: tuple[Block, ...] = ()
    timeline: bool = False
    chart: bool = False  # HTML only; the Markdown download has no chart
    # Shown closed until opened (HTML `<details>`, whose text the browser's find searches):
    # `summary` is what the closed part says.
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


safe_url = _safe_url


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


# Values a placeholder places in the template's own text (a heading, a paragraph, a list
# item), each a line of fragments.


def _when(field: str, missing: str) -> Callable[[View], _Line]:
    return lambda view: (view.clock.when(getattr(view.record, field), missing),)


def _severity_history(view: View) -> _Line:
    when = view.clock.when
    return ("; ".join(f"{view.record.scale.name(level)} at {when(at)}"
                      for at, level in view.record.severity_history) or "unchanged",)


def _zone(view: View) -> _Line:
    r = view.record
    return (f"UTC and {r.timezone}" if view.clock.known
            else f"UTC (the timezone {r.timezone!r} is unknown)",)


def _took(field: str) -> Callable[[View], _Line]:
    return lambda view: (_duration(view.record.declared_at, getattr(view.record, field)),)


def _nobody(field: str) -> Callable[[View], _Line]:
    return lambda view: (getattr(view.record, field) or "nobody",)


# Blocks a placeholder on a line of its own stands for.


def _prose(field: str, prompt: str) -> Callable[[View], Piece]:
    return lambda view: Piece((Block(prose=getattr(view.record, field), prompt=prompt),))


def _durations(view: View) -> Piece:
    took = {field: _took(field)(view)[0] for field in ("mitigated_at", "resolved_at", "closed_at")}
    return Piece((Block(items=(
        (Bold("Time to mitigate:"), f" {took['mitigated_at']}"),
        (Bold("Time to resolve:"), f" {took['resolved_at']}"),
        (Bold("Total duration (declared to closed):"), f" {took['closed_at']}"),
    )),))


def _handover_lines(view: View) -> list[_Line]:
    when = view.clock.when
    lines: list[_Line] = []
    for h in view.record.handovers:
        answered = f" at {when(h.answered_at)}" if h.answered_at else ", no answer yet"
        lines.append((
            f"{when(h.requested_at)}: ", Bold(h.role.capitalize()), " to ", h.to,
            " from ", h.from_ or "nobody", f" — {h.status}{answered}",
            *((". Reason: ", Rich(h.reason)) if h.reason else ()),
        ))
    return lines


def _roles(view: View) -> Piece:
    r = view.record
    holders: list[_Line] = [
        (Bold("Investigator:"), " ", r.investigator or "nobody"),
        (Bold("Commander:"), " ", r.commander or "nobody"),
        (Bold("Also investigating:"), " ", ", ".join(r.assistants) or "nobody"),
    ]
    return Piece((Block(items=tuple(holders)),
                  _listing(_handover_lines(view), "No handovers.", "Handovers")))


def _handovers(view: View) -> Piece:
    return Piece((_listing(_handover_lines(view), "No handovers."),))


def _hypotheses(view: View) -> Piece:
    when = view.clock.when
    lines: list[_Line] = []
    for h in view.record.hypotheses:
        ended = f"{h.status} at {when(h.resolved_at)}" if h.resolved_at else h.status
        lines.append((Bold(f"H{h.number}"), " ", Rich(h.text), f" — {ended}; raised by ",
                      h.author, f" at {when(h.created_at)}"))
    return Piece((_listing(lines, "No hypotheses recorded."),))


def _journal(view: View, events: tuple[EventLine, ...]) -> list[_Line]:
    return [(f"{view.clock.when(e.at)} — ", e.actor or "bot", ": ", Rich(e.text)) for e in events]


def _notes(view: View) -> Piece:
    return Piece((_listing(_journal(view, view.record.notes), "No notes recorded."),))


def _updates(view: View) -> Piece:
    return Piece((_listing(_journal(view, view.record.updates), "No status updates recorded."),))


def _external(view: View) -> Piece:
    r, when = view.record, view.clock.when
    told: _Line = (Bold("Customers told:"), " yes, as ", Rich(r.public_title or "")) if (
        r.external_updates) else (Bold("Customers told:"), " no" + (
            " — customer impact was recorded: have they been told?" if r.impact else ""))
    lines: list[_Line] = [
        (f"{when(u.at)} — ", Bold(u.status), ": ", Rich(u.text),
         f" (Statuspage: {u.statuspage})")
        for u in r.external_updates]
    return Piece((
        Block(items=(told,)),
        _listing(lines, "No external updates were published.", "External updates"),
    ))


def _conversation(view: View) -> Piece:
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
    return Piece((_listing(
        lines, "Nothing recorded: the conversation is captured only with "
        "CAPTURE_CONVERSATION."),),
        summary=f"{count} message{'' if count == 1 else 's'} written in the incident's "
                "thread, channel or chat (open to read; your browser's find searches them)")


def _commandeered(view: View) -> Piece:
    when = view.clock.when
    lines: list[_Line] = []
    for c in view.record.commandeered:
        answer = f"{c.status} at {when(c.answered_at)}" if c.answered_at else f"{c.status}, no answer"
        joined = f"; joined the room at {when(c.joined_room_at)}" if c.joined_room_at else ""
        lines.append((Bold(c.name), " — why: ", Rich(c.why or "not given"), "; asked by ",
                      c.requested_by, f" at {when(c.requested_at)}; answer: {answer}{joined}"))
    return Piece((_listing(lines, "Nobody was commandeered."),))


def _attendance(view: View) -> Piece:
    """Who was in the Incident Command Room: each person's stays and minutes in total (a
    stay not ended counts until the incident closed, else is "still there", uncounted)."""
    r, when = view.record, view.clock.when
    if r.attendance_unavailable:
        return Piece((Block(prompt=r.attendance_unavailable),))
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
    return Piece((_listing(lines, "Nobody joined the Incident Command Room."),))


def _actions(view: View) -> Piece:
    lines: list[_Line] = [
        (Bold(f"A{a.number}"), " ", Rich(a.text), " — owner: ", a.owner or "nobody yet",
         f"; status: {a.status}; tracked at: ", _link_or_text(a.url, "not linked yet"))
        for a in view.record.actions
    ]
    return Piece((_listing(
        lines, "None yet. Follow-up actions should address the root cause, be tracked "
        "(Trello, GitHub, ...) and be linked here."),))


@dataclass(frozen=True)
class Placeholder:
    """One `{{name}}` of the review template (docs/review-template.md lists them): a value
    placed in the template's text, or (`block`) blocks on a line of their own."""

    says: str
    value: Callable[[View], _Line] | None = None
    block: Callable[[View], Piece] | None = None


def _value(says: str, value: Callable[[View], _Line]) -> Placeholder:
    return Placeholder(says, value=value)


def _block(says: str, block: Callable[[View], Piece]) -> Placeholder:
    return Placeholder(says, block=block)


PLACEHOLDERS: dict[str, Placeholder] = {
    # In text.
    "title": _value("the incident's title", lambda v: (v.record.title,)),
    "number": _value("the incident's number (7 for INC-7)", lambda v: (str(v.record.number),)),
    "severity": _value("its severity now (SEV1, or SEVERITY_FILE's name)",
                       lambda v: (v.record.scale.name(v.record.severity),)),
    "severity_history": _value("each severity it had, and when", _severity_history),
    "status": _value("its status (investigating, mitigated, resolved, closed)",
                     lambda v: (v.record.status,)),
    "declared_at": _value("when it was declared", _when("declared_at", "n/a")),
    "declared_by": _value("who declared it", lambda v: (v.record.declared_by,)),
    "mitigated_at": _value("when it was mitigated, or \"not yet\"",
                           _when("mitigated_at", "not yet")),
    "resolved_at": _value("when it was resolved, or \"not yet\"", _when("resolved_at", "not yet")),
    "closed_at": _value("when it was closed, or \"not yet\"", _when("closed_at", "not yet")),
    "due_at": _value("when the review is due, or \"not set\"", _when("due_at", "not set")),
    "room": _value("the Incident Command Room's link, or \"none\"",
                   lambda v: (_link_or_text(v.record.room_url, "none"),)),
    "timezone": _value("the time zones times are shown in", _zone),
    "investigator": _value("the Investigator, or \"nobody\"", _nobody("investigator")),
    "commander": _value("the Incident Commander, or \"nobody\"", _nobody("commander")),
    "assistants": _value("who else investigated, or \"nobody\"",
                         lambda v: (", ".join(v.record.assistants) or "nobody",)),
    "time_to_mitigate": _value("declared to mitigated (1 h 05 min), or n/a",
                               _took("mitigated_at")),
    "time_to_resolve": _value("declared to resolved, or n/a", _took("resolved_at")),
    "total_duration": _value("declared to closed, or n/a", _took("closed_at")),
    # On a line of their own.
    "summary": _block("the incident's description", _prose(
        "description", "No description recorded.")),
    "impact": _block("the customer impact recorded", _prose(
        "impact", "Not recorded. If customers were affected, have we told them?")),
    "affected": _block("the systems affected", _prose("affected", "Not recorded.")),
    "durations": _block("time to mitigate, to resolve, and in total", _durations),
    "roles": _block("who held each role, and every handover", _roles),
    "handovers": _block("every role request and how it ended", _handovers),
    "timeline": _block("every timeline entry, in UTC and the team's time zone", lambda v: Piece(
        timeline=True)),
    "timeline_chart": _block("the timeline as a chart (the HTML page and Google Docs only; "
                             "nothing in the Markdown download)", lambda v: Piece(chart=True)),
    "conversation": _block("what people wrote in the incident's place "
                           "(CAPTURE_CONVERSATION)", _conversation),
    "hypotheses": _block("every hypothesis and how it ended", _hypotheses),
    "notes": _block("notes and evidence", _notes),
    "status_updates": _block("the internal status updates", _updates),
    "external_updates": _block("whether customers were told, and every external update",
                               _external),
    "commandeered": _block("who was commandeered, why, and their answer", _commandeered),
    "attendance": _block("who was in the Incident Command Room, and for how long",
                         _attendance),
    "actions": _block("the follow-up actions, with their owners and tracker links", _actions),
    "root_cause": _block("the root cause (`pir rootcause`), or a prompt", _prose(
        "root_cause", "Not written yet. What, underneath, made this happen? Was it fully "
        "identified?")),
    "contributing_factors": _block("the contributing factors, or a prompt", _prose(
        "contributing_factors", "Not written yet. What else made it likelier, worse, or "
        "slower to fix?")),
    "went_well": _block("what went well, or a prompt", _prose(
        "went_well", "Not written yet. What helped us notice, respond and recover?")),
    "went_badly": _block("what did not go well, or a prompt", _prose(
        "went_badly", "Not written yet. Where did we lose time, and what would we do "
        "differently?")),
}


def value_of(view: View, name: str) -> _Line:
    """What the text placeholder `name` says (the template was checked at start)."""
    found = PLACEHOLDERS[name].value
    assert found is not None, name
    return found(view)


def piece_of(view: View, name: str) -> Piece:
    """What the block placeholder `name` stands for."""
    found = PLACEHOLDERS[name].block
    assert found is not None, name
    return found(view)


def plain(line: _Line) -> str:
    """A line of fragments as plain text (an HTML page's `<title>`)."""
    return "".join(frag if isinstance(frag, str) else frag.url if isinstance(frag, _Link)
                   else " ".join(frag.text.split()) for frag in line)


def memo(render: Callable[[str], str]) -> Callable[[str], str]:
    """`render`, remembering its answers for this document (kinds and names repeat)."""
    seen: dict[str, str] = {}

    def cached(text: str) -> str:
        found = seen.get(text)
        if found is None:
            found = seen[text] = render(text)
        return found

    return cached
