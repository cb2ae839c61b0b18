"""Microsoft Teams' published rate limits for bots, as sliding windows the fake connector keeps.

https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/rate-limit lists,
per bot per thread (a 1:1 chat, a group chat or a channel: every thread of a channel
shares the channel's budget), at most 7 operations in 1 s, 8 in 2 s, 60 in 30 s and
1,800 in 3,600 s, and per app per tenant at most 50 requests per second. Past a limit
Teams answers 429 and the bot is expected to back off. The windows slide and count only
what was accepted: a refused request costs the sender nothing but time, as on Teams.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass, field

# (operations, seconds)
PER_THREAD = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
PER_TENANT = ((50, 1.0),)


@dataclass
class Windows:
    """Accepted-request times (ascending) of one key, checked against its limits."""

    limits: tuple[tuple[int, float], ...]
    times: list[float] = field(default_factory=list)

    def wait(self, now: float) -> float:
        """Seconds until one more request fits every window (0: it fits now)."""
        longest = max(seconds for _, seconds in self.limits)
        if self.times and self.times[0] <= now - longest:  # forget what no window sees
            del self.times[:bisect.bisect_right(self.times, now - longest)]
        wait = 0.0
        for limit, seconds in self.limits:
            first = bisect.bisect_right(self.times, now - seconds)
            inside = len(self.times) - first
            if inside >= limit:
                # The window frees when enough of its oldest requests have left it.
                leaves = self.times[first + inside - limit]
                wait = max(wait, leaves + seconds - now)
        return wait


@dataclass
class TeamsLimits:
    """Every thread's and tenant's windows; `admit` says yes (None) or how long to wait."""

    threads: dict[str, Windows] = field(
        default_factory=lambda: defaultdict(lambda: Windows(PER_THREAD)))
    tenants: dict[str, Windows] = field(
        default_factory=lambda: defaultdict(lambda: Windows(PER_TENANT)))

    def admit(self, thread: str, tenant: str, now: float) -> int | None:
        """None if the request is accepted (and counted), else the `Retry-After` in whole
        seconds (at least 1) until both its thread and its tenant would take it."""
        windows = (self.threads[thread], self.tenants[tenant])
        wait = max(w.wait(now) for w in windows)
        if wait > 0:
            return max(1, math.ceil(wait))
        for w in windows:
            w.times.append(now)
        return None


def thread_key(conversation_id: str) -> str:
    """The thread a conversation id belongs to: a channel's replies share its budget."""
    return conversation_id.split(";messageid=", 1)[0]
