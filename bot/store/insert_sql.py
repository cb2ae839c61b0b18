"""A model's INSERT as SQL and parameters, built the way Tortoise's executor builds it.

For statements that must travel with others in one trip to SQLite's thread
(`bot.store.group_commit.run_statements`), where Tortoise's `Model.create` would be a
trip of its own. Only for rows whose generated id nobody reads (it is not set on the
instance) and whose fields have no database-side defaults; `tests/test_group_commit.py`
checks that the row is the one `Model.create` writes.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from bot.store.group_commit import Statement

# (connection name, table) -> the INSERT and the fields it takes, in order.
_BUILT: dict[tuple[str, str], tuple[str, list[str]]] = {}


def insert_statement(client: BaseDBAsyncClient, instance: Model) -> Statement:
    """`instance`'s INSERT on `client` (SQLite's `?` parameters), without running it."""
    model = type(instance)
    key = (client.connection_name, model._meta.db_table)  # noqa: SLF001
    built = _BUILT.get(key)
    if built is None:
        executor = client.executor_class(model=model, db=client)
        if model._meta.db_default_db_columns or instance._custom_generated_pk:  # noqa: SLF001
            raise ValueError(f"{model.__name__}: database defaults or a custom primary key")
        built = _BUILT[key] = (executor.insert_query, list(executor.regular_columns))
    sql, columns = built
    fields = model._meta.fields_map  # noqa: SLF001
    values: list[Any] = [fields[name].to_db_value(getattr(instance, name), instance)
                         for name in columns]
    return sql, values
