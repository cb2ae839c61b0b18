"""The review's SVG timeline: one axis, a tick per event (or a bar per time bucket beyond
`MAX_SVG_TICKS`), and the lifecycle markers."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from bot.incidents.event_kinds import category_of
from bot.web.review_content import (
    UTC,
    View,
    memo,
    minute_stamp,
    timestamp_of,
)

MAX_SVG_TICKS = 500  # beyond this many events the SVG draws one bar per time bucket
PALETTE = {
    "lifecycle": "#2e7d32", "severity": "#c62828", "roles": "#6a1b9a", "hypotheses": "#ef6c00",
    "notes": "#1565c0", "updates": "#00838f", "people": "#ad1457", "tasks": "#6d4c41",
    "rooms": "#546e7a", "other": "#757575",
}
_esc = html.escape


_WIDTH, _X0, _X1, _AXIS_Y = 800, 16.0, 784.0, 118.0
_MARKERS = (("Declared", "declared_at", "#c62828"), ("Mitigated", "mitigated_at", "#ef6c00"),
            ("Resolved", "resolved_at", "#2e7d32"), ("Closed", "closed_at", "#37474f"))


@dataclass(frozen=True)
class _Axis:
    start: float
    span: float

    def x(self, ts: float) -> float:
        return _X0 + (_X1 - _X0) * min(max((ts - self.start) / self.span, 0.0), 1.0)


def _axis(view: View) -> _Axis:
    r = view.record
    start, end_at = timestamp_of(r.declared_at), r.closed_at or r.resolved_at
    end = timestamp_of(end_at) if end_at else max(view.stamps, default=start)
    return _Axis(start, max(end - start, 60.0))


def timeline_svg(view: View) -> str:
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


def _svg_ticks(parts: list[str], view: View, axis: _Axis) -> None:
    clock = view.clock
    for event, ts in zip(view.events, view.stamps):
        x, color = axis.x(ts), PALETTE[category_of(event.kind)]
        utc, local = clock.pair(event.at)
        tip = f"{utc} UTC · {local} {clock.label} — {event.kind} — {event.actor or 'bot'}: "
        tip += event.text if len(event.text) <= 160 else event.text[:159] + "…"
        parts.append(f'<line x1="{x:.1f}" y1="104" x2="{x:.1f}" y2="132" stroke="{color}" '
                     f'stroke-width="2"><title>{_esc(tip)}</title></line>\n')


def _svg_buckets(parts: list[str], view: View, axis: _Axis) -> None:
    n, category = MAX_SVG_TICKS, memo(category_of)
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
        began = minute_stamp(dt.datetime.fromtimestamp(axis.start + index * axis.span / n, UTC))
        detail = ", ".join(f"{count} {cat}" for cat, count in counts.items())
        parts.append(f'<rect x="{_X0 + index * width:.1f}" y="{_AXIS_Y - height:.1f}" '
                     f'width="{max(width - 0.3, 0.8):.2f}" height="{height:.1f}" '
                     f'fill="{PALETTE[main]}"><title>{total} events from {began} UTC: '
                     f"{_esc(detail)}</title></rect>\n")


def _svg_markers(parts: list[str], view: View, axis: _Axis) -> None:
    for row, (label, field, color) in enumerate(_MARKERS):
        at = getattr(view.record, field)
        if at is None:
            continue
        x, y = axis.x(timestamp_of(at)), 18.0 + 20 * row  # a row each, so close markers stay legible
        anchor, dx = ("start", 6) if x < _WIDTH / 2 else ("end", -6)
        parts.append(
            f'<g class="marker"><title>{label} {_esc(view.clock.when(at))}</title>'
            f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x:.1f}" y2="{_AXIS_Y}" stroke="{color}" '
            f'stroke-dasharray="3 2"/><circle cx="{x:.1f}" cy="{_AXIS_Y}" r="6" fill="{color}"/>'
            f'<text x="{x + dx:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{color}">'
            f"{label} {view.clock.pair(at)[0][11:]} UTC</text></g>\n")


def _svg_ends(parts: list[str], view: View, axis: _Axis) -> None:
    clock, label = view.clock, _esc(view.clock.label)
    for ts, x, anchor in ((axis.start, _X0, "start"), (axis.start + axis.span, _X1, "end")):
        utc, local = clock.pair(dt.datetime.fromtimestamp(ts, UTC))
        parts.append(f'<text x="{x}" y="154" text-anchor="{anchor}">{utc} UTC</text>'
                     f'<text x="{x}" y="174" text-anchor="{anchor}" fill="#59636e">'
                     f"{local} {label}</text>\n")
