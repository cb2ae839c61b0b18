"""Teams message bodies (HTML) as plain text, for storing a message in a timeline.

Parsed with the standard library's tolerant HTMLParser, never with regular expressions:
tags are dropped, entities decoded, script and style content skipped, block elements
become line breaks. The result is data for a TextBlock, never markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_BLOCKS = frozenset({"br", "p", "div", "li", "tr", "blockquote", "pre", "h1", "h2", "h3",
                     "h4", "h5", "h6", "hr", "ul", "ol", "table"})
_SKIPPED = frozenset({"script", "style", "head", "title", "template"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# Work on a bounded prefix: a pasted page must not cost seconds of parsing in a 5 s invoke.
MAX_HTML = 100_000


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []  # <a href>, as written (checked by whoever keeps them)
        self.images: list[tuple[str, str]] = []  # <img> alt and src
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")
        elif tag == "img":
            alt = dict(attrs).get("alt")
            self.parts.append(f"[{alt}]" if alt else "[image]")
            if not self._skipping:
                self.images.append((alt or "image", dict(attrs).get("src") or ""))
        if tag == "a" and not self._skipping:
            href = dict(attrs).get("href")
            if href:
                self.links.append(href.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


@dataclass(frozen=True)
class ReadMessage:
    """A message body read: its text, the links it carries and its inline images
    (alt text and source), neither followed nor fetched."""

    text: str
    links: tuple[str, ...]
    images: tuple[tuple[str, str], ...]


def read_message(content: str, *, html: bool = True) -> ReadMessage:
    """The readable text of a message body, with its links and inline images."""
    content = content[:MAX_HTML]
    links: tuple[str, ...] = ()
    images: tuple[tuple[str, str], ...] = ()
    if html:
        collector = _TextCollector()
        collector.feed(content)
        collector.close()
        content = "".join(collector.parts)
        links, images = tuple(collector.links), tuple(collector.images)
    lines = (_SPACES.sub(" ", line).strip() for line in content.split("\n"))
    return ReadMessage(_BLANK_LINES.sub("\n\n", "\n".join(lines)).strip(), links, images)


def plain_text(content: str, *, html: bool = True) -> str:
    """The readable text of a message body; `html=False` for Teams' plain-text bodies."""
    return read_message(content, html=html).text
