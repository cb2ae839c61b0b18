"""Closed-loop load: N senders post fresh Teams messages to one server for a fixed time.

Runs as its own process, never inside a server: either once (`python -m bench.load ...`,
printing one JSON object) or as a small server (`--serve`) that runs one load per
`POST /run`, so a bench with dozens of runs does not pay an interpreter start for each.
A run reports requests/s, p50/p99 latency of the HTTP answer (the ack), errors, and,
when `replies` is on, p50/p99 of the reply reaching the fake connector (its arrival time
is read back from the connector; both processes stamp with the system's monotonic clock).
Requests that finish during the warm-up are not measured; every request gets a new
activity id, because Teams (and our bot) treat a repeated id as a redelivery. `--text`
picks the command (default `help`); a `{n}` in it becomes the request's sequence number
plus `first`, `{m}` spreads requests over 100 incidents; `accept` sends a card action;
`--get` loads a GET URL instead (a review page). A message @mentions the bot unless the
job says `mention: false` (conversation the bot captures or drops, never a command).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from time import perf_counter, process_time

import aiohttp
from aiohttp import web

from bench.message import ACCEPT, CONVERSATION_ID, HELP_TEXT, body_factory

HEADERS = {"Content-Type": "application/json"}
MAX_ERROR_SAMPLES = 5
NEVER_OPENED = 1  # windows to wait for the steady state before giving up
REPLY_WAIT_S = 1.5  # longest wait for the replies of the measured requests


@dataclass
class Window:
    """The measured interval, in `perf_counter` seconds, decided as answers come in.

    It opens once every sender has had an answer (the closed loop is in its steady state)
    and `warmup` has passed; it closes after `duration`, or later if fewer than
    `min_samples` answers fell inside it (never later than `max_window` after opening).
    A server too slow to answer every sender within `NEVER_OPENED` windows after the
    warm-up is measured from then on anyway, marked `saturated`: its queue was still
    growing, so its latencies are lower bounds.
    """

    begun: float
    warmup: float
    duration: float
    senders: int
    min_samples: int = 0
    max_window: float = 0.0
    answered: int = 0
    measured: int = 0
    start: float | None = None
    end: float | None = None  # set when it closes
    saturated: bool = False

    def observe(self, finished: float) -> bool:
        """Account for an answer at `finished`; True if it falls in the window."""
        self.answered += 1
        if self.end is not None:
            return False
        if self.start is None:
            if (self.answered >= self.senders
                    and finished >= self.begun + self.warmup):
                self.start = finished
            elif finished >= self.begun + self.warmup + NEVER_OPENED * self.longest:
                self.start, self.saturated = finished, True
            return False
        if finished >= self.start + self.duration and (
                self.measured >= self.min_samples or finished >= self.start + self.longest):
            self.end = finished
            return False
        self.measured += 1
        return True

    @property
    def longest(self) -> float:
        return max(self.duration, self.max_window)

    @property
    def closed(self) -> bool:
        return self.end is not None

    @property
    def length(self) -> float:
        if self.start is None or self.end is None:
            return self.duration
        return self.end - self.start


@dataclass
class Tally:
    """What the senders saw; latencies only for answers inside the window."""

    latencies: list[float] = field(default_factory=list)
    # reply key -> monotonic time the request was sent, for measured requests
    sent_at: dict[str, float] = field(default_factory=dict)
    ok_total: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def error(self, detail: str) -> None:
        self.errors += 1
        if len(self.error_samples) < MAX_ERROR_SAMPLES:
            self.error_samples.append(detail)


@dataclass
class LoadResult:
    """One load run, as the bench reads it back."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    ok_total: int
    measured: int
    cpu_s: float
    wall_s: float
    error_samples: list[str]
    sent: int = 0  # requests sent, warm-up and errors included (sequence numbers used)
    reply_p50_ms: float = float("nan")
    reply_p99_ms: float = float("nan")
    replies_missing: int = 0  # measured requests whose reply never reached the connector
    saturated: bool = False  # not every sender had an answer before the window opened


@dataclass(frozen=True)
class Job:
    """One load run: where, what, how hard, how long."""

    url: str
    service_url: str
    concurrency: int = 20
    duration: float = 10.0
    warmup: float = 2.0
    text: str = HELP_TEXT
    first: int = 0  # added to `{n}`: the first handover (or title number) this run uses
    replies: bool = False  # time the replies on the connector too
    expect: str = ""  # a 2xx answer must contain this, else it counts as an error
    get: bool = False  # GET `url` instead of posting messages
    conversation_id: str = CONVERSATION_ID  # may hold {n} and {m}, like the text
    reply_to_id: str = ""  # the thread's root (`replyToId`), may hold {n} and {m}; "": none
    mention: bool = True  # @mention the bot (off: conversation, not a command)
    min_samples: int = 0  # keep measuring past `duration` until this many answers ...
    max_window: float = 0.0  # ... but no longer than this


async def post_once(session: aiohttp.ClientSession, url: str, body: bytes | None,
                    expect: bytes) -> str | None:
    """POST one message (GET `url` when `body` is None); None on a good answer."""
    try:
        request = (session.get(url) if body is None
                   else session.post(url, data=body, headers=HEADERS))
        async with request as resp:
            text = await resp.read()
            if 200 <= resp.status < 300 and expect in text:
                return None
            return f"HTTP {resp.status}: {text[:300].decode(errors='replace')}"
    except (TimeoutError, aiohttp.ClientError) as exc:
        return f"{type(exc).__name__}: {exc}"


async def sender(*, session: aiohttp.ClientSession, job: Job,
                 next_body: Callable[[], tuple[bytes | None, str]], window: Window,
                 tally: Tally) -> None:
    """Send back to back until the window closes."""
    expect = job.expect.encode()
    while not window.closed:
        body, reply_key = next_body()
        started, sent_at = perf_counter(), time.monotonic()
        problem = await post_once(session, job.url, body, expect)
        finished = perf_counter()
        if problem is not None:
            window.observe(finished)  # an error still moves the loop on
            tally.error(problem)
            continue
        tally.ok_total += 1
        if window.observe(finished):
            tally.latencies.append(finished - started)
            if job.replies:
                tally.sent_at[reply_key] = sent_at


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def reply_latencies(session: aiohttp.ClientSession, service_url: str,
                          sent_at: dict[str, float]) -> tuple[list[float], int]:
    """Seconds from sending to the reply's arrival, and how many replies never came."""
    waiting, latencies = dict(sent_at), []
    deadline = time.monotonic() + REPLY_WAIT_S
    while waiting:
        async with session.post(f"{service_url}arrivals",
                                json={"keys": list(waiting)}) as resp:
            found = (await resp.json())["arrivals"]
        latencies += [arrived - waiting.pop(key) for key, arrived in found.items()]
        if not waiting or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    return sorted(latencies), len(waiting)


class Bodies:
    """Calling it gives the next request body (None for a GET) and the activity id its
    reply will name; `sent` is how many it gave."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self._prefix = uuid.uuid4().hex[:12]
        self._body_for = body_factory(service_url=job.service_url, text=job.text,
                                      first=job.first, conversation_id=job.conversation_id,
                                      reply_to_id=job.reply_to_id or None,
                                      mention=job.mention)
        self.sent = 0

    def __call__(self) -> tuple[bytes | None, str]:
        number, self.sent = self.sent, self.sent + 1
        if self._job.get:
            return None, ""
        activity_id = f"{self._prefix}-{number}"
        # An accepted role is announced in the incident's thread, under its card.
        key = f"card-{self._job.first + number}" if self._job.text == ACCEPT else activity_id
        return self._body_for(activity_id, number), key


async def run_load(job: Job) -> LoadResult:
    """Drive the server for warm-up + duration seconds and summarise the window."""
    next_body = Bodies(job)
    cpu_start = process_time()
    now = perf_counter()
    window = Window(begun=now, warmup=job.warmup, duration=job.duration,
                    senders=job.concurrency, min_samples=job.min_samples,
                    max_window=job.max_window)
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=job.concurrency + 1)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if job.replies:
            async with session.delete(f"{job.service_url}arrivals") as resp:
                await resp.read()
        await asyncio.gather(*(
            sender(session=session, job=job, next_body=next_body, window=window, tally=tally)
            for _ in range(job.concurrency)
        ))
        cpu_s, wall_s = process_time() - cpu_start, perf_counter() - now
        replies, missing = ([], 0)
        if job.replies:
            replies, missing = await reply_latencies(session, job.service_url, tally.sent_at)
    latencies = sorted(tally.latencies)
    return LoadResult(
        requests_per_s=len(latencies) / window.length,
        p50_ms=percentile(latencies, 0.50) * 1000, p99_ms=percentile(latencies, 0.99) * 1000,
        errors=tally.errors, ok_total=tally.ok_total, measured=len(latencies),
        cpu_s=cpu_s, wall_s=wall_s,
        error_samples=tally.error_samples,
        sent=next_body.sent,
        reply_p50_ms=percentile(replies, 0.50) * 1000,
        reply_p99_ms=percentile(replies, 0.99) * 1000,
        replies_missing=missing,
        saturated=window.saturated,
    )


async def post_run(request: web.Request) -> web.Response:
    """`POST /run` with a `Job` as JSON: run it, answer its `LoadResult`."""
    job = Job(**await request.json())
    return web.json_response(asdict(await run_load(job)))


async def get_healthz(request: web.Request) -> web.Response:
    return web.Response(status=200)


def serve(port: int) -> None:
    """Run loads on request, one at a time (the bench waits for each answer)."""
    app = web.Application()
    app.router.add_post("/run", post_run)
    app.router.add_get("/healthz", get_healthz)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, metavar="PORT",
                        help="serve POST /run on this port instead of running one load")
    parser.add_argument("--url", help="the server's /api/messages")
    parser.add_argument("--service-url", help="the fake connector's base URL")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--text", default=HELP_TEXT, help="message text; {n} = sequence no.")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if not args.url or not args.service_url:
        parser.error("--url and --service-url are required without --serve")
    result = asyncio.run(run_load(Job(url=args.url, service_url=args.service_url,
                                      concurrency=args.concurrency, duration=args.duration,
                                      warmup=args.warmup, text=args.text)))
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
