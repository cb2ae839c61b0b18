"""Every command, card button and message action, one feature per module.

Each module here that defines `router` (a `bot.teams.router.Router`) is found and
included: a new feature is a new module, with nothing else to edit.
"""

from __future__ import annotations

import importlib
import pkgutil

from bot.teams.router import Router


def all_routes() -> Router:
    """One router holding every module's registrations."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, Router):
            found.append(router)
    return Router().include(found)
