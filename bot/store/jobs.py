"""Durable timers: reminders, due dates and retries live in the `job` table, not in memory.

Features schedule a job inside their own transaction; a `JobRunner` on each replica claims
due jobs (one holder at a time, see `leases`) and calls the handler registered for the
job's kind. A handler that raises is retried with backoff; a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import typing
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, ClassVar, Self, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.store.availability import DatabaseGate, is_unavailable
from bot.store.clock import now_ms
from bot.store.leases import claim_due, due_lag_s
from bot.store.models import Job, JobStatus
from bot.store.outbox import backoff_s
from bot.store.worker import PollingWorker

log = logging.getLogger(__name__)

LEASE_MS = 120_000
# A job due this soon wakes the runner when its transaction commits; later ones are found
# by the runner's own polling. Waking it on every commit cost a claim query per command.
WAKE_WITHIN_MS = 1_000
_due_soon: ContextVar[bool] = ContextVar("job_due_soon", default=False)


class JobPayload:
    """What a job carries: subclassed by a frozen dataclass declared next to the feature
    that schedules and handles it, with the job table's `KIND` for it.

    Stored as JSON under the field names (existing rows keep working); tuples are stored
    as lists and read back as tuples.
    """

    KIND: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The payload as the job table stores it."""
        return {f.name: _jsonable(getattr(self, f.name))
                for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Read a stored payload back; `BadPayload` when it does not fit this kind."""
        hints = _hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                if (f.default is dataclasses.MISSING
                        and f.default_factory is dataclasses.MISSING):
                    raise BadPayload(f"{cls.KIND} job without {f.name!r}")
                continue
            values[f.name] = _coerce(hints[f.name], data[f.name], f"{cls.KIND}.{f.name}")
        return cls(**values)


_HINTS: dict[type[JobPayload], dict[str, Any]] = {}


def _hints(cls: type[JobPayload]) -> dict[str, Any]:
    # Resolving the annotations (strings, under `from __future__ import annotations`) once
    # per payload type: every job run decodes one.
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


class BadPayload(ValueError):
    """A stored payload that does not fit its kind's dataclass (a bug, or a downgrade)."""


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """`value` as the field's type: int, str, bool or tuple[str, ...] (what payloads hold)."""
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    if hint in (int, str, bool) and isinstance(value, hint):
        return value
    if hint is int and isinstance(value, str) and value.isdigit():
        return int(value)
    raise BadPayload(f"{where}: {value!r} is not {hint}")


P = TypeVar("P", bound=JobPayload)
JobRun = Callable[[Job, Any], Awaitable[None]]


def tries_left(job: Job) -> bool:
    """Whether a failure now is retried (re-raise) rather than the job's last attempt, after
    which a handler records the failure where people see it."""
    return job.attempts + 1 < job.max_attempts


def due_soon() -> bool:
    """Whether this task scheduled a job due now that no wake has handled yet."""
    return _due_soon.get()


def take_due_soon() -> bool:
    """Whether this task scheduled a job due now since the last call (and forget it)."""
    due = _due_soon.get()
    if due:
        _due_soon.set(False)
    return due


async def schedule(
    payload: JobPayload,
    *,
    due_ms: int,
    dedupe_key: str | None = None,
    max_attempts: int = 8,
    conn: BaseDBAsyncClient | None = None,
) -> Job:
    """Add a job; with a `dedupe_key`, replace the live job of that key (a moved reminder)."""
    if dedupe_key is not None:
        await Job.filter(dedupe_key=dedupe_key).using_db(conn).delete()
    if due_ms <= now_ms() + WAKE_WITHIN_MS:
        _due_soon.set(True)
    return await Job.create(
        kind=payload.KIND,
        payload=payload.to_json(),
        dedupe_key=dedupe_key,
        due_ms=due_ms,
        max_attempts=max_attempts,
        using_db=conn,
    )


async def cancel(dedupe_key: str, *, conn: BaseDBAsyncClient | None = None) -> int:
    """Cancel the pending job with this key (an accepted handover needs no reminder)."""
    return await Job.filter(dedupe_key=dedupe_key, status=JobStatus.PENDING).using_db(
        conn
    ).update(status=JobStatus.CANCELLED, dedupe_key=None)


async def lag_s() -> float:
    """How long the oldest due timer has waited to run (0 when none is due)."""
    return await due_lag_s(Job, pending=JobStatus.PENDING, claimed=JobStatus.RUNNING)


class JobRunner(PollingWorker):
    """Polls for due jobs and runs them; `wake()` shortens the wait after a new schedule."""

    name = "job-runner"

    def __init__(self, *, poll_interval_s: float = 1.0, batch: int = 20,
                 gate: DatabaseGate | None = None) -> None:
        super().__init__(poll_interval_s=poll_interval_s, gate=gate)
        self._handlers: dict[str, tuple[type[JobPayload], JobRun]] = {}
        self._batch = batch

    def register(self, payload: type[P], run: Callable[[Job, P], Awaitable[None]]) -> None:
        """Say which coroutine runs jobs of `payload`'s kind (one per kind)."""
        if payload.KIND in self._handlers:
            raise ValueError(f"two handlers for job kind {payload.KIND!r}")
        self._handlers[payload.KIND] = (payload, run)

    async def work_once(self) -> int:
        return await self.run_due()

    async def run_due(self) -> int:
        """Claim and run the jobs due now; the number run."""
        jobs = await claim_due(
            Job,
            pending=JobStatus.PENDING,
            claimed=JobStatus.RUNNING,
            limit=self._batch,
            lease_ms=LEASE_MS,
        )
        # Concurrently: one slow provider call must not hold up every other timer, and the
        # whole batch ends well inside its lease (each job is bounded by its own timeouts).
        await asyncio.gather(*(self._run(job) for job in jobs))
        return len(jobs)

    async def _run(self, job: Job) -> None:
        handler = self._handlers.get(job.kind)
        if handler is None:
            await self._finish(job, JobStatus.FAILED, f"no handler for job kind {job.kind!r}")
            return
        payload_type, run = handler
        try:
            await run(job, payload_type.from_json(job.payload or {}))
        except BadPayload as exc:
            # Retrying cannot make it fit: fail it at once, with the reason on the row.
            reason = str(exc)
            log.error("job %s: %s", job.id, reason)
            await self.persist(lambda: self._finish(job, JobStatus.FAILED, reason))
            return
        except Exception as exc:
            if is_unavailable(exc):
                # Not the job's fault: it runs again, as it was, once the database answers.
                await self.persist(lambda: self._release(job))
                return
            log.exception("job %s (%s) failed", job.id, job.kind)
            # Errors that know when to come back (GitHub's retry-after) are honoured.
            wait = getattr(exc, "retry_after", None)
            error, not_before_s = f"{type(exc).__name__}: {exc}", float(wait) if wait else 0.0
            await self.persist(lambda: self._retry_or_fail(job, error, not_before_s=not_before_s))
            return
        await self.persist(lambda: self._finish(job, JobStatus.DONE, None))

    async def _release(self, job: Job) -> None:
        await Job.filter(id=job.id).update(status=JobStatus.PENDING, locked_until_ms=0)

    async def _retry_or_fail(self, job: Job, error: str, *, not_before_s: float = 0.0) -> None:
        attempts = job.attempts + 1
        if attempts >= job.max_attempts:
            await self._finish(job, JobStatus.FAILED, error, attempts=attempts)
            return
        delay_s = max(backoff_s(attempts), not_before_s)
        await Job.filter(id=job.id).update(
            status=JobStatus.PENDING,
            attempts=attempts,
            last_error=error[:2000],
            due_ms=now_ms() + int(delay_s * 1000),
            locked_until_ms=0,
        )

    async def _finish(
        self, job: Job, status: JobStatus, error: str | None, *, attempts: int | None = None
    ) -> None:
        # Clearing the key lets the same reminder be scheduled again later.
        await Job.filter(id=job.id).update(
            status=status,
            last_error=error,
            attempts=attempts if attempts is not None else job.attempts + 1,
            finished_at=dt.datetime.now(dt.UTC),
            dedupe_key=None,
            locked_until_ms=0,
        )

    async def lag_ms(self) -> int:
        """How late the oldest due pending job is (0 when none is waiting)."""
        oldest = await Job.filter(status=JobStatus.PENDING, due_ms__lte=now_ms()).order_by(
            "due_ms"
        ).first()
        return max(0, now_ms() - oldest.due_ms) if oldest else 0
