"""Queries on every command's path whose SQL is built once, not for each command.

Tortoise builds a query's SQL anew each time it runs (filters resolved, every column
named, the dialect rendered): for `note INC-n` the lookup of its incident was 17% of the
bot's CPU at 20 senders, more than the insert of the note itself (issue 16, bench/). A
`Prepared` query is built by Tortoise once per database dialect, with marker values, and
later run with the values alone; its rows become models the way Tortoise's own executor
makes them. `tests/test_prepared.py` checks each against Tortoise's query, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from bot.store.incident_models import Incident
from bot.store.models import OutboxMessage, OutboxStatus

M = TypeVar("M", bound=Model)


class Prepared(Generic[M]):
    """`build(*markers)` is the query; `run(*values)` runs it with `values` in their place.

    The markers must be values the query passes as they are (no conversion) and in their
    order, which the first build checks; `run` uses the task's connection (the open
    transaction's, if there is one), as Tortoise would.
    """

    def __init__(self, model: type[M], build: Callable[..., QuerySet[M]],
                 *markers: Any) -> None:
        self._model = model
        self._build = build
        self._markers = list(markers)
        self._sql: dict[str, str] = {}

    async def run(self, *values: Any) -> list[M]:
        db: Any = self._model._meta.db  # noqa: SLF001 - the connection Tortoise would use
        dialect = db.capabilities.dialect
        sql = self._sql.get(dialect)
        if sql is None:
            query = self._build(*self._markers)
            sql = query.sql()
            _, params = query.query.get_parameterized_sql()
            if list(params) != self._markers:
                raise RuntimeError(f"unexpected parameters in {sql!r}: {params!r}")
            self._sql[dialect] = sql
        _, rows = await db.execute_query(sql, list(values))
        init = self._model._init_from_db  # noqa: SLF001 - as Tortoise's executor does
        return [init(**row) for row in rows]


# Marker values: unlike anything a query is given (a constant, like a status, is its own).
_TEXT, _OTHER_TEXT, _NUMBER = "\x01a", "\x01b", -271828

_NUMBERED = Prepared(Incident, lambda tenant, number: Incident.filter(
    tenant_id=tenant, number=number), _TEXT, _NUMBER)
_NUMBERED_LOCKED = Prepared(Incident, lambda tenant, number: Incident.filter(
    tenant_id=tenant, number=number).select_for_update(), _TEXT, _NUMBER)
_MERGEABLE = Prepared(OutboxMessage, lambda merge_key, ordering_key, after, a, b:
                      OutboxMessage.filter(merge_key=merge_key, ordering_key=ordering_key,
                                           id__gt=after, status__in=[a, b]).order_by("id"),
                      _TEXT, _OTHER_TEXT, _NUMBER, OutboxStatus.PENDING, OutboxStatus.SENDING)


async def incidents_numbered(tenant_id: str, number: int, *, lock: bool) -> list[Incident]:
    """`Incident.filter(tenant_id=..., number=...)`, `.select_for_update()` with `lock`."""
    return await (_NUMBERED_LOCKED if lock else _NUMBERED).run(tenant_id, number)


async def unsent_after(merge_key: str, ordering_key: str, after_id: int) -> list[OutboxMessage]:
    """The unsent messages with this merge and ordering key after `after_id`, oldest first."""
    return await _MERGEABLE.run(merge_key, ordering_key, after_id,
                                OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
