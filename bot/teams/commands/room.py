"""`room`: the Incident Command Room's link, or a new room on a provider."""

from __future__ import annotations

from bot.incidents import rooms
from bot.incidents.queries import find_incident
from bot.teams.answers import Answer, Text
from bot.teams.call import Call
from bot.teams.command_line import Command, split_reference
from bot.teams.commands.about_incident import on_incident
from bot.teams.router import Router

router = Router()


@router.command("room", f"room [{'|'.join(rooms.PROVIDERS)}]",
                synonyms=("call", "bridge", "zoom", "meet"))
async def room(call: Call, cmd: Command) -> Answer | None:
    """Show the Incident Command Room link, or make a new room on a provider."""
    number, rest = split_reference(cmd.args)
    if not rest:
        incident = await call.read(lambda: find_incident(call.context(), number, lock=False))
        return Text(rooms.show_room(incident))
    await on_incident(call, cmd, lambda ctx, inc, provider: rooms.ask_for_room(
        ctx, inc, provider.strip().lower(), ctx.policy.video_chain))
    return None
