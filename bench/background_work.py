"""Watching what a bot does after its HTTP ack: the incident's thread and its video room.

Declaring answers Teams at once and leaves the thread (outbox) and the room (durable job)
to background work, so the ack alone proves nothing about them: these helpers count them
on the fake connector and the fake Zoom, and wait (bounded) until the counts stop moving.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from bench.message import DECLARE_TEXT, NUMBER, channel_message
from bench.processes import get_json
from bench.servers import Server


@dataclass(frozen=True)
class Counts:
    """What the fakes have seen so far; subtract two of these for one interval."""

    threads: int
    room_posts: int
    replies: int
    other: int
    zoom_meetings: int
    zoom_in_flight: int

    def __sub__(self, before: Counts) -> Counts:
        return Counts(*(a - b for a, b in zip(self.as_tuple(), before.as_tuple())))

    def as_tuple(self) -> tuple[int, ...]:
        return (self.threads, self.room_posts, self.replies, self.other, self.zoom_meetings,
                self.zoom_in_flight)


def read_counts(connector: Server, zoom: Server | None) -> Counts:
    """The connector's (and the fake Zoom's, if any) counters right now."""
    seen = get_json(f"{connector.base_url}/count")
    meetings = get_json(f"{zoom.base_url}/count") if zoom else {"created": 0, "in_flight": 0}
    return Counts(threads=int(seen["conversations"]), room_posts=int(seen["room_posts"]),
                  replies=int(seen["replies"]), other=int(seen["other"]),
                  zoom_meetings=int(meetings["created"]),
                  zoom_in_flight=int(meetings["in_flight"]))


@dataclass
class Settled:
    """Where a count ended up, and whether it stopped moving before the time limit."""

    value: int
    waited_s: float
    settled: bool


def settle(read: Callable[[], int], *, goal: int, quiet_s: float, limit_s: float,
           poll_s: float = 0.5) -> Settled:
    """Wait until `read()` reaches `goal` or stays unchanged for `quiet_s`, at most `limit_s`."""
    start = time.monotonic()
    value, changed_at = read(), start
    while value < goal:
        time.sleep(poll_s)
        now, latest = time.monotonic(), read()
        if latest != value:
            value, changed_at = latest, now
        if now - changed_at >= quiet_s:
            break
        if now - start >= limit_s:
            return Settled(value, now - start, settled=False)
    return Settled(value, time.monotonic() - start, settled=True)


@dataclass
class DeclareProbe:
    """One declare at rest: the ack, then how long the thread and the room took."""

    status: int
    body: str
    ack_ms: float
    thread_s: float | None
    room_s: float | None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and self.thread_s is not None and self.room_s is not None


def probe_declare(bot: Server, connector: Server, zoom: Server | None, *,
                  limit_s: float) -> DeclareProbe:
    """Declare one incident and time its ack, its thread and its room announcement."""
    before = read_counts(connector, zoom)
    message = channel_message(activity_id=f"probe-{uuid.uuid4().hex}",
                              service_url=f"{connector.base_url}/",
                              text=DECLARE_TEXT.replace(NUMBER, "probe"))
    request = urllib.request.Request(bot.messages_url, data=json.dumps(message).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    ack_s = time.monotonic() - started
    thread_s = room_s = None
    while time.monotonic() - started < limit_s and (thread_s is None or room_s is None):
        seen = read_counts(connector, zoom) - before
        elapsed = time.monotonic() - started
        thread_s = thread_s if thread_s is not None or seen.threads < 1 else elapsed
        room_s = room_s if room_s is not None or seen.room_posts < 1 else elapsed
        time.sleep(0.05)
    return DeclareProbe(status=status, body=body[:500].decode(errors="replace"),
                        ack_ms=ack_s * 1000, thread_s=thread_s, room_s=room_s)
