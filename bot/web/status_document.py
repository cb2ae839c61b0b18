"""The public status page as HTML, JSON and an Atom 1.0 feed, from a `StatusView`.

Pure functions, no I/O. Every published string is text, never markup: HTML goes through
`html.escape`, Atom is built with ElementTree (which escapes), JSON is JSON. The HTML page
is self-contained (inline CSS, no scripts, no external assets) and fits a phone screen.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET
from typing import Any

from bot.incidents.status_page import IncidentView, StatusView

ATOM_NS = "http://www.w3.org/2005/Atom"
# Characters XML 1.0 cannot carry at all, escaped or not (ElementTree would write them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LABELS = {"investigating": "Investigating", "identified": "Identified",
           "monitoring": "Monitoring", "resolved": "Resolved"}
_CSS = """
body{font:16px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}main{max-width:46rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
h3{font-size:1.05rem;margin:0 0 .25rem;overflow-wrap:anywhere}
.banner{padding:.75rem 1rem;border-radius:6px;font-weight:600;color:#fff;background:#1a7f37}
.banner.down{background:#bc4c00}.card{background:#fff;border:1px solid #d0d7de;
border-radius:6px;padding:.75rem 1rem;margin:.75rem 0}
ul.components{list-style:none;padding:0;margin:0}ul.components li{display:flex;
justify-content:space-between;padding:.35rem 0;border-bottom:1px solid #eaeef2}
.ok{color:#1a7f37}.bad{color:#bc4c00}.meta{color:#57606a;font-size:.875rem}
ol.updates{list-style:none;padding:0;margin:.5rem 0 0}ol.updates li{margin:.5rem 0}
.status{font-weight:600}p.text{margin:.1rem 0;white-space:pre-wrap;overflow-wrap:anywhere}
footer{color:#57606a;font-size:.8rem;margin:2rem 0}a{color:#0969da}
"""


def iso(moment: dt.datetime) -> str:
    """RFC 3339 in UTC, to the second: `2026-11-27T09:12:00Z`."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shown(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%d %b %Y %H:%M UTC")


def render_json(view: StatusView) -> dict[str, Any]:
    """The stable `/status.json` schema (documented in docs/configuration.md)."""
    affected = view.affected()
    return {
        "page": {"title": view.title, "url": f"{view.base_url}/status",
                 "updated_at": iso(view.updated_at)},
        "status": "incident" if view.current else "operational",
        "components": [{"name": c, "status": "affected" if c in affected else "operational"}
                       for c in view.components],
        "incidents": [_incident_json(i) for i in view.incidents],
    }


def _incident_json(incident: IncidentView) -> dict[str, Any]:
    return {
        "id": incident.id, "title": incident.title, "status": incident.status,
        "components": list(incident.components),
        "published_at": iso(incident.published_at), "updated_at": iso(incident.updated_at),
        "resolved_at": iso(incident.resolved_at) if incident.resolved_at else None,
        "updates": [{"id": u.id, "status": u.status, "text": u.text,
                     "published_at": iso(u.published_at)} for u in incident.updates],
    }


def render_html(view: StatusView) -> str:
    """The page people open, on a phone or a desk."""
    e = html.escape
    current = view.current
    banner = (f'<p class="banner down">{len(current)} incident'
              f'{"s" if len(current) != 1 else ""} in progress</p>' if current
              else '<p class="banner">All systems operational</p>')
    parts = ['<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width,initial-scale=1">',
             f"<title>{e(view.title)}</title>",
             f'<link rel="alternate" type="application/atom+xml" title="{e(view.title)}" '
             f'href="{e(view.base_url)}/status.atom">',
             f"<style>{_CSS}</style></head><body><main>",
             f"<h1>{e(view.title)}</h1>", banner]
    if view.components:
        affected = view.affected()
        parts.append('<section class="card"><ul class="components">')
        for name in view.components:
            state = ('<span class="bad">Affected</span>' if name in affected
                     else '<span class="ok">Operational</span>')
            parts.append(f"<li><span>{e(name)}</span>{state}</li>")
        parts.append("</ul></section>")
    parts.append("<h2>Current incidents</h2>")
    parts += [_incident_html(i) for i in current] or ['<p class="meta">None.</p>']
    parts.append("<h2>Recently resolved</h2>")
    parts += [_incident_html(i) for i in view.recent] or ['<p class="meta">None.</p>']
    parts.append(f'<footer>Updated {e(_shown(view.updated_at))} · '
                 f'<a href="{e(view.base_url)}/status.atom">Atom feed</a> · '
                 f'<a href="{e(view.base_url)}/status.json">JSON</a></footer>')
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _incident_html(incident: IncidentView) -> str:
    e = html.escape
    label = _LABELS.get(incident.status, incident.status)
    lines = [f'<article class="card" id="incident-{incident.id}">',
             f"<h3>{e(incident.title)}</h3>",
             f'<p class="meta">{e(label)}'
             + (f" · Affects {e(', '.join(incident.components))}" if incident.components else "")
             + f" · Since {e(_shown(incident.published_at))}</p>", '<ol class="updates">']
    for update in incident.updates:
        lines.append(f'<li id="update-{update.id}"><span class="status">'
                     f'{e(_LABELS.get(update.status, update.status))}</span> '
                     f'<span class="meta">{e(_shown(update.published_at))}</span>'
                     f'<p class="text">{e(update.text)}</p></li>')
    lines.append("</ol></article>")
    return "\n".join(lines)


def render_atom(view: StatusView) -> bytes:
    """A valid Atom 1.0 feed: one entry per published update, newest first."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = _NOT_XML.sub("\ufffd", text)
        return element

    page = f"{view.base_url}/status"
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", page)
    sub(feed, "title", view.title)
    sub(feed, "updated", iso(view.updated_at))
    sub(sub(feed, "author"), "name", view.title)
    sub(feed, "link", rel="self", type="application/atom+xml", href=f"{page}.atom")
    sub(feed, "link", rel="alternate", type="text/html", href=page)
    entries = [(u, i) for i in view.incidents for u in i.updates]
    entries.sort(key=lambda pair: (pair[0].published_at, pair[0].id), reverse=True)
    for update, incident in entries:
        entry = sub(feed, "entry")
        sub(entry, "id", f"{page}#update-{update.id}")
        label = _LABELS.get(update.status, update.status)
        sub(entry, "title", f"{incident.title}: {label}")
        sub(entry, "updated", iso(update.published_at))
        sub(entry, "published", iso(update.published_at))
        sub(entry, "link", rel="alternate", type="text/html", href=f"{page}#incident-{incident.id}")
        sub(entry, "content", update.text, type="text")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
