"""The Post Incident Review as Markdown (the download), in the review template's order
and words (`bot.web.review_template`).

User text never shapes the document: it is placed inline (list items, table cells), its
whitespace folded, every character Markdown acts on inline backslash-escaped
(\\ ` * _ [ ] < > | ~ & # $), and a line-leading `-`, `+`, `=` or `1.` neutralised.
http(s) URLs become `<autolinks>`, whose content Markdown takes literally. The
people-written sections keep their paragraphs. The template's own text is escaped the
same way, but for its bold, italics and http(s) links.
"""

from __future__ import annotations

import re

from bot.incidents.pir_record import PirRecord
from bot.web import review_content as content
from bot.web import review_template as template

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
    return "".join(f"<{part}>" if is_url else _md_escape(part) for part, is_url in content.text_pieces(text))


def _md_words(text: str) -> str:
    """`_md_rich` keeping the spaces at its ends (between the template's words and values)."""
    return "".join(f"<{part}>" if is_url else _md_escape(part)
                   for part, is_url in content.text_pieces(text))


_STYLE = content.FragStyle(plain=_md_escape, bold=lambda text: f"**{_md_escape(text)}**",
                           rich=_md_rich, link=lambda url: f"<{url}>")


def _md_frag(frag: content.Frag) -> str:
    return content.render_frag(frag, _STYLE)


def _md_block(out: list[str], block: content.Block) -> None:
    if block.heading:
        out += [f"### {block.heading}", ""]
    paragraphs = content.split_paragraphs(block.prose or "")
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


def _md_timeline(out: list[str], view: content.View) -> None:
    if not view.events:
        out += ["_No events recorded._", ""]
        return
    pair, name = view.clock.pair, content.memo(_md_escape)
    out.append(f"| UTC | {_md_escape(view.clock.label)} | Kind | Who | What |")
    out.append("|---|---|---|---|---|")
    for event in view.events:
        utc, local = pair(event.at)
        out.append(f"| {utc} | {local} | {name(event.kind)} | {name(event.actor or 'bot')} "
                   f"| {_md_rich(event.text)} |")
    out.append("")


def _md_line(line: template.Line, view: content.View) -> str:
    """The template's own words with everything Markdown could act on escaped (so the
    download says what the HTML page shows), and its bold, italics and links."""
    out: list[str] = []
    for node in line:
        if isinstance(node, template.Text):
            out.append(_md_words(node.text))
        elif isinstance(node, template.Value):
            out.extend(map(_md_frag, content.value_of(view, node.name)))
        elif isinstance(node, template.Strong):
            out.append(f"**{_md_line(node.children, view)}**")
        elif isinstance(node, template.Emphasis):
            out.append(f"_{_md_line(node.children, view)}_")
        else:
            out.append(f"[{_md_line(node.children, view)}]({node.url})")
    return "".join(out)


def _md_element(out: list[str], element: template.Element, view: content.View) -> None:
    if isinstance(element, template.Blocks):
        piece = content.piece_of(view, element.name)
        if piece.timeline:
            _md_timeline(out, view)
        for block in piece.blocks:
            _md_block(out, block)
        return  # the chart is the HTML page's only: nothing here
    if isinstance(element, template.Heading):
        out.append(f"{'#' * element.level} {_md_line(element.text, view)}")
    elif isinstance(element, template.Paragraph):
        out.append(_md_lead(_md_line(element.text, view).lstrip()))
    elif isinstance(element, template.Bullets):
        out.extend(f"{f'{n}.' if element.numbered else '-'} {_md_lead(_md_line(item, view).lstrip())}"
                   for n, item in enumerate(element.items, 1))
    else:
        out.append("---")
    out.append("")


def render_markdown(record: PirRecord, layout: template.ReviewTemplate = template.BUILT_IN
                    ) -> str:
    """Render the PIR draft as Markdown, in the order and words of `layout` (the review
    template)."""
    view = content.view_of(record)
    out: list[str] = []
    for element in layout.elements:
        _md_element(out, element, view)
    return "\n".join(out)
