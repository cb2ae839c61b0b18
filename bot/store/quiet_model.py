"""Models written on every command's path, saved without Tortoise's empty signal round.

Tortoise awaits `asyncio.gather()` of a model's pre- and post-save listeners on every
save, even when there are none: two futures per insert, a quarter of the time of
creating an outbox row (issue 16's profile of `note`). The bot registers no listeners;
if one ever is, it is awaited as before.
"""

from __future__ import annotations

from typing import Any

from tortoise.signals import Signals


class Unsignalled:
    """Mixin for a Model: its saves skip the listeners' round when it has none."""

    async def _wait_for_listeners(self, signal: Signals, *listener_args: Any) -> None:
        if self._listeners.get(signal, {}).get(self.__class__):  # type: ignore[attr-defined]
            await super()._wait_for_listeners(signal, *listener_args)  # type: ignore[misc]
