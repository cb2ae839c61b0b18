"""Closed-loop load: N senders post fresh Teams messages to one server for a fixed time.

Runs as its own process (`python -m bench.load ...`), never inside a server, and prints
one JSON object: requests/s, p50/p99 latency of the HTTP answer, errors. Requests that
finish during the warm-up are not measured; every request gets a new activity id,
because Teams (and our bot) treat a repeated id as a redelivery. `--text` picks the
command (default `help`); a `{n}` in it becomes the request's sequence number.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from time import perf_counter, process_time

import aiohttp

from bench.message import HELP_TEXT, body_factory

HEADERS = {"Content-Type": "application/json"}
MAX_ERROR_SAMPLES = 5


@dataclass
class Window:
    """The measured interval, in `perf_counter` seconds."""

    start: float
    end: float


@dataclass
class Tally:
    """What the senders saw; latencies only for answers inside the window."""

    latencies: list[float] = field(default_factory=list)
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


async def post_once(session: aiohttp.ClientSession, url: str, body: bytes) -> str | None:
    """POST one message; None on a 2xx answer, else what went wrong."""
    try:
        async with session.post(url, data=body, headers=HEADERS) as resp:
            text = await resp.read()
            if 200 <= resp.status < 300:
                return None
            return f"HTTP {resp.status}: {text[:300].decode(errors='replace')}"
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"


async def sender(*, session: aiohttp.ClientSession, url: str, next_body: Callable[[], bytes],
                 window: Window, tally: Tally) -> None:
    """Send back to back until the window closes."""
    while perf_counter() < window.end:
        body = next_body()
        started = perf_counter()
        problem = await post_once(session, url, body)
        finished = perf_counter()
        if problem is not None:
            tally.error(problem)
            continue
        tally.ok_total += 1
        if window.start <= finished <= window.end:
            tally.latencies.append(finished - started)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def run_load(*, url: str, service_url: str, concurrency: int, duration: float,
                   warmup: float, text: str = HELP_TEXT) -> LoadResult:
    """Drive the server for warm-up + duration seconds and summarise the window."""
    body_for = body_factory(service_url=service_url, text=text)
    counter = itertools.count()
    prefix = uuid.uuid4().hex[:12]

    def next_body() -> bytes:
        number = next(counter)
        return body_for(f"{prefix}-{number}", number)

    cpu_start = process_time()
    now = perf_counter()
    window = Window(start=now + warmup, end=now + warmup + duration)
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(
            sender(session=session, url=url, next_body=next_body, window=window, tally=tally)
            for _ in range(concurrency)
        ))
    cpu_s, wall_s = process_time() - cpu_start, perf_counter() - now
    latencies = sorted(tally.latencies)
    return LoadResult(
        requests_per_s=len(latencies) / duration,
        p50_ms=percentile(latencies, 0.50) * 1000, p99_ms=percentile(latencies, 0.99) * 1000,
        errors=tally.errors, ok_total=tally.ok_total, measured=len(latencies),
        cpu_s=cpu_s, wall_s=wall_s,
        error_samples=tally.error_samples,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the server's /api/messages")
    parser.add_argument("--service-url", required=True, help="the fake connector's base URL")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--text", default=HELP_TEXT, help="message text; {n} = sequence no.")
    args = parser.parse_args()
    result = asyncio.run(run_load(url=args.url, service_url=args.service_url,
                                  concurrency=args.concurrency, duration=args.duration,
                                  warmup=args.warmup, text=args.text))
    print(json.dumps(asdict(result)), flush=True)


if __name__ == "__main__":
    main()
