"""Severities SEV1 (worst) to SEV4: their names and what each means."""

from __future__ import annotations

HIGHEST = 1
LOWEST = 4
LABELS = {
    1: "SEV1: critical, customers broadly affected",
    2: "SEV2: major, significant impact or a key function down",
    3: "SEV3: minor, limited impact or a workaround exists",
    4: "SEV4: low, little or no customer impact",
}
def name(level: int) -> str:
    """2 -> "SEV2"."""
    return f"SEV{level}"
