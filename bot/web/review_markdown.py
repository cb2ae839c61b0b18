"""The Post Incident Review as Markdown (the download).

User text never shapes the document: it is placed inline (list items, table cells), its
whitespace folded, every character Markdown acts on inline backslash-escaped
(\\ ` * _ [ ] < > | ~ & # $), and a line-leading `-`, `+`, `=` or `1.` neutralised.
http(s) URLs become `<autolinks>`, whose content Markdown takes literally. The
people-written sections keep their paragraphs.
"""

from __future__ import annotations

import re

from bot.incidents.pir_record import PirRecord
from bot.web import review_content as content

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


def render_markdown(record: PirRecord) -> str:
    """Render the PIR draft as Markdown."""
    view = content.view_of(record)
    out = [f"# PIR: INC-{record.number} {_md_escape(record.title)}", ""]
    for section in content.document_sections(view):
        if section.title:
            out += [f"## {section.title}", ""]
        if section.timeline:
            _md_timeline(out, view)
        for block in section.blocks:
            _md_block(out, block)
    return "\n".join(out)
