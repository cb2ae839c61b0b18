"""The Post Incident Review as one HTML page (what the review link shows, and the Google
Docs export), in the review template's order and words (`bot.web.review_template`).

User text never shapes the page: every user string goes through `html.escape`; only
http(s) URLs become `<a href>`. Nor does the template's own text: it is escaped too, and
only its small Markdown subset (headings, paragraphs, lists, bold, italics, http(s)
links) becomes tags.
"""

from __future__ import annotations

import html

from bot.incidents.event_kinds import category_of
from bot.incidents.pir_record import PirRecord
from bot.web import review_content as content
from bot.web import review_template as template
from bot.web.review_chart import PALETTE, timeline_svg

_esc = html.escape

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
""" + "".join(f".c-{cat}{{--c:{color}}}\n" for cat, color in PALETTE.items())

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
    return "".join(_anchor(part) if is_url else _esc(part) for part, is_url in content.text_pieces(text))


_STYLE = content.FragStyle(plain=_esc, bold=lambda text: f"<strong>{_esc(text)}</strong>",
                           rich=lambda text: _html_rich(" ".join(text.split())), link=_anchor)


def _html_frag(frag: content.Frag) -> str:
    return content.render_frag(frag, _STYLE)


def _html_block(parts: list[str], block: content.Block) -> None:
    if block.heading:
        parts.append(f"<h3>{_esc(block.heading)}</h3>\n")
    paragraphs = content.split_paragraphs(block.prose or "")
    if block.items:
        parts.append("<ul>\n")
        parts.extend(f"<li>{''.join(map(_html_frag, line))}</li>\n" for line in block.items)
        parts.append("</ul>\n")
    elif paragraphs:
        parts.extend(f"<p>{'<br>'.join(map(_html_rich, p))}</p>\n" for p in paragraphs)
    else:
        parts.append(f'<p class="prompt">{_esc(block.prompt)}</p>\n')


def _html_events(parts: list[str], view: content.View) -> None:
    if not view.events:
        parts.append('<p class="prompt">No events recorded.</p>\n')
        return
    pair, name, category = view.clock.pair, content.memo(_esc), content.memo(category_of)
    parts.append('<div class="scroll"><table class="events">\n<thead><tr><th>UTC</th>'
                 f"<th>{_esc(view.clock.label)}</th><th>Kind</th><th>Who</th><th>What</th>"
                 "</tr></thead>\n<tbody>\n")
    for event in view.events:
        utc, local = pair(event.at)
        parts.append(f'<tr><td>{utc}</td><td>{local}</td><td class="k c-{category(event.kind)}">'
                     f"{name(event.kind)}</td><td>{name(event.actor or 'bot')}</td>"
                     f"<td>{_html_rich(event.text)}</td></tr>\n")
    parts.append("</tbody>\n</table></div>\n")


def _legend(view: content.View) -> str:
    present = {category_of(kind) for kind in {event.kind for event in view.events}}
    items = "".join(f'<li class="k c-{cat}">{cat}</li>' for cat in PALETTE if cat in present)
    return f'<ul class="legend">{items}</ul>\n' if items else ""


def _html_line(line: template.Line, view: content.View) -> str:
    out: list[str] = []
    for node in line:
        if isinstance(node, template.Text):
            out.append(_html_rich(node.text))  # escaped; http(s) URLs become links
        elif isinstance(node, template.Value):
            out.extend(map(_html_frag, content.value_of(view, node.name)))
        elif isinstance(node, template.Strong):
            out.append(f"<strong>{_html_line(node.children, view)}</strong>")
        elif isinstance(node, template.Emphasis):
            out.append(f"<em>{_html_line(node.children, view)}</em>")
        else:
            out.append(f'<a href="{_esc(node.url)}" rel="noopener noreferrer">'
                       f"{_html_line(node.children, view)}</a>")
    return "".join(out)


def _html_piece(parts: list[str], piece: content.Piece, view: content.View) -> None:
    if piece.chart:
        parts += ['<div class="scroll">', timeline_svg(view), "</div>\n", _legend(view)]
    if piece.timeline:
        _html_events(parts, view)
    if piece.summary is not None:
        parts.append(f"<details>\n<summary>{_esc(piece.summary)}</summary>\n")
    for block in piece.blocks:
        _html_block(parts, block)
    if piece.summary is not None:
        parts.append("</details>\n")


def _html_element(parts: list[str], element: template.Element, view: content.View) -> None:
    if isinstance(element, template.Blocks):
        _html_piece(parts, content.piece_of(view, element.name), view)
    elif isinstance(element, template.Heading):
        parts.append(f"<h{element.level}>{_html_line(element.text, view)}</h{element.level}>\n")
    elif isinstance(element, template.Paragraph):
        parts.append(f"<p>{_html_line(element.text, view)}</p>\n")
    elif isinstance(element, template.Bullets):
        tag = "ol" if element.numbered else "ul"
        parts.append(f"<{tag}>\n")
        parts.extend(f"<li>{_html_line(item, view)}</li>\n" for item in element.items)
        parts.append(f"</{tag}>\n")
    else:
        parts.append("<hr>\n")


def _title_text(line: template.Line, view: content.View) -> str:
    out: list[str] = []
    for node in line:
        if isinstance(node, template.Text):
            out.append(node.text)
        elif isinstance(node, template.Value):
            out.append(content.plain(content.value_of(view, node.name)))
        else:
            out.append(_title_text(node.children, view))
    return "".join(out)


def render_html(record: PirRecord, layout: template.ReviewTemplate = template.BUILT_IN) -> str:
    """Render the PIR draft as one self-contained HTML page (inline CSS and SVG, no
    scripts), in the order and words of `layout` (the review template)."""
    view = content.view_of(record)
    heading = layout.title
    title = (_title_text(heading, view) if heading is not None
             else f"PIR: INC-{record.number} {record.title}")
    parts = [_HEAD, f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
             "<main>\n"]
    # A section per `## ` heading; what comes before the first one is a section of its own.
    open_section = False
    for element in layout.elements:
        level = element.level if isinstance(element, template.Heading) else 0
        if open_section and level in (1, 2):
            parts.append("</section>\n")
            open_section = False
        if not open_section and level != 1:
            parts.append("<section>\n")
            open_section = True
        _html_element(parts, element, view)
    if open_section:
        parts.append("</section>\n")
    parts.append("</main>\n</body>\n</html>\n")
    return "".join(parts)
