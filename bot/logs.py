"""Log lines: plain text or one JSON object per line, each carrying the request id.

The id of the HTTP request being served (`X-Request-Id`, see `bot.web.request_ids`) lives
in a context variable, so every line logged while serving it, in any module, names it;
background work (the outbox, timers) logs `-`. Configured secrets are replaced by
`[redacted]` in every line, whatever a library or an exception message put there.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging

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


class TextFormatter(_Redacting):
    """`time LEVEL logger [request id]: message`, secrets redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class JsonFormatter(_Redacting):
    """One JSON object per line: time, level, logger, request_id, message, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc)
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
