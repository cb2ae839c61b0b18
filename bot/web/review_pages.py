"""`GET /incidents/{id}/review.html|md`: the review, for holders of a signed link only,
both laid out by the review template read at start (`Runtime.review_template`)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web

from bot.incidents import review_links
from bot.incidents.pir_builder import build_record
from bot.store.incident_models import Incident
from bot.web import RUNTIME
from bot.web.errors import problem, reads_database
from bot.web.review_html import render_html
from bot.web.review_markdown import render_markdown

if TYPE_CHECKING:
    from bot.app import Runtime


@reads_database
async def get_review(request: web.Request) -> web.StreamResponse:
    """The review page, or 403 for a missing, forged or expired signature."""
    runtime: Runtime = request.app[RUNTIME]
    fmt = request.match_info["fmt"]
    try:
        incident_id = int(request.match_info["incident_id"])
        expires = int(request.query.get("expires", ""))
    except ValueError:
        return problem(403, "this link is not valid")
    signature = request.query.get("sig", "")
    if not await review_links.valid(incident_id, fmt=fmt, expires=expires, signature=signature,
                                    now=int(time.time())):
        return problem(403, "this link is not valid or has expired; ask the bot for a new one "
                            "with `@incident pir`")
    incident = await Incident.get_or_none(id=incident_id)
    if incident is None:
        return problem(404, "no such incident")
    record = await build_record(incident, default_zone=runtime.settings.timezone,
                                scale=runtime.severity)
    headers = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                          "img-src data:"}
    layout = runtime.review_template
    if fmt == "md":
        headers["Content-Disposition"] = f'attachment; filename="INC-{incident.number}-review.md"'
        return web.Response(text=render_markdown(record, layout), content_type="text/markdown",
                            charset="utf-8", headers=headers)
    return web.Response(text=render_html(record, layout), content_type="text/html",
                        charset="utf-8", headers=headers)
