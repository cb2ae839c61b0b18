"""`declare` and the declare form's button: opening an incident."""

from __future__ import annotations

from typing import Any

from bot.incidents.context import Ctx
from bot.incidents.declare import Declaration, declare
from bot.store.incident_models import Incident
from bot.teams import incident_cards
from bot.teams.answers import Answer, CardAnswer
from bot.teams.call import Call
from bot.teams.command_line import Command, severity_in_title
from bot.teams.router import CardAction, Router

router = Router()


@router.command("declare", "declare [private] <title> [sev1-4] [@investigator] [@commander]",
                synonyms=("open", "new", "raise", "create", "incident"))
async def declare_incident(call: Call, cmd: Command) -> Answer | None:
    """Open an incident (alone: a form); severity defaults to the highest.

    `declare private ...`: only the people involved see it, in a group chat of their own;
    the incidents channel sees one redacted line.
    """
    if not cmd.args:
        return CardAnswer(incident_cards.declare_form_card(
            private=call.services.policy.private_enabled,
            scale=call.services.policy.severity))
    words = cmd.args.split()
    private = len(words) > 1 and words[0].lower() == "private"
    if private:
        words = words[1:]
    people = [p for w in words if (p := cmd.person(w))]
    if private:
        # Graph adds members to the chat by their Entra id, which mentions leave out.
        people = await call.complete(people)
    level, title = severity_in_title([w for w in words if not cmd.person(w)],
                                     call.services.policy.severity)
    what = Declaration(title=" ".join(title), severity=level,
                       investigator=people[0] if people else None,
                       commander=people[1] if len(people) > 1 else None, private=private)
    await call.execute(lambda ctx: declare(ctx, what))
    return None


async def _declare_from_form(ctx: Ctx, data: dict[str, Any]) -> Incident:
    level = str(data.get("severity") or "1")
    scale = ctx.policy.severity
    known = {str(n) for n in range(scale.highest, scale.lowest + 1)}
    return await declare(ctx, Declaration(
        title=str(data.get("title") or ""),
        severity=int(level) if level in known else None,
        description=str(data.get("description") or "") or None,
        affected=str(data.get("affected") or "") or None,
        private=str(data.get("private") or "").lower() == "true",
    ))


async def _declared_view(ctx: Ctx, data: dict[str, Any]) -> str:
    if str(data.get("private") or "").lower() == "true":
        return "Declared. Its private group chat is being created; only its members see it."
    return "Declared. The incident's thread and card are in the incidents channel."


router.card("declare.submit", CardAction(_declare_from_form, _declared_view))
