"""Wall-clock time as the scheduling columns store it."""

from __future__ import annotations

import time


def now_ms() -> int:
    """Epoch milliseconds, the unit of every `*_ms` column."""
    return int(time.time() * 1000)
