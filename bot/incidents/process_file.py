"""The organisation's process file (`SEVERITY_FILE`, TOML): its severity levels, their
names, aliases, criteria and the rules that depend on them, and squads' runbooks.

Read once at start (`bot.config` checks it, `bot.config.policy_of` builds the `Policy`
from it); each problem is one line naming the file and the line, and the start stops.
Without the file the built-in SEV1-SEV4 stay (`severity.BUILT_IN`).
docs/severity-and-runbooks.md has a complete example.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.incidents.severity import BUILT_IN, Level, SeverityScale, compact

# A code, alias or word, `compact`ed: one word a squad name could also be, not a number
# (`sev 2` and a bare `2` mean level 2).
_TOKEN = re.compile(r"^[a-z0-9]{1,32}$")
_SQUAD = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_LEVEL_KEYS = {"code": str, "name": str, "aliases": list, "words": list, "summary": str,
               "criteria": list, "review_meeting": bool, "stakeholders": bool,
               "checkin_minutes": int}
MAX_LEVELS = 9
MAX_CRITERIA = 6
MAX_LINE = 200
MAX_URL = 500


class ProcessFileError(ValueError):
    """The file cannot be used: one line per problem, each naming the file and the line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Process:
    """What the file says: the severity scale and runbook links by squad name."""

    severity: SeverityScale = BUILT_IN
    runbooks: tuple[tuple[str, str], ...] = ()


def runbook_problem(url: str) -> str | None:
    """Why a runbook link is not usable (only https links, no spaces), or None."""
    if len(url) > MAX_URL:
        return f"a runbook link is at most {MAX_URL} characters"
    if not re.fullmatch(r"https://[^\s<>()\[\]{}\"'`\\*|]+", url) or url == "https://":
        return f"'{url[:80]}' is not an https:// link (runbook links must start with https://)"
    return None


def load(path: str, *, reserved: Collection[str] = ()) -> Process:
    """Read and check the file at `path`; `reserved` are words it may not use as codes
    (the command words). Raises `ProcessFileError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProcessFileError([f"SEVERITY_FILE {path}: cannot be read ({exc})"]) from None
    return parse(text, path, reserved=reserved)


def parse(text: str, path: str = "<file>", *, reserved: Collection[str] = ()) -> Process:
    """`load` without the reading."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_in_message(str(exc))
        if line is None and "end of document" in str(exc):
            line = max(len(text.splitlines()), 1)
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "",
                         str(exc))
        where = f" line {line}" if line else ""
        raise ProcessFileError([f"SEVERITY_FILE {path}{where}: not valid TOML: "
                                f"{message}"]) from None
    checker = _Checker(text, path, {compact(w) for w in reserved})
    process = checker.process(data)
    if checker.problems:
        raise ProcessFileError(checker.problems)
    return process


def _line_in_message(message: str) -> int | None:
    found = re.search(r"at line (\d+)", message)
    return int(found.group(1)) if found else None


class _Checker:
    """Collects every problem of the file, each with the line it is on."""

    def __init__(self, text: str, path: str, reserved: set[str]) -> None:
        self.lines = text.splitlines()
        self.path = path
        self.reserved = reserved
        self.problems: list[str] = []

    def problem(self, line: int | None, text: str) -> None:
        where = f" line {line}" if line else ""
        self.problems.append(f"SEVERITY_FILE {self.path}{where}: {text}")

    # --- where things are in the text --------------------------------------------------

    def _headers(self, pattern: str) -> list[int]:
        """The 1-based lines of the table headers matching `pattern`."""
        regex = re.compile(rf"^\s*{pattern}\s*(#.*)?$")
        return [i + 1 for i, line in enumerate(self.lines) if regex.match(line)]

    def _table_end(self, start: int) -> int:
        for i in range(start, len(self.lines)):
            if re.match(r"^\s*\[", self.lines[i]):
                return i
        return len(self.lines)

    def key_line(self, table_line: int | None, key: str) -> int | None:
        """The line of `key = ...` in the table whose header is on `table_line` (0: the
        top of the file), else the header's line."""
        start = table_line or 0
        end = self._table_end(start)
        regex = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for i in range(start, end):
            if regex.match(self.lines[i]):
                return i + 1
        return table_line or None

    # --- what it says --------------------------------------------------------------------

    def process(self, data: dict[str, Any]) -> Process:
        for key in data:
            if key not in ("level", "runbooks"):
                self.problem(self.key_line(None, key) or self._header_of(key),
                             f"unknown key '{key}' (the file has [[level]] tables and a "
                             "[runbooks] table)")
        levels = data.get("level")
        scale = BUILT_IN
        if levels is not None:
            headers = self._headers(r"\[\[\s*level\s*\]\]")
            if not isinstance(levels, list) or not all(isinstance(t, dict) for t in levels):
                self.problem(self.key_line(None, "level"),
                             "'level' must be [[level]] tables, one per severity")
            elif not levels:
                self.problem(None, "no [[level]] tables: give at least one severity")
            elif len(levels) > MAX_LEVELS:
                self.problem(headers[MAX_LEVELS] if len(headers) > MAX_LEVELS else None,
                             f"at most {MAX_LEVELS} levels")
            else:
                built = [self._level(n, table, headers[n - 1] if n <= len(headers) else None)
                         for n, table in enumerate(levels, start=1)]
                self._no_duplicates(built, headers)
                scale = SeverityScale(tuple(built), source=self.path)
        return Process(severity=scale, runbooks=self._runbooks(data.get("runbooks")))

    def _header_of(self, key: str) -> int | None:
        found = self._headers(rf"\[+\s*{re.escape(key)}\s*\]+")
        return found[0] if found else None

    def _level(self, number: int, table: dict[str, Any], header: int | None) -> Level:
        def at(key: str) -> int | None:
            return self.key_line(header, key)

        title = f"level {number}"
        for key, value in table.items():
            kind = _LEVEL_KEYS.get(key)
            if kind is None:
                self.problem(at(key), f"{title}: unknown key '{key}' (known: "
                             f"{', '.join(_LEVEL_KEYS)})")
            elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                self.problem(at(key), f"{title}: '{key}' must be "
                             f"{_KIND_WORDS[kind]}, not {value!r}"[:300])
        code = self._token(table.get("code"), at("code"), title, "code", required=True)
        given = table.get("name")
        name = given.strip() if isinstance(given, str) else ""
        if not name:
            if "name" not in table:
                self.problem(header, f"{title}: 'name' is missing (what cards show, e.g. "
                             "\"Critical\")")
            elif isinstance(table.get("name"), str):
                self.problem(at("name"), f"{title}: 'name' is empty")
        elif len(name) > 40:
            self.problem(at("name"), f"{title}: 'name' is longer than 40 characters")
        title = f"level {number} ({name or code or '?'})"
        aliases = [self._token(a, at("aliases"), title, "alias")
                   for a in self._strings(table, "aliases", at("aliases"), title)]
        words = [self._token(w, at("words"), title, "word")
                 for w in self._strings(table, "words", at("words"), title)]
        criteria = [c.strip() for c in self._strings(table, "criteria", at("criteria"), title)]
        if "criteria" not in table:
            self.problem(header, f"{title}: 'criteria' is missing (a few lines saying when "
                         "an incident is this severe)")
        elif isinstance(table["criteria"], list) and not [c for c in criteria if c]:
            self.problem(at("criteria"), f"{title}: 'criteria' is empty (a few lines saying "
                         "when an incident is this severe)")
        elif any(not c for c in criteria):
            self.problem(at("criteria"), f"{title}: a criterion is empty")
        if len(criteria) > MAX_CRITERIA or any(len(c) > MAX_LINE for c in criteria):
            self.problem(at("criteria"), f"{title}: at most {MAX_CRITERIA} criteria of "
                         f"{MAX_LINE} characters each")
        given_summary = table.get("summary")
        summary = given_summary if isinstance(given_summary, str) else ""
        if len(summary) > MAX_LINE:
            self.problem(at("summary"), f"{title}: 'summary' is longer than {MAX_LINE} "
                         "characters")
        minutes = table.get("checkin_minutes")
        if isinstance(minutes, int) and not isinstance(minutes, bool) and not (
                1 <= minutes <= 24 * 60):
            self.problem(at("checkin_minutes"), f"{title}: 'checkin_minutes' must be 1 to "
                         f"{24 * 60}, not {minutes}")
            minutes = None
        review = table.get("review_meeting")
        stakeholders = table.get("stakeholders", True)
        return Level(
            number=number, name=name or (code or f"level{number}"),
            codes=tuple(t for t in [code, *aliases] if t),
            words=tuple(w for w in words if w),
            criteria=tuple(c for c in criteria if c),
            summary=summary.strip() or (criteria[0] if criteria else ""),
            review_meeting=review if isinstance(review, bool) else None,
            stakeholders=stakeholders if isinstance(stakeholders, bool) else True,
            checkin_minutes=minutes if isinstance(minutes, int) and not isinstance(
                minutes, bool) else None,
        )

    def _strings(self, table: dict[str, Any], key: str, line: int | None,
                 title: str) -> list[str]:
        value = table.get(key, [])
        if not isinstance(value, list):
            return []  # said already: the wrong type
        if not all(isinstance(v, str) for v in value):
            self.problem(line, f"{title}: '{key}' must be a list of strings")
            return []
        return list(value)

    def _token(self, value: object, line: int | None, title: str, what: str, *,
               required: bool = False) -> str:
        """A code, alias or word as people type it, `compact`ed; "" if unusable (said)."""
        if value is None:
            if required:
                self.problem(line, f"{title}: '{what}' is missing (what people type, "
                             "e.g. \"sev1\")")
            return ""
        if not isinstance(value, str):
            return ""  # said already: the wrong type
        token = compact(value)
        if not _TOKEN.match(token) or token.isdigit():
            self.problem(line, f"{title}: {what} '{value}' is not one word of letters and "
                         "digits (a number alone already means that level)")
            return ""
        if token in self.reserved:
            self.problem(line, f"{title}: {what} '{value}' is a command word "
                         f"(`@incident {token}`); choose another")
            return ""
        return token

    def _no_duplicates(self, levels: list[Level], headers: list[int]) -> None:
        seen: dict[str, int] = {}
        for level in levels:
            header = headers[level.number - 1] if level.number <= len(headers) else None
            for token in (*level.codes, *level.words):
                first = seen.setdefault(token, level.number)
                if token in seen and first == level.number and seen.get(f"#{token}") is None:
                    seen[f"#{token}"] = level.number  # its first mention
                    continue
                where = "twice in this level" if first == level.number else f"also level {first}'s"
                self.problem(self._token_line(header, token) or header,
                             f"level {level.number} ({level.name}): '{token}' is {where}; "
                             "each code, alias and word means one level")

    def _token_line(self, header: int | None, token: str) -> int | None:
        """The last line of the table that has `token` in quotes (a repeat is the later)."""
        start = header or 0
        found = None
        for i in range(start, self._table_end(start)):
            line = compact(self.lines[i])
            if f'"{token}"' in line or f"'{token}'" in line:
                found = i + 1
        return found

    def _runbooks(self, table: object) -> tuple[tuple[str, str], ...]:
        if table is None:
            return ()
        header = self._header_of("runbooks")
        if not isinstance(table, dict):
            self.problem(header, "'runbooks' must be a table: [runbooks] then squad = "
                         "\"https://...\"")
            return ()
        links = []
        for squad, url in table.items():
            line = self.key_line(header, squad)
            if not _SQUAD.match(squad.lower()):
                self.problem(line, f"runbooks: '{squad}' is not a squad name (letters, "
                             "digits, - and _)")
            elif not isinstance(url, str):
                self.problem(line, f"runbooks: {squad} must be an https:// link in quotes")
            elif (why := runbook_problem(url.strip())) is not None:
                self.problem(line, f"runbooks: {squad}: {why}")
            else:
                links.append((squad.lower(), url.strip()))
        return tuple(links)


_KIND_WORDS: dict[type, str] = {str: "a string in quotes", list: "a list [\"...\", ...]",
                                bool: "true or false", int: "a whole number"}
