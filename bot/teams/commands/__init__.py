"""Every command, card button and message action, one feature per module.

Each module here that defines `router` (a `bot.teams.router.Router`) is found and
included: a new feature is a new module, with nothing else to edit.
"""

from __future__ import annotations

from bot.discovery import each_module
from bot.teams.router import Router


def all_routes() -> Router:
    """One router holding every module's registrations."""
    routers = (getattr(module, "router", None) for module in each_module(__name__))
    return Router().include(r for r in routers if isinstance(r, Router))
