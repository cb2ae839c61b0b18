"""One command, one transaction: its state change, timeline and outgoing messages together.

Also where "every incoming activity is processed at most once" is enforced: the activity's
key is inserted in the same transaction, so a retried delivery either finds it (and does
nothing) or the first delivery never committed (and this one does the work).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError

from bot.store import outbox
from bot.store.jobs import due_soon
from bot.store.models import OutboxMessage, OutboxOperation, ProcessedActivity
from bot.store.prepared import Read
from bot.store.transactions import transaction


class AlreadyProcessed(Exception):
    """This activity already changed state once; the retry must do nothing."""


def activity_key(conversation_id: str, activity_id: str) -> str:
    """A fixed-length key for one delivery of one activity."""
    return hashlib.sha256(f"{conversation_id}\n{activity_id}".encode()).hexdigest()


class UnitOfWork:
    """`async with UnitOfWork(...) as uow:` then use `uow.conn` and `uow.enqueue(...)`.

    Any exception, in here or in the block, ends the transaction and gives its
    connection back (`bot.store.transactions`); `committed` tells afterwards whether the
    commit happened.
    """

    def __init__(
        self, *, activity_key: str | None = None, on_commit: Callable[[], None] | None = None,
        reads: Sequence[Read] = (),
    ) -> None:
        self._activity_key = activity_key
        self._reads = reads
        self._on_commit = on_commit
        self._tx: AbstractAsyncContextManager[BaseDBAsyncClient] | None = None
        self.conn: BaseDBAsyncClient
        self.enqueued: list[OutboxMessage] = []
        self.committed = False

    async def __aenter__(self) -> UnitOfWork:
        # The claim opens the transaction (on SQLite in the same trip as its BEGIN or
        # SAVEPOINT); a failed claim has already ended it.
        claim = [] if self._activity_key is None else [ProcessedActivity(key=self._activity_key)]
        self._tx = transaction(opening=claim, reads=self._reads)
        try:
            self.conn = await self._tx.__aenter__()
        except IntegrityError:
            if not claim:
                raise
            raise AlreadyProcessed(self._activity_key) from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tx is not None
        result = await self._tx.__aexit__(exc_type, exc, tb)
        if exc_type is None:
            self.committed = True
            if self._on_commit is not None and (self.enqueued or due_soon()):
                self._on_commit()
        return result

    async def enqueue(self, *, operation: OutboxOperation, **fields: Any) -> OutboxMessage:
        """Add a connector call that leaves only if this transaction commits."""
        message = await outbox.enqueue(self.conn, operation=operation, **fields)
        self.enqueued.append(message)
        return message
