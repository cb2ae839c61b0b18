"""A loopback Atlassian Statuspage REST API: creating and updating incidents.

`POST /v1/pages/{page_id}/incidents` and `PATCH /v1/pages/{page_id}/incidents/{id}` check
what Statuspage checks (`Authorization: OAuth <key>`, a known page, a JSON `incident`
object with a name on creation and a known status) and answer with an incident object
whose `incident_updates` grow with every call. Faults: the next calls can answer a status.
"""

from __future__ import annotations

import itertools
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.loopback import Request, serve

STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
COMPONENT_STATES = {"operational", "under_maintenance", "degraded_performance",
                    "partial_outage", "major_outage", ""}


@dataclass
class FakeStatuspage:
    """Start with `await fake.start()`; point the client at `api_url` with `key`."""

    key: str = "sp_test_key_value"
    page_id: str = "pg4lzycl8t1x"
    requests: list[Request] = field(default_factory=list)
    incidents: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str = ""

    def __post_init__(self) -> None:
        self._faults: list[tuple[int, dict[str, str]]] = []
        self._ids = (f"inc{n:09d}" for n in itertools.count(1))
        self._update_ids = (f"upd{n:09d}" for n in itertools.count(1))
        self._runner: web.AppRunner | None = None

    @property
    def api_url(self) -> str:
        return self.url + "/v1"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/pages/{page_id}/incidents", self._create)
        app.router.add_patch("/v1/pages/{page_id}/incidents/{incident_id}", self._update)
        self._runner, url = await serve(app)
        self.url = url.rstrip("/")

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, status: int, *, times: int = 1,
                  headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` calls with `status`."""
        self._faults.extend((status, dict(headers or {})) for _ in range(times))

    def bodies(self) -> list[str]:
        """Every update body Statuspage accepted, in the order it accepted them."""
        return [u["body"] for i in self.incidents.values() for u in reversed(i["incident_updates"])]

    async def _create(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, None)

    async def _update(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, request.match_info["incident_id"])

    async def _handle(self, request: web.Request, incident_id: str | None) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            body = None
        recorded = Request(request.method, request.path, dict(request.headers), body)
        self.requests.append(recorded)
        response = self._fault() or self._answer(request, body, incident_id)
        recorded.status = response.status
        return response

    def _fault(self) -> web.Response | None:
        if not self._faults:
            return None
        status, headers = self._faults.pop(0)
        return web.json_response({"error": "Service Unavailable" if status >= 500
                                  else "Rate limit exceeded"}, status=status, headers=headers)

    def _answer(self, request: web.Request, body: Any, incident_id: str | None) -> web.Response:
        if request.headers.get("Authorization") != f"OAuth {self.key}":
            return web.json_response({"error": "Could not authenticate"}, status=401)
        if request.match_info["page_id"] != self.page_id:
            return web.json_response({"error": "Page not found"}, status=404)
        fields = body.get("incident") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return web.json_response({"error": "incident is missing"}, status=400)
        problem = _invalid(fields, creating=incident_id is None)
        if problem:
            return web.json_response({"error": [problem]}, status=422)
        if incident_id is None:
            incident = self._new(fields)
        elif incident_id in self.incidents:
            incident = self.incidents[incident_id]
        else:
            return web.json_response({"error": "Incident not found"}, status=404)
        self._add_update(incident, fields)
        return web.json_response(incident, status=201 if incident_id is None else 200)

    def _new(self, fields: dict[str, Any]) -> dict[str, Any]:
        new_id = next(self._ids)
        now = _now()
        incident = {
            "id": new_id, "page_id": self.page_id, "name": fields["name"],
            "status": fields.get("status", "investigating"), "impact": "none",
            "created_at": now, "updated_at": now, "resolved_at": None,
            "shortlink": f"https://stspg.io/{new_id[-6:]}", "components": [],
            "incident_updates": [],
        }
        self.incidents[new_id] = incident
        return incident

    def _add_update(self, incident: dict[str, Any], fields: dict[str, Any]) -> None:
        now = _now()
        status = fields.get("status", incident["status"])
        incident["status"], incident["updated_at"] = status, now
        if status == "resolved":
            incident["resolved_at"] = now
        incident["component_ids"] = fields.get("component_ids", incident.get("component_ids"))
        incident["incident_updates"].insert(0, {
            "id": next(self._update_ids), "incident_id": incident["id"], "status": status,
            "body": fields.get("body", ""), "created_at": now, "display_at": now,
            "affected_components": fields.get("components"), "deliver_notifications": True})


def _invalid(fields: dict[str, Any], *, creating: bool) -> str | None:
    if creating and not (isinstance(fields.get("name"), str) and fields["name"].strip()):
        return "Name can't be blank"
    if "status" in fields and fields["status"] not in STATUSES:
        return "Status is not included in the list"
    ids = fields.get("component_ids", [])
    if not isinstance(ids, list) or not all(
            isinstance(i, str) and set(i) <= set(string.ascii_lowercase + string.digits)
            for i in ids):
        return "Component ids are invalid"
    states = fields.get("components", {})
    if not isinstance(states, dict) or not set(states.values()) <= COMPONENT_STATES:
        return "Components are invalid"
    return None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
