"""Claiming due rows so that exactly one worker (of any replica) holds each at a time.

A claimed row gets a lease (`locked_until_ms`); if its worker dies, the lease runs out and
another worker claims it again. On PostgreSQL the candidate rows are read with
`FOR UPDATE SKIP LOCKED`, so replicas polling at once never wait on or take the same row;
SQLite serialises writers, which gives the same guarantee for the one process it serves.
"""

from __future__ import annotations

from typing import Any, TypeVar

from tortoise.expressions import Q
from tortoise.models import Model

from bot.store.clock import now_ms
from bot.store.database import dialect
from bot.store.transactions import transaction

M = TypeVar("M", bound=Model)


def _due(pending: Any, claimed: Any, now: int) -> Q:
    return Q(status=pending, due_ms__lte=now) | Q(status=claimed, locked_until_ms__lt=now)


async def due_lag_s(model: type[Model], *, pending: Any, claimed: Any) -> float:
    """How long the oldest row a worker could claim now has been due (0 when none is)."""
    now = now_ms()
    oldest = await model.filter(_due(pending, claimed, now)).order_by("due_ms").first()
    return max(0.0, (now - oldest.due_ms) / 1000) if oldest is not None else 0.0  # type: ignore[attr-defined]


async def claim_due(
    model: type[M],
    *,
    pending: Any,
    claimed: Any,
    limit: int,
    lease_ms: int,
    extra: Q | None = None,
) -> list[M]:
    """Mark up to `limit` due rows (pending, or claimed with an expired lease) as claimed."""
    now = now_ms()
    due = _due(pending, claimed, now)
    if extra is not None:
        due &= extra
    async with transaction() as conn:
        query = model.filter(due).order_by("id").limit(limit).using_db(conn)
        if dialect() == "postgres":
            query = query.select_for_update(skip_locked=True)
        rows = await query
        if not rows:
            return []
        ids = [row.pk for row in rows]
        # The status/lease condition repeats the filter: a row another writer claimed in
        # between is not taken twice.
        await model.filter(Q(id__in=ids) & due).using_db(conn).update(
            status=claimed, locked_until_ms=now + lease_ms
        )
        for row in rows:
            row.status = claimed
            row.locked_until_ms = now + lease_ms
        return rows
