"""Durable timers: due jobs run once, failures retry, nothing lives only in memory."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

from bot.store import jobs
from bot.store.clock import now_ms
from bot.store.models import Job, JobStatus


@dataclass(frozen=True)
class Remind(jobs.JobPayload):
    KIND = "remind"
    n: int


@dataclass(frozen=True)
class Orphan(jobs.JobPayload):
    KIND = "no-such-kind"


def _recording_runner(seen: list[int], *, fail_times: int = 0) -> jobs.JobRunner:
    runner = jobs.JobRunner()
    failures = Counter()

    async def handle(job: Job, payload: Remind) -> None:
        if failures[job.id] < fail_times:
            failures[job.id] += 1
            raise ConnectionError("provider down")
        seen.append(job.payload["n"])

    runner.register(Remind, handle)
    return runner


async def test_a_due_job_runs_once_and_a_future_one_waits(db):
    seen: list[int] = []
    runner = _recording_runner(seen)
    await jobs.schedule(Remind(1), due_ms=now_ms() - 1)
    await jobs.schedule(Remind(2), due_ms=now_ms() + 60_000)

    assert await runner.run_due() == 1
    assert await runner.run_due() == 0

    assert seen == [1]
    statuses = {j.payload["n"]: j.status for j in await Job.all()}
    assert statuses == {1: JobStatus.DONE, 2: JobStatus.PENDING}


async def test_a_failing_job_is_retried_with_backoff_then_succeeds(db):
    seen: list[int] = []
    runner = _recording_runner(seen, fail_times=1)
    job = await jobs.schedule(Remind(7), due_ms=now_ms())

    await runner.run_due()
    failed_once = await Job.get(id=job.id)
    assert failed_once.status is JobStatus.PENDING
    assert failed_once.attempts == 1
    assert failed_once.due_ms > now_ms()
    assert "provider down" in failed_once.last_error

    await Job.filter(id=job.id).update(due_ms=now_ms())
    await runner.run_due()
    assert seen == [7]
    assert (await Job.get(id=job.id)).status is JobStatus.DONE


async def test_a_job_that_keeps_failing_stops_after_its_attempts(db):
    runner = _recording_runner([], fail_times=99)
    job = await jobs.schedule(Remind(1), due_ms=now_ms(), max_attempts=2)

    for _ in range(2):
        await runner.run_due()
        await Job.filter(id=job.id, status=JobStatus.PENDING).update(due_ms=now_ms())

    final = await Job.get(id=job.id)
    assert final.status is JobStatus.FAILED
    assert final.attempts == 2


async def test_a_job_of_unknown_kind_fails_visibly(db):
    job = await jobs.schedule(Orphan(), due_ms=now_ms())

    await jobs.JobRunner().run_due()

    final = await Job.get(id=job.id)
    assert final.status is JobStatus.FAILED
    assert "no handler" in final.last_error


async def test_scheduling_with_a_key_replaces_the_pending_job_and_cancel_removes_it(db):
    await jobs.schedule(Remind(1), due_ms=now_ms() + 1000, dedupe_key="k")
    await jobs.schedule(Remind(2), due_ms=now_ms() + 2000, dedupe_key="k")

    [live] = await Job.filter(dedupe_key="k")
    assert live.payload == {"n": 2}

    assert await jobs.cancel("k") == 1
    assert (await Job.get(id=live.id)).status is JobStatus.CANCELLED


async def test_jobs_survive_a_restart_of_the_runner(db):
    await jobs.schedule(Remind(3), due_ms=now_ms())
    crashed = await Job.get()
    # The first runner claimed it and died: status 'running', lease already run out.
    await Job.filter(id=crashed.id).update(status=JobStatus.RUNNING, locked_until_ms=now_ms() - 1)
    seen: list[int] = []

    await _recording_runner(seen).run_due()

    assert seen == [3]


async def test_concurrent_runners_run_each_job_exactly_once(db):
    for n in range(40):
        await jobs.schedule(Remind(n), due_ms=now_ms())
    seen: list[int] = []
    runners = [_recording_runner(seen) for _ in range(4)]

    for _ in range(5):
        await asyncio.gather(*(r.run_due() for r in runners))

    assert sorted(seen) == list(range(40))


async def test_the_background_runner_fires_a_job_when_woken(db):
    seen: list[int] = []
    runner = _recording_runner(seen)
    runner.start()
    try:
        await jobs.schedule(Remind(9), due_ms=now_ms())
        runner.wake()
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.02)
        assert seen == [9]
        assert await runner.lag_ms() == 0
    finally:
        await runner.stop()


async def test_a_failure_that_says_when_to_retry_is_not_retried_sooner(db):
    class Throttled(Exception):
        retry_after = 120.0

    runner = jobs.JobRunner()

    async def handle(job: Job, payload: Remind) -> None:
        raise Throttled("rate limited")

    runner.register(Remind, handle)
    job = await jobs.schedule(Remind(1), due_ms=now_ms())
    before = now_ms()

    await runner.run_due()

    assert (await Job.get(id=job.id)).due_ms >= before + 120_000


async def test_a_stored_payload_that_does_not_fit_its_kind_fails_at_once_with_the_reason(db):
    seen: list[int] = []
    runner = _recording_runner(seen)
    job = await Job.create(kind=Remind.KIND, payload={"n": "seven"}, due_ms=now_ms(),
                           max_attempts=8)

    await runner.run_due()

    row = await Job.get(id=job.id)
    assert (row.status, seen) == (JobStatus.FAILED, [])
    assert "remind.n" in (row.last_error or "")


def test_a_payload_is_stored_under_its_field_names_and_read_back_typed():
    from bot.incidents.rooms import CreateRoom

    room = CreateRoom(incident_id=3, chain=("zoom", "jitsi"), attempt=1, request_id="r-1")

    stored = room.to_json()
    assert stored == {"incident_id": 3, "chain": ["zoom", "jitsi"], "attempt": 1,
                      "request_id": "r-1"}
    assert CreateRoom.from_json(stored) == room


def test_every_kind_the_database_may_hold_has_its_handler():
    from bot.teams.timers import feature_jobs

    kinds = [handler.payload.KIND for handler in feature_jobs()]

    # Stored rows name these kinds: one dropped or renamed strands them (they fail).
    assert sorted(kinds) == ["action.track", "commandeer.install_app", "commandeer.remind",
                             "external.sync",
                             "handover.expire", "incident.channel",
                             "incident.channel.archive", "incident.channel.rename",
                             "incident.chat", "incident.chat.install", "incident.chat.member",
                             "incident.checkin", "incident.staff",
                             "review.export", "review.meeting", "review.remind",
                             "room.create", "room.join_check", "room.match_email",
                             "room.meet_poll", "room.teams_poll"]
