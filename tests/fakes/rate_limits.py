"""Microsoft's published Teams bot rate limits, enforced over sliding windows.

Source: "Optimize your bot with rate limiting in Teams",
https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit
(MicrosoftDocs/msteams-docs, msteams-platform/bots/how-to/rate-limit.md):

- Per bot per thread, where "a conversation is 1:1 between bot and user, a group chat, or a
  channel in a team": "Send to conversation" and "Create conversation" each allow 7
  operations in 1 s, 8 in 2 s, 60 in 30 s and 1800 in 3600 s.
- "Get conversation members" has limits of its own: 14 in 1 s, 16 in 2 s, 120 in 30 s and
  3600 in 3600 s. `get_member` calls are counted under those, in a bucket apart from the
  thread's sends (they are *limited*, not free).
- "The global limit per app per tenant is 50 Requests Per Second (RPS)". Older versions of
  the page said 30; the current one says 50, which is what is enforced here. Every request
  counts against it, member look-ups included ("All requests are subject to the same rate
  limiting policy, including sending messages, channel enumerations, and roster fetches").

The page also lists a per thread limit for *all* bots (14 in 1 s, 16 in 2 s); with one bot
under test it can never bind before the per bot one, so it is left out.

Only accepted calls are counted: a refused call never reached the service, so it must not
push the window further out (a client that retries too early is refused, not punished).
The page warns that "the exact values of rate limits are subject to change" and that the
values "are for estimation only": the windows are fields, so a test may tighten them.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass

DOCS = "https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit"


@dataclass(frozen=True)
class Window:
    """At most `limit` accepted operations in any `seconds`-long stretch."""

    seconds: float
    limit: int

    def describe(self) -> str:
        return f"{self.limit} in {self.seconds:g} s"


# Send to conversation / Create conversation, per bot per thread.
THREAD_WINDOWS = (Window(1, 7), Window(2, 8), Window(30, 60), Window(3600, 1800))
# Get conversation members, per bot per thread.
MEMBERS_WINDOWS = (Window(1, 14), Window(2, 16), Window(30, 120), Window(3600, 3600))
# Per app per tenant, every request.
TENANT_WINDOWS = (Window(1, 50),)


@dataclass
class Refusal:
    """Why the last refused call was refused: which bucket and window, and the wait."""

    bucket: str
    window: Window
    wait_s: float


@dataclass
class TeamsRateLimits:
    """`check(key, tenant)` answers None (and counts the call) or the seconds to wait.

    `key` is the thread (a conversation id without its `;messageid=` suffix, or whatever
    the caller decided identifies the thread); `tenant` the tenant id. `clock` is injectable
    so tests step time instead of sleeping.
    """

    thread_windows: tuple[Window, ...] = THREAD_WINDOWS
    members_windows: tuple[Window, ...] = MEMBERS_WINDOWS
    tenant_windows: tuple[Window, ...] = TENANT_WINDOWS
    clock: Callable[[], float] = time.monotonic
    # The last refusal, for a readable 429 message and for test failures.
    last_refusal: Refusal | None = None

    def __post_init__(self) -> None:
        # Arrival times of accepted calls, oldest first, per bucket.
        self._accepted: dict[tuple[str, str], list[float]] = {}

    def check(self, key: str, tenant: str, now: float | None = None, *,
              members: bool = False) -> float | None:
        """None if the call is within every window (it is then counted), else the seconds
        until every violated window has room again. `members=True` for "Get conversation
        members" calls, which have their own per thread limits."""
        now = self.clock() if now is None else now
        if members:
            thread = (("members", key), self.members_windows)
        else:
            thread = (("thread", key), self.thread_windows)
        buckets = [thread, (("tenant", tenant), self.tenant_windows)]
        worst: Refusal | None = None
        for bucket, windows in buckets:
            times = self._accepted.setdefault(bucket, [])
            del times[:bisect.bisect_right(times, now - max(w.seconds for w in windows))]
            for window in windows:
                wait = _wait(times, window, now)
                if wait is not None and (worst is None or wait > worst.wait_s):
                    worst = Refusal(f"{bucket[0]} {bucket[1]}", window, wait)
        if worst is not None:
            self.last_refusal = worst
            return worst.wait_s
        for bucket, _ in buckets:
            bisect.insort(self._accepted[bucket], now)
        return None

    def accepted(self, key: str, *, members: bool = False) -> int:
        """Calls counted for a thread (within the longest window), for assertions."""
        return len(self._accepted.get(("members" if members else "thread", key), ()))


def _wait(times: list[float], window: Window, now: float) -> float | None:
    """A call counts while `now - at < seconds`; None if one more fits, else how long until
    enough of the oldest ones leave the window for it to fit."""
    inside = len(times) - bisect.bisect_right(times, now - window.seconds)
    if inside < window.limit:
        return None
    # The call `limit` places from the newest must leave before one more fits.
    return times[len(times) - window.limit] + window.seconds - now
