"""Severities SEV1 (worst) to SEV4, and reading them from what people type."""

from __future__ import annotations

import re

HIGHEST = 1
LOWEST = 4
LABELS = {
    1: "SEV1: critical, customers broadly affected",
    2: "SEV2: major, significant impact or a key function down",
    3: "SEV3: minor, limited impact or a workaround exists",
    4: "SEV4: low, little or no customer impact",
}
_TOKEN = re.compile(r"^sev([1-4])$", re.IGNORECASE)


def parse(token: str) -> int | None:
    """`sev2` (any case) -> 2; anything else -> None."""
    match = _TOKEN.match(token.strip())
    return int(match.group(1)) if match else None


def name(level: int) -> str:
    """2 -> "SEV2"."""
    return f"SEV{level}"
