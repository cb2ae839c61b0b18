"""HTTP: the aiohttp routes Teams and operators talk to."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.logs import Throttled
from bot.metrics import Metrics

# The app's Runtime (bot.app), typed loosely here so routes need not import the wiring.
RUNTIME: web.AppKey[Any] = web.AppKey("runtime")
# Known before start-up, so that requests answered before the runtime exists are counted.
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
METRICS: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
# Refused requests (no token, slow bodies, other channels, tenants): a flood of them is
# logged once a minute with a count.
REFUSALS: web.AppKey[Throttled] = web.AppKey("refusals", Throttled)
