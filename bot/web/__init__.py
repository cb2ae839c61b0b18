"""HTTP: the aiohttp routes Teams and operators talk to."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.metrics import Metrics

# The app's Runtime (bot.app), typed loosely here so routes need not import the wiring.
RUNTIME: web.AppKey[Any] = web.AppKey("runtime")
# Known before start-up, so that requests answered before the runtime exists are counted.
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
