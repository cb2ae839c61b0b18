"""Severities SEV1 (worst) to SEV4: their names, what each means, and what people type
for them.

What people type is data (`CODES`, `WORDS`), so that an organisation's own names can
later be read from its configuration. The command line (`bot.teams.command_line`) reads
them: codes anywhere a severity may be typed, words only where nothing but a severity is
expected (`sev critical`), since a title may well end in one (`declare disk space low`).
"""

from __future__ import annotations

HIGHEST = 1
LOWEST = 4
LABELS = {
    1: "SEV1: critical, customers broadly affected",
    2: "SEV2: major, significant impact or a key function down",
    3: "SEV3: minor, limited impact or a workaround exists",
    4: "SEV4: low, little or no customer impact",
}
# Codes, in lower case with spaces and hyphens left out: "SEV 1", "Sev-1" and "sev1" are
# all "sev1"; "P1" is "p1".
CODES: dict[str, int] = {
    "sev1": 1, "sev2": 2, "sev3": 3, "sev4": 4,
    "p1": 1, "p2": 2, "p3": 3, "p4": 4,
}
# Words, in lower case: the word each of LABELS gives its level.
WORDS: dict[str, int] = {"critical": 1, "major": 2, "minor": 3, "low": 4}


def name(level: int) -> str:
    """2 -> "SEV2"."""
    return f"SEV{level}"
