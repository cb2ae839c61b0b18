"""The external-update form's button: what customers read, published."""

from __future__ import annotations

from typing import Any

from bot.incidents import external
from bot.incidents.context import Ctx
from bot.teams.command_line import public_status
from bot.teams.commands.card_data import card_id
from bot.teams.router import CardAction, Router

router = Router()


async def _publish(ctx: Ctx, data: dict[str, Any]) -> None:
    await external.submit(ctx, card_id(data, "incidentId"), title=str(data.get("title") or ""),
                          components=str(data.get("components") or ""),
                          status=public_status(str(data.get("status") or "")),
                          text=str(data.get("text") or ""))


async def _published(ctx: Ctx, data: dict[str, Any]) -> str:
    return "Published to customers. It is on the status page now."


router.card("external.publish", CardAction(_publish, _published))
