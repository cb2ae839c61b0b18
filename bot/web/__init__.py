"""HTTP: the aiohttp routes Teams and operators talk to."""

from __future__ import annotations

from typing import Any

from aiohttp import web

# The app's Runtime (bot.app), typed loosely here so routes need not import the wiring.
RUNTIME: web.AppKey[Any] = web.AppKey("runtime")
