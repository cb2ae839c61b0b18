"""`oncall`: who is on call, and setting a squad's rotation, cover and overrides."""

from __future__ import annotations

from bot.errors import CommandError
from bot.incidents import notices as say
from bot.incidents import oncall as rota
from bot.incidents import team_settings
from bot.incidents.context import Ctx
from bot.incidents.people import Person
from bot.incidents.rotation import WEEKDAYS
from bot.teams.answers import Answer, Text
from bot.teams.call import Call
from bot.teams.command_line import Command
from bot.teams.router import Router

router = Router()
USAGE = (
    "Usage: `@incident oncall` | `oncall <squad> rotation weekly 09:00 mon Europe/London @a @b"
    " @c` | `oncall <squad> primary @x` | `oncall <squad> secondary @y` | `oncall <squad> "
    "override @z until 2026-11-28 18:00` | `oncall <squad> default` (this channel's squad) | "
    "`oncall <squad> runbook https://...` (`none` clears it)")


@router.command("oncall", "oncall [<squad> rotation|primary|secondary|override|default|"
                "runbook ...]")
async def oncall(call: Call, cmd: Command) -> Answer | None:
    """Who is on call; set a squad's rotation, today's cover, an override or its runbook."""
    words = cmd.args.split()
    if not words:
        return Text(await call.read(lambda: rota.show(call.context())))
    squad, action, rest = words[0], (words[1].lower() if len(words) > 1 else ""), words[2:]
    people = [p for w in rest if (p := cmd.person(w))]
    if people:
        # Presence lookups need Entra ids, which mentions do not carry.
        people = await call.complete(people)
    plain = [w for w in rest if not cmd.person(w)]

    async def work(ctx: Ctx) -> object:
        if action:  # changing who gets paged: the same rights as setup
            team_settings.require_setup_rights(ctx)
        if action == "rotation":
            return await _rotation(ctx, squad, plain, people)
        if action in rota.SLOTS and people:
            return await rota.cover(ctx, squad, action, people[0])
        if action == "override" and people and "until" in [w.lower() for w in plain]:
            slot = "secondary" if plain[0].lower() == "secondary" else "primary"
            when = " ".join(plain[[w.lower() for w in plain].index("until") + 1 :])
            # Read in the zone the answer writes it in (`rota.squad_zone`).
            target = await rota.squad_named(ctx.origin.tenant_id, squad)
            until = rota.parse_until(when, now=ctx.now, zone=await rota.squad_zone(ctx, target))
            return await rota.cover(ctx, squad, slot, people[0], until)
        if action == "runbook":
            return await rota.set_runbook(ctx, squad, " ".join(plain))
        if action == "default":
            await rota.set_channel_squad(ctx, squad)
            return None
        if not action:
            target = await rota.squad_named(ctx.origin.tenant_id, squad)
            ctx.tell(say.Reply(await rota.show_one(ctx, target)))
            return None
        raise CommandError(USAGE)

    await call.execute(work)
    return None


async def _rotation(ctx: Ctx, squad: str, words: list[str], people: list[Person]) -> object:
    """`rotation daily|weekly HH:MM [weekday] [Area/City] @people...`."""
    if len(words) < 2:
        raise CommandError(USAGE)
    period, handoff, extra = words[0].lower(), words[1], words[2:]
    weekday = next((w.lower()[:3] for w in extra if w.lower()[:3] in WEEKDAYS), "mon")
    zone = next((w for w in extra if "/" in w or w.upper() == "UTC"), "UTC")
    return await rota.define_rotation(ctx, squad, period=period, handoff=handoff,
                                      weekday=weekday, zone=zone, people=people)
