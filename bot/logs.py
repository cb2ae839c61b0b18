"""Log lines: plain text or one JSON object per line, each carrying the request id.

The id of the HTTP request being served (`X-Request-Id`, see `bot.web.request_ids`) lives
in a context variable, so every line logged while serving it, in any module, names it;
background work (the outbox, timers) logs `-`. Configured secrets are replaced by
`[redacted]` in every line, whatever a library or an exception message put there.

No input can forge a log line (issue 14: a display name with newlines wrote two fake
`CRITICAL` lines). In text format, control characters in a message are escaped (`\n`),
and the lines of a stack trace are indented, so every line that starts at the margin is
one the bot wrote; a JSON line escapes them by itself. `Throttled` keeps a flood (of
refused connections, of one failing query) from making the log explode: the first line
of a kind at once, then a count once per interval.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

from bot.config import Settings

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
REDACTED = "[redacted]"


class RequestIdFilter(logging.Filter):
    """Stamp each record with the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class _Redacting(logging.Formatter):
    def __init__(self, *args: object, secrets: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every configured secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}
CONTINUATION = "    "


def escape_controls(text: str) -> str:
    """`text` on one line: newlines as `\\n`, other control characters as `\\xNN`."""
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}"
                                              if ord(m.group()) < 0x100
                                              else f"\\u{ord(m.group()):04x}"), text)


class TextFormatter(_Redacting):
    """`time LEVEL logger [request id]: message`, secrets redacted; one line per record
    but for its stack trace, whose lines are indented."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        trailer = [t for t in (record.exc_text, record.stack_info and
                               self.formatStack(record.stack_info)) if t]
        for text in trailer:
            line += "\n" + "\n".join(CONTINUATION + escape_controls(part)
                                      for part in text.splitlines())
        return self.redact(line)


class JsonFormatter(_Redacting):
    """One JSON object per line: time, level, logger, request_id, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
            "message": self.redact(record.getMessage()),
        }
        if record.exc_info:
            line["exception"] = self.redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = self.redact(record.exc_text)
        if record.stack_info:
            line["stack"] = self.redact(self.formatStack(record.stack_info))
        return orjson.dumps(line).decode()


def formatter_for(settings: Settings) -> logging.Formatter:
    """The formatter `LOG_FORMAT` asks for, redacting this deployment's secrets."""
    if settings.log_format == "json":
        return JsonFormatter(secrets=settings.secrets())
    return TextFormatter(TEXT_FORMAT, secrets=settings.secrets())


def configure_logging(settings: Settings) -> None:
    """Send every logger's lines to stderr in the configured format and level."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter_for(settings))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())


@dataclass
class _Window:
    started: float
    suppressed: int = 0
    latest: str = ""
    flush: asyncio.TimerHandle | None = None


class Throttled:
    """Log lines a flood repeats: the first of each kind (`what`, a fixed text) at once,
    then one line per `interval_s` saying how many more there were and the latest."""

    def __init__(self, logger: logging.Logger, *, interval_s: float = 60.0) -> None:
        self._logger = logger
        self._interval = interval_s
        self._windows: dict[str, _Window] = {}

    def info(self, what: str, detail: str = "") -> None:
        """Log at INFO."""
        self._log(logging.INFO, what, detail)

    def warning(self, what: str, detail: str = "") -> None:
        """Log at WARNING."""
        self._log(logging.WARNING, what, detail)

    def error(self, what: str, detail: str = "") -> None:
        """Log at ERROR."""
        self._log(logging.ERROR, what, detail)

    def _log(self, level: int, what: str, detail: str) -> None:
        now = time.monotonic()
        window = self._windows.get(what)
        if window is not None and now - window.started < self._interval:
            window.suppressed += 1
            window.latest = detail
            if window.flush is None:
                window.flush = _call_later(window.started + self._interval - now,
                                           lambda: self._flush(level, what))
            return
        if window is not None:
            self._flush(level, what)
        self._windows[what] = _Window(started=now)
        self._logger.log(level, "%s: %s", what, detail)

    def _flush(self, level: int, what: str) -> None:
        window = self._windows.get(what)
        if window is None or not window.suppressed:
            return
        if window.flush is not None:
            window.flush.cancel()
        self._logger.log(level, "%s: %d more in the last %.0f s, the latest: %s", what,
                         window.suppressed, self._interval, window.latest)
        self._windows[what] = _Window(started=time.monotonic())


def _call_later(delay_s: float, callback: Callable[[], object]) -> asyncio.TimerHandle | None:
    try:
        return asyncio.get_running_loop().call_later(max(0.0, delay_s), callback)
    except RuntimeError:
        return None  # no loop: the count is told with the next line of its kind
