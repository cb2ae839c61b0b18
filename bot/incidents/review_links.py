"""Signed, expiring links to a review: anyone holding the link may read it until it
expires, and no other request can. The key is random, kept in the database so that every
replica (and a restart) signs and checks alike."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from urllib.parse import urlencode

from tortoise.exceptions import IntegrityError

from bot.store.pir_models import SigningSecret

_KEY_NAME = "review-links"
FORMATS = ("html", "md")
# Loggers that write each SQL statement with its parameters at DEBUG.
_SQL_LOGGERS = ("tortoise.db_client", "aiosqlite")


class _NoKeyStatements(logging.Filter):
    """Drops logged statements on the key's table: the INSERT carries the key itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            text = str(record.msg)
        return SigningSecret._meta.db_table not in text  # noqa: SLF001 - Tortoise's table name


def _keep_key_out_of_sql_logs() -> None:
    for name in _SQL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoKeyStatements) for f in logger.filters):
            logger.addFilter(_NoKeyStatements())


async def _key() -> bytes:
    _keep_key_out_of_sql_logs()
    row = await SigningSecret.get_or_none(name=_KEY_NAME)
    if row is None:
        try:
            row = await SigningSecret.create(name=_KEY_NAME, secret=secrets.token_hex(32))
        except IntegrityError:  # another replica made it first
            row = await SigningSecret.get(name=_KEY_NAME)
    return bytes.fromhex(row.secret)


def _signature(key: bytes, incident_id: int, fmt: str, expires: int) -> str:
    message = f"{incident_id}:{fmt}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


async def link(base_url: str, incident_id: int, *, fmt: str, expires: int) -> str:
    """A URL to the review in `fmt`, valid until the epoch second `expires`."""
    signature = _signature(await _key(), incident_id, fmt, expires)
    query = urlencode({"expires": expires, "sig": signature})
    return f"{base_url.rstrip('/')}/incidents/{incident_id}/review.{fmt}?{query}"


async def valid(incident_id: int, *, fmt: str, expires: int, signature: str, now: int) -> bool:
    """True for an unexpired link this deployment signed."""
    if fmt not in FORMATS or expires < now:
        return False
    expected = _signature(await _key(), incident_id, fmt, expires)
    return hmac.compare_digest(expected.encode(), signature.encode())
