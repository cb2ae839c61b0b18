"""User text made inert for Teams, which renders message text and card TextBlocks as
Markdown (and on some clients as HTML).

A title like `**URGENT** [click](https://evil)` or `<at>Everyone</at>` must show as typed,
not as formatting, a disguised link or a fake mention. HTML-significant characters become
entities (every Teams client decodes them; a raw `<at>` is never seen) and Markdown
punctuation gets a backslash. Characters that only matter at the start of a line (`#`,
`-`, `1.`) are escaped only there, and links are left alone so they still open.
"""

from __future__ import annotations

import re

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# `{` too: on a card, `{{DATE(...)}}` in someone's text would be expanded as a date
# function (Adaptive Cards "Text features"); `\{\{` shows as typed and is not one.
_INLINE = re.compile(r"[\\`*_\[\]~|{]")
_LEADING = re.compile(r"^([ \t]*\d*)([#+=.)-])", re.MULTILINE)
_URL = re.compile(r"https?://[^\s<>\"'\\`*\[\]()|]+")


def literal(text: str) -> str:
    """`text` exactly as typed when Teams renders it."""
    out: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        out.append(_escape(text[last:match.start()]))
        out.append(match.group().translate(_ENTITIES))
        last = match.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def _escape(piece: str) -> str:
    piece = _INLINE.sub(_backslashed, piece.translate(_ENTITIES))
    return _LEADING.sub(r"\1\\\2", piece)


def _backslashed(match: re.Match[str]) -> str:
    return "\\" + match.group()
