"""Queries on every command's path whose SQL is built once, not for each command.

Tortoise builds a query's SQL anew each time it runs (filters resolved, every column
named, the dialect rendered): for `note INC-n` the lookup of its incident was 17% of the
bot's CPU at 20 senders, more than the insert of the note itself (issue 16, bench/). A
`Prepared` query is built by Tortoise once per database dialect, with marker values, and
later run with the values alone; its rows become models the way Tortoise's own executor
makes them. `tests/test_prepared.py` checks each against Tortoise's query, on SQLite and
PostgreSQL.

A `Read` is such a query asked for ahead, when a transaction opens: on SQLite its SELECT
travels to the database thread with the transaction's BEGIN or SAVEPOINT
(`bot.store.transactions`), and its rows are kept for the transaction's first prepared
query, which would have been that SELECT (`note INC-n` looks its incident up first). Any
later query runs as usual: kept rows are never served after the transaction has done
anything else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from bot.store.incident_models import Incident
from bot.store.models import OutboxMessage, OutboxStatus

M = TypeVar("M", bound=Model)
# The rows read ahead for this transaction (`kept`), until its first prepared query.
_KEPT: ContextVar[dict[tuple[int, tuple[Any, ...]], Sequence[Any]] | None] = ContextVar(
    "prepared_kept", default=None)


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

    def sql(self) -> str:
        """The query's SQL in the dialect of the connection Tortoise would use."""
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
        return sql

    async def run(self, *values: Any) -> list[M]:
        kept = _KEPT.get()
        if kept is not None:
            rows = kept.get((id(self), values))
            kept.clear()  # only ever the transaction's first query
            if rows is not None:
                return self.models(rows)
        db: Any = self._model._meta.db  # noqa: SLF001
        _, rows = await db.execute_query(self.sql(), list(values))
        return self.models(rows)

    def models(self, rows: Sequence[Any]) -> list[M]:
        """Rows of this query (mappings of column to value) as models."""
        init = self._model._init_from_db  # noqa: SLF001 - as Tortoise's executor does
        return [init(**row) for row in rows]


@dataclass(frozen=True)
class Read:
    """`query.run(*values)`, asked for when a transaction opens (see the module's doc)."""

    query: Prepared[Any]
    values: tuple[Any, ...]

    @property
    def key(self) -> tuple[int, tuple[Any, ...]]:
        return id(self.query), self.values

    def statement(self) -> tuple[str, list[Any]]:
        return self.query.sql(), list(self.values)


@contextmanager
def kept(rows: Mapping[tuple[int, tuple[Any, ...]], Sequence[Any]]) -> Iterator[None]:
    """Within: the first prepared query is answered from `rows` if they are its own."""
    token = _KEPT.set(dict(rows))
    try:
        yield
    finally:
        _KEPT.reset(token)


# Marker values: unlike anything a query is given (a constant, like a status, is its own).
_TEXT, _OTHER_TEXT, _NUMBER = "\x01a", "\x01b", -271828

_NUMBERED = Prepared(Incident, lambda tenant, number: Incident.filter(
    tenant_id=tenant, number=number), _TEXT, _NUMBER)
_NUMBERED_LOCKED = Prepared(Incident, lambda tenant, number: Incident.filter(
    tenant_id=tenant, number=number).select_for_update(), _TEXT, _NUMBER)
_IN_THREAD = Prepared(Incident, lambda tenant, thread: Incident.filter(
    tenant_id=tenant, thread_id=thread), _TEXT, _OTHER_TEXT)
_IN_THREAD_LOCKED = Prepared(Incident, lambda tenant, thread: Incident.filter(
    tenant_id=tenant, thread_id=thread).select_for_update(), _TEXT, _OTHER_TEXT)
_MERGEABLE = Prepared(OutboxMessage, lambda merge_key, ordering_key, after, a, b:
                      OutboxMessage.filter(merge_key=merge_key, ordering_key=ordering_key,
                                           id__gt=after, status__in=[a, b]).order_by("id"),
                      _TEXT, _OTHER_TEXT, _NUMBER, OutboxStatus.PENDING, OutboxStatus.SENDING)


def numbered_read(tenant_id: str, number: int, *, lock: bool = True) -> Read:
    """`incidents_numbered(tenant_id, number, lock=lock)`, read when the transaction opens."""
    return Read(_NUMBERED_LOCKED if lock else _NUMBERED, (tenant_id, number))


async def incidents_numbered(tenant_id: str, number: int, *, lock: bool) -> list[Incident]:
    """`Incident.filter(tenant_id=..., number=...)`, `.select_for_update()` with `lock`."""
    return await (_NUMBERED_LOCKED if lock else _NUMBERED).run(tenant_id, number)


def thread_read(tenant_id: str, thread_id: str, *, lock: bool = True) -> Read:
    """`incidents_in_thread(tenant_id, thread_id, lock=lock)`, read when the transaction
    opens."""
    return Read(_IN_THREAD_LOCKED if lock else _IN_THREAD, (tenant_id, thread_id))


async def incidents_in_thread(tenant_id: str, thread_id: str, *,
                              lock: bool) -> list[Incident]:
    """`Incident.filter(tenant_id=..., thread_id=...)`, `.select_for_update()` with `lock`:
    the incident whose thread a command is said in (the usual case)."""
    return await (_IN_THREAD_LOCKED if lock else _IN_THREAD).run(tenant_id, thread_id)


async def unsent_after(merge_key: str, ordering_key: str, after_id: int) -> list[OutboxMessage]:
    """The unsent messages with this merge and ordering key after `after_id`, oldest first."""
    return await _MERGEABLE.run(merge_key, ordering_key, after_id,
                                OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)
