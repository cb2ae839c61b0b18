"""Roles and who may do what: one module, so the rules can be read (and tested) at once.

Roles: one Investigator (owns the diagnosis), extra investigators, one Incident Commander.
A role changes hands only when the new holder accepts (see `handovers`).
"""

from __future__ import annotations

from enum import Enum

from bot.errors import NotAllowedError
from bot.incidents.context import Ctx
from bot.incidents.people import Person
from bot.store.incident_models import Incident, Participant


class Role(str, Enum):
    INVESTIGATOR = "investigator"
    COMMANDER = "commander"
    ASSISTANT = "assistant"

    @property
    def title(self) -> str:  # type: ignore[override]  # shadows str.title() on purpose
        """How the guide names the role."""
        return {"investigator": "Investigator", "commander": "Incident Commander",
                "assistant": "extra investigator"}[self.value]

    @property
    def single(self) -> bool:
        """Held by exactly one person at a time."""
        return self is not Role.ASSISTANT


def holder(incident: Incident, role: Role) -> Person | None:
    """The current holder of a single role."""
    if role is Role.INVESTIGATOR and incident.investigator_id:
        return Person(incident.investigator_id, incident.investigator_name or "",
                      incident.investigator_aad)
    if role is Role.COMMANDER and incident.commander_id:
        return Person(incident.commander_id, incident.commander_name or "",
                      incident.commander_aad)
    return None


def set_holder(incident: Incident, role: Role, person: Person | None) -> None:
    """Give a single role to `person`, or leave it open (None); the caller saves the
    incident. A holder is stored as three columns per role; this is the one writer."""
    person_id, name, aad = (person.id, person.name, person.aad_object_id) if person else (
        None, None, None)
    if role is Role.INVESTIGATOR:
        incident.investigator_id, incident.investigator_name = person_id, name
        incident.investigator_aad = aad
    elif role is Role.COMMANDER:
        incident.commander_id, incident.commander_name, incident.commander_aad = (
            person_id, name, aad)
    else:
        raise ValueError(f"{role.title} is not held by one person")


async def assistants(incident: Incident) -> list[Person]:
    """Extra investigators, in the order they joined."""
    rows = await Participant.filter(incident=incident, role=Role.ASSISTANT.value).order_by("id")
    return [Person(r.person_id, r.name, r.aad_object_id) for r in rows]


def is_admin(ctx: Ctx, person: Person) -> bool:
    """Admins listed in configuration may act on any incident."""
    ids = ctx.policy.admin_ids
    return person.id in ids or (person.aad_object_id or "") in ids


async def holds_any_role(incident: Incident, person: Person) -> bool:
    """Investigator, Commander or extra investigator."""
    if person.id in (incident.investigator_id, incident.commander_id):
        return True
    return await Participant.filter(incident=incident, person_id=person.id).exists()


async def require_role_holder(ctx: Ctx, incident: Incident, action: str) -> None:
    """Severity, status, roles and broadcasts: role holders and admins only."""
    if await holds_any_role(incident, ctx.actor) or is_admin(ctx, ctx.actor):
        return
    raise NotAllowedError(
        f"Only the people working INC-{incident.number} (or an admin) can {action}. "
        f"{_who(incident)}"
    )


def require_commandeerer(ctx: Ctx, incident: Incident) -> None:
    """The guide gives the power to commandeer to the Commander (and the Investigator)."""
    if ctx.actor.id in (incident.commander_id, incident.investigator_id):
        return
    raise NotAllowedError(
        f"Only the Incident Commander or the Investigator of INC-{incident.number} can "
        f"commandeer people. {_who(incident)}"
    )


def require_commander(ctx: Ctx, incident: Incident, action: str) -> None:
    """Decisions the guide leaves to the Commander (waiving the review)."""
    if ctx.actor.id == incident.commander_id or is_admin(ctx, ctx.actor):
        return
    raise NotAllowedError(f"Only the Incident Commander can {action}. {_who(incident)}")


async def require_external_publisher(ctx: Ctx, incident: Incident) -> None:
    """What customers read: the Commander, admins, and the roles EXTERNAL_UPDATE_ROLES adds."""
    allowed = ctx.policy.external_roles
    me = ctx.actor.id
    if me == incident.commander_id or is_admin(ctx, ctx.actor) or "anyone" in allowed:
        return
    if "investigator" in allowed and me == incident.investigator_id:
        return
    if "assistant" in allowed and await Participant.filter(
            incident=incident, person_id=me, role=Role.ASSISTANT.value).exists():
        return
    raise NotAllowedError(f"Only the Incident Commander of INC-{incident.number} can publish "
                          f"external updates. {_who(incident)}")


def _who(incident: Incident) -> str:
    commander = incident.commander_name or "nobody yet"
    investigator = incident.investigator_name or "nobody yet"
    return f"Commander: {commander}. Investigator: {investigator}."
