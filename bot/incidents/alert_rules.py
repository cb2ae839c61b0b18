"""The alert rules file (ALERT_RULES_FILE, docs/alerts.md): which monitoring systems may
post alerts (`[[source]]`), how each proves who it is, and which alerts offer an incident
(`[[rule]]`), at what severity, for which squad, with which title.

It is TOML, read with the standard library's `tomllib`, once, at start: every problem is
one line naming the file and the line (`RulesError`), so `incident-bot` refuses to start
(exit 2) instead of ignoring a rule. Secrets are never in the file: a source names the
environment variable that holds its token or HMAC secret (`token_env`,
`hmac_secret_env`), and `bot/config.py`, the only reader of the environment, hands the
variables over.

Titles pick fields of the notification, not a template language: `{commonAnnotations.summary}`,
`{commonLabels.<name>}`, `{groupLabels.<name>}`, `{receiver}` and (Grafana) `{title}`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.incidents import severity as sev

KINDS = ("alertmanager", "grafana")
# Grafana's default signature header (Grafana docs, "Configure webhook notifications",
# HMAC signature: https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/).
GRAFANA_SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"
DEFAULT_TITLE = "{commonAnnotations.summary}"
# A source's name is the last part of its URL: /api/alerts/<name>.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HEADER = re.compile(r"[A-Za-z0-9-]{1,64}")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_FIELD = re.compile(r"(?:(commonAnnotations|commonLabels|groupLabels)\.([A-Za-z0-9_]+)"
                    r"|(receiver|title))")
_SOURCE_KEYS = {"name", "kind", "token_env", "hmac_secret_env", "signature_header",
                "timestamp_header"}
_RULE_KEYS = {"source", "match", "severity", "squad", "title", "team"}


class RulesError(ValueError):
    """The rules file cannot be used; one line per problem."""


@dataclass(frozen=True)
class AlertSource:
    """One system allowed to post alerts, at /api/alerts/<name>."""

    name: str
    kind: str
    # Exactly one of: a bearer token (`Authorization: Bearer <token>`), an HMAC secret.
    token: SecretStr | None = None
    hmac_secret: SecretStr | None = None
    signature_header: str = GRAFANA_SIGNATURE_HEADER
    # When set, the signed text is "<timestamp>:<body>" and the timestamp must be recent.
    timestamp_header: str = ""


@dataclass(frozen=True)
class AlertRule:
    """Alerts of `source` whose common labels include `match` offer an incident."""

    source: str
    match: tuple[tuple[str, str], ...]
    severity: int
    squad: str | None = None
    title: str = DEFAULT_TITLE
    # The Teams team (its id as Teams sends it) whose incidents channel gets the card;
    # None: the one team set up (docs/alerts.md, "Where the card goes").
    team: str | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every label the rule names has its value among `labels`."""
        return all(labels.get(name) == value for name, value in self.match)


@dataclass(frozen=True)
class AlertRules:
    """The whole file: sources by name, rules in the file's order (the first match wins)."""

    sources: Mapping[str, AlertSource] = field(default_factory=dict)
    rules: tuple[AlertRule, ...] = ()

    def rule_for(self, source: str, labels: Mapping[str, str]) -> AlertRule | None:
        """The first rule of `source` that matches, or None."""
        return next((r for r in self.rules if r.source == source and r.matches(labels)), None)

    def secrets(self) -> list[str]:
        """Every token and HMAC secret, for the leak checks and the log redaction."""
        values = [s.token or s.hmac_secret for s in self.sources.values()]
        return [v.get_secret_value() for v in values if v is not None]


def title_fields(title: str) -> list[str]:
    """The placeholders in `title` that name no field (empty when all are known)."""
    return [p for p in _PLACEHOLDER.findall(title) if not _FIELD.fullmatch(p.strip())]


def fill_title(title: str, pick: Mapping[str, Mapping[str, str]], plain: Mapping[str, str]) -> str:
    """`title` with each `{field}` replaced: `pick` holds the label and annotation maps,
    `plain` the top-level strings (`receiver`, `title`); a missing value is left empty."""
    def one(found: re.Match[str]) -> str:
        matched = _FIELD.fullmatch(found.group(1).strip())
        if matched is None:
            return ""
        group, key, top = matched.groups()
        return plain.get(top, "") if top else pick.get(group, {}).get(key, "")

    return re.sub(r"\s+", " ", _PLACEHOLDER.sub(one, title)).strip()


def load(path: str, env: Mapping[str, str], *,
         scale: sev.SeverityScale = sev.BUILT_IN) -> AlertRules:
    """Read and check the rules file (a rule's severity is one of `scale`'s codes, the
    organisation's when SEVERITY_FILE is set); `RulesError` lists every problem found."""
    where = Path(path)
    try:
        raw = where.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(f"ALERT_RULES_FILE {path}: cannot be read ({exc.__class__.__name__}: "
                         f"{getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's message ends "(at line N, column M)".
        raise RulesError(f"ALERT_RULES_FILE {path}: not valid TOML: {exc}") from None
    return _Reader(path, raw, env, scale).read(data)


class _Reader:
    """Checks the parsed file, naming the line of each problem."""

    def __init__(self, path: str, raw: str, env: Mapping[str, str],
                 scale: sev.SeverityScale) -> None:
        self.path = path
        self.scale = scale
        self.lines = raw.splitlines()
        self.env = env
        self.problems: list[str] = []

    def read(self, data: dict[str, Any]) -> AlertRules:
        for key in sorted(set(data) - {"source", "rule"}):
            self._problem(self._top_line(key), f"unknown key {key!r} (the file has "
                                               "[[source]] and [[rule]] tables)")
        sources = self._list(data, "source")
        rules = self._list(data, "rule")
        if not sources and not self.problems:
            self._problem(1, "no [[source]] table: name at least one system that posts alerts")
        read_sources: dict[str, AlertSource] = {}
        for index, table in enumerate(sources):
            source = self._source(index, table)
            if source is None:
                continue
            if source.name in read_sources:
                self._problem(self._line("source", index, "name"),
                              f"source {source.name!r} is defined twice")
            read_sources[source.name] = source
        read_rules = [rule for index, table in enumerate(rules)
                      if (rule := self._rule(index, table, read_sources, sources)) is not None]
        if self.problems:
            raise RulesError("\n".join(self.problems))
        return AlertRules(read_sources, tuple(read_rules))

    def _list(self, data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        tables = data.get(kind, [])
        if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
            self._problem(self._top_line(kind), f"{kind} must be written [[{kind}]] (a list "
                                                "of tables)")
            return []
        return tables

    def _source(self, index: int, table: dict[str, Any]) -> AlertSource | None:
        before = len(self.problems)
        self._unknown("source", index, table, _SOURCE_KEYS)
        name = self._text("source", index, table, "name")
        kind = self._text("source", index, table, "kind")
        if name is not None and not _NAME.fullmatch(name):
            self._problem(self._line("source", index, "name"),
                          f"source name {name!r} must be lower-case letters, digits, - and _ "
                          "(it is the end of the URL /api/alerts/<name>)")
        if kind is not None and kind not in KINDS:
            self._problem(self._line("source", index, "kind"),
                          f"kind {kind!r} is none of {', '.join(KINDS)}")
        token = self._secret("source", index, table, "token_env")
        secret = self._secret("source", index, table, "hmac_secret_env")
        if ("token_env" in table) == ("hmac_secret_env" in table):
            self._problem(self._line("source", index, "name"),
                          f"source {name or index + 1!r} needs exactly one of token_env "
                          "(a bearer token) or hmac_secret_env (an HMAC secret)")
        header = self._header(index, table, "signature_header") or GRAFANA_SIGNATURE_HEADER
        stamp = self._header(index, table, "timestamp_header") or ""
        if ("signature_header" in table or "timestamp_header" in table) and \
                "hmac_secret_env" not in table:
            self._problem(self._line("source", index, "signature_header")
                          if "signature_header" in table
                          else self._line("source", index, "timestamp_header"),
                          "signature_header and timestamp_header need hmac_secret_env")
        if len(self.problems) > before or name is None or kind is None:
            return None
        return AlertSource(name, kind, token=token, hmac_secret=secret,
                           signature_header=header, timestamp_header=stamp)

    def _rule(self, index: int, table: dict[str, Any], sources: dict[str, AlertSource],
              source_tables: list[dict[str, Any]]) -> AlertRule | None:
        before = len(self.problems)
        self._unknown("rule", index, table, _RULE_KEYS)
        source = self._text("rule", index, table, "source")
        named = {t.get("name") for t in source_tables}
        if source is not None and source not in named:
            known = ", ".join(sorted(str(n) for n in named if isinstance(n, str))) or "none"
            self._problem(self._line("rule", index, "source"),
                          f"rule names source {source!r}, which is not defined (sources: "
                          f"{known})")
        match = table.get("match", {})
        if not isinstance(match, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in match.items()):
            self._problem(self._line("rule", index, "match"),
                          "match must be a table of label = \"value\" strings, such as "
                          "match = { severity = \"critical\" }")
            match = {}
        level_text = self._text("rule", index, table, "severity")
        codes = self.scale.codes
        level = codes.get(re.sub(r"[\s-]", "", level_text.lower())) if level_text else None
        if level_text is not None and level is None:
            self._problem(self._line("rule", index, "severity"),
                          f"severity {level_text!r} is not one of "
                          f"{', '.join(list(codes)[:8])}")
        squad = self._text("rule", index, table, "squad", required=False)
        team = self._text("rule", index, table, "team", required=False)
        title = self._text("rule", index, table, "title", required=False) or DEFAULT_TITLE
        unknown = title_fields(title)
        if unknown:
            self._problem(self._line("rule", index, "title"),
                          f"title names {', '.join('{' + u + '}' for u in unknown)}: use "
                          "{commonAnnotations.<name>}, {commonLabels.<name>}, "
                          "{groupLabels.<name>}, {receiver} or {title}")
        if len(self.problems) > before or source is None or level is None:
            return None
        return AlertRule(source, tuple(sorted(match.items())), level,
                         squad=squad.lower() if squad else None, title=title, team=team)

    def _text(self, kind: str, index: int, table: dict[str, Any], key: str, *,
              required: bool = True) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self._problem(self._header_line(kind, index),
                              f"[[{kind}]] number {index + 1} has no {key}")
            return None
        if not isinstance(value, str) or not value.strip():
            self._problem(self._line(kind, index, key), f"{key} must be a non-empty string")
            return None
        return value.strip()

    def _secret(self, kind: str, index: int, table: dict[str, Any], key: str) -> SecretStr | None:
        if key not in table:
            return None
        name = self._text(kind, index, table, key)
        if name is None:
            return None
        if not _ENV.fullmatch(name):
            self._problem(self._line(kind, index, key),
                          f"{key} {name!r} is not an environment variable's name (write "
                          "the variable's name here, never the secret itself)")
            return None
        value = self.env.get(name, "").strip()
        if not value:
            self._problem(self._line(kind, index, key),
                          f"{key} names {name}, which is not set in the environment")
            return None
        return SecretStr(value)

    def _header(self, index: int, table: dict[str, Any], key: str) -> str | None:
        value = self._text("source", index, table, key, required=False)
        if value is not None and not _HEADER.fullmatch(value):
            self._problem(self._line("source", index, key),
                          f"{key} {value!r} is not an HTTP header name")
            return None
        return value

    def _unknown(self, kind: str, index: int, table: dict[str, Any], known: set[str]) -> None:
        for key in sorted(set(table) - known):
            self._problem(self._line(kind, index, key),
                          f"unknown key {key!r} in [[{kind}]] (known: {', '.join(sorted(known))})")

    def _problem(self, line: int, text: str) -> None:
        self.problems.append(f"ALERT_RULES_FILE {self.path} line {line}: {text}")

    # Where things are: tomllib gives values, not positions, so the lines are found in
    # the text: the nth `[[kind]]` header, then the key's line in its section.
    def _header_line(self, kind: str, index: int) -> int:
        header = re.compile(rf"\s*\[\[\s*{kind}\s*\]\]")
        found = [n for n, line in enumerate(self.lines, 1) if header.match(line)]
        return found[index] if index < len(found) else 1

    def _line(self, kind: str, index: int, key: str) -> int:
        start = self._header_line(kind, index)
        key_line = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start + 1, len(self.lines) + 1):
            line = self.lines[number - 1]
            if re.match(r"\s*\[", line):
                break
            if key_line.match(line):
                return number
        return start

    def _top_line(self, key: str) -> int:
        pattern = re.compile(rf"\s*(\[+\s*{re.escape(key)}\s*\]+|{re.escape(key)}\s*=)")
        return next((n for n, line in enumerate(self.lines, 1) if pattern.match(line)), 1)
