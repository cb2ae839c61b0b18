"""Counters for `GET /metrics`, written in the Prometheus text exposition format (0.0.4).

One `Metrics` per app (tests build many apps), passed down like the settings. Counters
only go up and live in this process: Prometheus sums them over replicas. Gauges that
describe shared state (the outbox, the job table) are read from the database at scrape
time and passed to `render`, so every replica reports the same, current numbers.

Label values come from small fixed sets (routes, command verbs, provider names), never
from user input, so the number of series stays bounded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PREFIX = "incident_bot_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class Family:
    """One metric: its name, help text, type and label names."""

    name: str
    help: str
    kind: str
    labels: tuple[str, ...] = ()


HTTP_REQUESTS = Family("http_requests_total", "HTTP requests answered, by route and status.",
                       "counter", ("method", "route", "status"))
COMMANDS = Family("commands_total", "Commands, card buttons and message actions handled, by "
                  "name and outcome (ok, refused, error, unknown).", "counter",
                  ("command", "outcome"))
PROVIDER_ERRORS = Family("provider_errors_total", "Failed calls to outside systems (video "
                         "providers, GitHub, Jira, Trello, Google Docs, Graph), by provider.", "counter",
                         ("provider",))
CONNECTOR_ERRORS = Family("connector_errors_total", "Failed sends to the Teams Bot Connector "
                          "from the outbox, by HTTP status (0: network; 429: throttled).",
                          "counter", ("status",))
OUTBOX_DEPTH = Family("outbox_depth", "Outgoing Teams messages not yet delivered.", "gauge")
OUTBOX_LAG = Family("outbox_lag_seconds", "How long the oldest due undelivered message has "
                    "waited (0 when none is due).", "gauge")
JOB_LAG = Family("job_lag_seconds", "How long the oldest due timer has waited to run "
                 "(0 when none is due).", "gauge")
JOURNAL = Family("journal_total", "Commands the local journal took while the database was "
                 "away (appended), could not take (not_saved), and applied later (applied), "
                 "found already applied (duplicate) or set aside (set_aside).", "counter",
                 ("outcome",))
JOURNAL_DEPTH = Family("journal_entries", "Commands in this replica's local journal waiting "
                       "to be applied.", "gauge")
DATABASE_UP = Family("database_up", "1 while this replica's database answers, 0 while it "
                     "does not (commands then go to the local journal).", "gauge")
INFO = Family("info", "The running version.", "gauge", ("version",))


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    pairs = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Metrics:
    """This process's counters."""

    def __init__(self) -> None:
        self._counts: dict[Family, Counter[tuple[str, ...]]] = {
            HTTP_REQUESTS: Counter(), COMMANDS: Counter(), PROVIDER_ERRORS: Counter(),
            CONNECTOR_ERRORS: Counter(), JOURNAL: Counter()}

    def request(self, *, method: str, route: str, status: int) -> None:
        """Count one answered HTTP request."""
        self._counts[HTTP_REQUESTS][(method, route, str(status))] += 1

    def command(self, name: str, outcome: str) -> None:
        """Count one handled command (`outcome`: ok, refused, error or unknown)."""
        self._counts[COMMANDS][(name, outcome)] += 1

    def provider_error(self, provider: str) -> None:
        """Count one failed call to an outside system."""
        self._counts[PROVIDER_ERRORS][(provider,)] += 1

    def connector_error(self, status: int) -> None:
        """Count one failed Bot Connector call (`status` 0 for a network failure)."""
        self._counts[CONNECTOR_ERRORS][(str(status),)] += 1

    def journal(self, outcome: str) -> None:
        """Count one local-journal event (appended, not_saved, applied, duplicate,
        set_aside)."""
        self._counts[JOURNAL][(outcome,)] += 1

    def value(self, family: Family, *labels: str) -> int:
        """One counter's current value (for tests and the bench)."""
        return self._counts[family][labels]

    def render(self, gauges: Mapping[Family, float], *, version: str) -> str:
        """Every metric in the text exposition format, gauges as given."""
        lines: list[str] = []
        for family, counts in self._counts.items():
            lines += _family(family, sorted(counts.items()))
        for family, value in gauges.items():
            lines += _family(family, [((), value)])
        lines += _family(INFO, [((version,), 1)])
        return "\n".join(lines) + "\n"


def _family(family: Family, samples: Iterable[tuple[tuple[str, ...], float]]) -> list[str]:
    name = PREFIX + family.name
    lines = [f"# HELP {name} {family.help}", f"# TYPE {name} {family.kind}"]
    lines += [f"{name}{_labels(family.labels, labels)} {_number(value)}"
              for labels, value in samples]
    return lines
