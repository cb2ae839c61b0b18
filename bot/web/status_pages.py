"""`GET /status`, `/status.json`, `/status.atom`: the public status page, with no login.

It shows the external updates of the one tenant named by STATUS_PAGE_TENANT_ID (or the
app's only allowed tenant) and nothing else; without one it answers 404.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from aiohttp import web

from bot.incidents.status_page import StatusView, published
from bot.web import RUNTIME
from bot.web.errors import problem, reads_database
from bot.web.status_document import render_atom, render_html, render_json

if TYPE_CHECKING:
    from bot.app import Runtime

# Modest caching: customers refreshing during an incident see news within a minute.
HEADERS = {"Cache-Control": "public, max-age=30", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
           "Referrer-Policy": "no-referrer"}


async def _view(request: web.Request) -> StatusView | None:
    runtime: Runtime = request.app[RUNTIME]
    settings = runtime.settings
    if not settings.status_tenant:
        return None
    return await published(settings.status_tenant, now=dt.datetime.now(dt.UTC),
                           days=settings.status_page_days, title=settings.status_page_title,
                           base_url=settings.base_url,
                           components=tuple(name for name, _ in settings.components))


def _missing() -> web.Response:
    return problem(404, "no status page is configured (STATUS_PAGE_TENANT_ID)")


@reads_database
async def get_status(request: web.Request) -> web.StreamResponse:
    """The HTML page."""
    view = await _view(request)
    if view is None:
        return _missing()
    return web.Response(text=render_html(view), content_type="text/html", charset="utf-8",
                        headers=HEADERS)


@reads_database
async def get_status_json(request: web.Request) -> web.StreamResponse:
    """The same, as JSON."""
    view = await _view(request)
    if view is None:
        return _missing()
    return web.json_response(render_json(view), headers=HEADERS)


@reads_database
async def get_status_atom(request: web.Request) -> web.StreamResponse:
    """The same, as an Atom 1.0 feed of updates."""
    view = await _view(request)
    if view is None:
        return _missing()
    return web.Response(body=render_atom(view), content_type="application/atom+xml",
                        charset="utf-8", headers=HEADERS)
