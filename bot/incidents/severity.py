"""Severities: their names, what each means, what people type for them, and the rules that
depend on them. Level 1 is the most severe; the number is what an incident stores.

The levels are a `SeverityScale`, built once at start: the built-in SEV1 (worst) to SEV4
(`BUILT_IN`), or the organisation's own from its process file (`SEVERITY_FILE`,
`bot/incidents/process_file.py`). It reaches the domain as `Ctx.policy.severity` and the
transport through the same `Policy`; nothing reads a level from a module constant.

What people type is data: codes (`sev2`, `p2`) anywhere a severity may be typed, words
(`major`) only where nothing but a severity is expected (`sev critical`), since a title
may well end in one (`declare disk space low`). The command line
(`bot.teams.command_line`) reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def compact(text: str) -> str:
    """Lower case without spaces, hyphens and underscores: "SEV-1" -> "sev1"."""
    return re.sub(r"[\s_-]+", "", text.lower())


@dataclass(frozen=True)
class Level:
    """One severity: its number (1 the most severe), what it is called and typed, what it
    means, and the rules that depend on it (None: the configured default)."""

    number: int
    name: str
    # Typed in a title or after `sev`, `compact`ed; the first is the level's own code.
    codes: tuple[str, ...]
    # Typed only after `sev` (a title may end in one), in lower case.
    words: tuple[str, ...] = ()
    # What makes an incident this severe, a few lines.
    criteria: tuple[str, ...] = ()
    # One line for choices and usage ("critical, customers broadly affected").
    summary: str = ""
    # A review meeting is proposed when the review opens (None: REVIEW_MEETING_SEVERITY).
    review_meeting: bool | None = None
    # Status updates also go to the team's stakeholder channel.
    stakeholders: bool = True
    # The Investigator's private check-ins come this often (None: CHECKIN_INTERVAL_MINUTES).
    checkin_minutes: int | None = None

    @property
    def label(self) -> str:
        """"SEV1: critical, customers broadly affected"."""
        return f"{self.name}: {self.summary or '; '.join(self.criteria)}"


@dataclass(frozen=True)
class SeverityScale:
    """The organisation's severities, most severe first (their numbers are 1..N)."""

    levels: tuple[Level, ...]
    # Where they came from, for messages: "built-in" or the file's path.
    source: str = "built-in"

    @property
    def highest(self) -> int:
        """The most severe level's number (assumed when none is given)."""
        return 1

    @property
    def lowest(self) -> int:
        """The least severe level's number."""
        return len(self.levels)

    def level(self, number: int) -> Level:
        """The level of that number; an out-of-range stored number (a file with fewer
        levels than an old incident's) reads as the least severe."""
        return self.levels[min(max(number, 1), len(self.levels)) - 1]

    def name(self, number: int) -> str:
        """2 -> "SEV2" (or the file's name for level 2)."""
        if 1 <= number <= len(self.levels):
            return self.levels[number - 1].name
        return f"SEV{number}"

    @property
    def codes(self) -> dict[str, int]:
        """Every code, each level's first code first ("sev1", "sev2", ..., "p1", ...)."""
        table: dict[str, int] = {}
        for i in range(max(len(level.codes) for level in self.levels)):
            for level in self.levels:
                if i < len(level.codes):
                    table.setdefault(level.codes[i], level.number)
        return table

    @property
    def words(self) -> dict[str, int]:
        """Every word `sev` alone reads, in order."""
        return {w: level.number for level in self.levels for w in level.words}

    @property
    def labels(self) -> dict[int, str]:
        """Each level's one-line label, by number."""
        return {level.number: level.label for level in self.levels}


BUILT_IN = SeverityScale((
    Level(1, "SEV1", ("sev1", "p1"), ("critical",),
          ("Customers broadly affected",), "critical, customers broadly affected"),
    Level(2, "SEV2", ("sev2", "p2"), ("major",),
          ("Significant impact, or a key function down",),
          "major, significant impact or a key function down"),
    Level(3, "SEV3", ("sev3", "p3"), ("minor",),
          ("Limited impact, or a workaround exists",),
          "minor, limited impact or a workaround exists"),
    Level(4, "SEV4", ("sev4", "p4"), ("low",),
          ("Little or no customer impact",), "low, little or no customer impact"),
))

# The built-in scale's tables, for code that has no `Policy` at hand (the review renderers,
# channel names and private incidents' redacted line still name levels this way).
HIGHEST = BUILT_IN.highest
LOWEST = BUILT_IN.lowest
LABELS = BUILT_IN.labels
CODES: dict[str, int] = BUILT_IN.codes
WORDS: dict[str, int] = BUILT_IN.words


def name(level: int) -> str:
    """2 -> "SEV2", in the built-in scale (`SeverityScale.name` for the configured one)."""
    return BUILT_IN.name(level)
