"""Bounds on what people can store, so one paste cannot bloat every card and page."""

from __future__ import annotations

import re

MAX_TITLE = 200
MAX_TEXT = 4000
# Display names are the person's own choice in Entra: stored in 256-character columns.
MAX_NAME = 128
# Control characters, and the bidi embeddings, overrides and isolates that make
# "\u202eevil" read as "live" (the marks U+200E/U+200F that RTL text needs stay).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Strip control characters and cut to `limit` characters, marking the cut."""
    cleaned = _CONTROL.sub("", text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + "…"
