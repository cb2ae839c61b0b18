"""Incident numbers: INC-1, INC-2, ... per tenant, never reused, safe under concurrency."""

from __future__ import annotations

from tortoise import connections

from bot.store.database import dialect

# One statement that creates or bumps the tenant's counter and returns the new value; the
# row lock it takes serialises concurrent declarations in one tenant (SQLite >= 3.35).
_SQL = (
    "INSERT INTO incident_counter (tenant_id, last_number) VALUES ({p1}, 1) "
    "ON CONFLICT (tenant_id) DO UPDATE SET last_number = incident_counter.last_number + 1 "
    "RETURNING last_number"
)


async def next_number(tenant_id: str) -> int:
    """The next free number in the tenant; call inside the declaring transaction."""
    placeholder = "$1" if dialect() == "postgres" else "?"
    conn = connections.get("default")
    # execute_query_dict, because Tortoise's execute_query drops RETURNING rows of an INSERT.
    rows = await conn.execute_query_dict(_SQL.format(p1=placeholder), [tenant_id])
    return int(rows[0]["last_number"])
