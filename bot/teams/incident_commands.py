"""The incident commands people type: each parses its words and calls the domain."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from botbuilder.core import TurnContext

from bot.errors import CommandError
from bot.incidents import (
    commandeer,
    external,
    handovers,
    journal,
    lifecycle,
    oncall,
    pir,
    review_meeting,
    rooms,
    team_settings,
)
from bot.incidents import severity as sev
from bot.incidents.context import Ctx
from bot.incidents.declare import Declaration, declare
from bot.incidents.people import Person
from bot.incidents.queries import find_incident, open_incidents, picture, split_reference
from bot.incidents import notices as say
from bot.incidents.roles import Role, require_role_holder
from bot.incidents.rotation import WEEKDAYS
from bot.store.incident_models import Incident
from bot.teams import incident_cards
from bot.teams.cards import Card
from bot.teams.commands import Command
from bot.teams.handler import BaseBot, command, send_card
from bot.teams.markdown import literal
from bot.teams.mentions import PLACEHOLDER

IncidentWork = Callable[[Ctx, Incident, str], Awaitable[object]]
_SETTLE = re.compile(r"^(\d+)\s+(confirmed|disproved)$", re.IGNORECASE)
_TASK_DONE = re.compile(r"^(\d+)\s+done$", re.IGNORECASE)


def _strip_people(text: str) -> str:
    return re.sub(r"\s+", " ", PLACEHOLDER.sub("", text)).strip()


class IncidentCommands(BaseBot):
    """Declare, roles, commandeer, the record, severity and status."""

    async def on_incident(self, turn: TurnContext, cmd: Command, work: IncidentWork) -> None:
        """Find the incident the command is about (thread, INC-n, or the actor's only one)."""
        number, rest = split_reference(cmd.args)

        async def run(ctx: Ctx) -> object:
            return await work(ctx, await find_incident(ctx, number), rest)

        await self.execute(turn, run)

    @command("setup", "setup [stakeholders | cse @x | timezone <zone> | holidays <country>]")
    async def cmd_setup(self, turn: TurnContext, cmd: Command) -> None:
        """Make this channel the incidents channel; also stakeholders, CSE, working days."""
        key, _, value = cmd.args.strip().partition(" ")
        key = key.lower()
        if key in ("", "stakeholders"):
            await self.execute(turn, lambda ctx: team_settings.setup(
                ctx, stakeholders=key == "stakeholders"))
            return
        person = next((p for w in value.split() if (p := cmd.person(w))), None)
        await self.execute(turn, lambda ctx: team_settings.configure(
            ctx, key, value.strip(), person))

    @command("declare", "declare <title> [sev1-4] [@investigator] [@commander]")
    async def cmd_declare(self, turn: TurnContext, cmd: Command) -> None:
        """Open an incident (alone: a form); severity defaults to the highest."""
        if not cmd.args:
            await send_card(turn, incident_cards.declare_form_card())
            return
        words = cmd.args.split()
        levels = [level for w in words if (level := sev.parse(w))]
        people = [p for w in words if (p := cmd.person(w))]
        title = " ".join(w for w in words if not sev.parse(w) and not cmd.person(w))
        what = Declaration(title=title, severity=levels[-1] if levels else None,
                           investigator=people[0] if people else None,
                           commander=people[1] if len(people) > 1 else None)
        await self.execute(turn, lambda ctx: declare(ctx, what))

    async def _ask_role(self, turn: TurnContext, cmd: Command, role: Role) -> None:
        async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
            person = _first_person(cmd, rest, f"{role.value} @person")
            await require_role_holder(ctx, incident, "hand roles over")
            await handovers.request_role(ctx, incident, role, person)

        await self.on_incident(turn, cmd, work)

    @command("commander", "commander @person")
    async def cmd_commander(self, turn: TurnContext, cmd: Command) -> None:
        """Ask someone to become Incident Commander; the current one keeps it until they accept."""
        await self._ask_role(turn, cmd, Role.COMMANDER)

    @command("investigator", "investigator @person")
    async def cmd_investigator(self, turn: TurnContext, cmd: Command) -> None:
        """Ask someone to take over as Investigator (they must accept on the card)."""
        await self._ask_role(turn, cmd, Role.INVESTIGATOR)

    @command("assist", "assist @person")
    async def cmd_assist(self, turn: TurnContext, cmd: Command) -> None:
        """Ask someone to join as an extra investigator."""
        await self._ask_role(turn, cmd, Role.ASSISTANT)

    @command("commandeer", "commandeer @person [why]")
    async def cmd_commandeer(self, turn: TurnContext, cmd: Command) -> None:
        """Pull anyone in: they get a private message and their answer is recorded."""
        async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
            person = _first_person(cmd, rest, "commandeer @person [why]")
            await commandeer.commandeer(ctx, incident, person, _strip_people(rest))

        await self.on_incident(turn, cmd, work)

    @command("sev", "sev <sev1-4>")
    async def cmd_sev(self, turn: TurnContext, cmd: Command) -> None:
        """Change the severity."""
        async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
            level = sev.parse(rest)
            if level is None:
                raise CommandError("Usage: `@incident sev sev1` (sev1 is the most severe).")
            await lifecycle.set_severity(ctx, incident, level)

        await self.on_incident(turn, cmd, work)

    @command("note", "note <text>")
    async def cmd_note(self, turn: TurnContext, cmd: Command) -> None:
        """Add evidence, a finding or a dashboard link to the timeline."""
        await self.on_incident(turn, cmd, lambda ctx, inc, rest: journal.note(
            ctx, inc, _named(cmd, rest)))

    @command("update", "update [external] <text>")
    async def cmd_update(self, turn: TurnContext, cmd: Command) -> None:
        """Post a status update; `update external <text>` tells customers (status page)."""
        async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
            first, _, text = rest.strip().partition(" ")
            if first.lower() == "external":
                # Customers read exactly what was typed: mentions are not turned into names.
                return await external.request(ctx, incident, _strip_people(text))
            await journal.update(ctx, incident, _named(cmd, rest))

        await self.on_incident(turn, cmd, work)

    @command("impact", "impact <text>")
    async def cmd_impact(self, turn: TurnContext, cmd: Command) -> None:
        """Record which customers and systems are affected."""
        await self.on_incident(turn, cmd, lambda ctx, inc, rest: journal.impact(
            ctx, inc, _named(cmd, rest)))

    @command("hypothesis", "hypothesis <text> | <n> confirmed|disproved")
    async def cmd_hypothesis(self, turn: TurnContext, cmd: Command) -> None:
        """Propose a possible cause, or settle one."""
        async def work(ctx: Ctx, incident: Incident, rest: str) -> object:
            settle = _SETTLE.match(rest.strip())
            if settle:
                await journal.settle_hypothesis(
                    ctx, incident, int(settle.group(1)), settle.group(2).lower() == "confirmed")
                return None
            return await journal.hypothesis(ctx, incident, _named(cmd, rest))

        await self.on_incident(turn, cmd, work)

    @command("task", "task [@person] <text> | <n> done")
    async def cmd_task(self, turn: TurnContext, cmd: Command) -> None:
        """Give someone a piece of work, or mark one done."""
        async def work(ctx: Ctx, incident: Incident, rest: str) -> object:
            done = _TASK_DONE.match(rest.strip())
            if done:
                await journal.task_done(ctx, incident, int(done.group(1)))
                return None
            first, _, text = rest.partition(" ")
            assignee = cmd.person(first)
            body = _named(cmd, text if assignee else rest)
            return await journal.task(ctx, incident, assignee, body)

        await self.on_incident(turn, cmd, work)

    @command("mitigated")
    async def cmd_mitigated(self, turn: TurnContext, cmd: Command) -> None:
        """The bleeding has stopped: record the time to mitigate."""
        await self.on_incident(turn, cmd, lambda ctx, inc, rest: lifecycle.mitigated(ctx, inc))

    @command("resolved")
    async def cmd_resolved(self, turn: TurnContext, cmd: Command) -> None:
        """Service is restored for good: the review comes next."""
        await self.on_incident(turn, cmd, lambda ctx, inc, rest: lifecycle.resolved(ctx, inc))

    @command("review", "review meeting <when> | waive <reason>")
    async def cmd_review(self, turn: TurnContext, cmd: Command) -> None:
        """Commander only: schedule the review meeting, or decide no review is needed."""
        async def work(ctx: Ctx, incident: Incident, rest: str) -> None:
            verb, _, reason = rest.partition(" ")
            if verb.lower() == "meeting":
                return await review_meeting.request_meeting(ctx, incident, reason)
            if verb.lower() != "waive":
                raise CommandError("Usage: `@incident review meeting 2026-11-30 14:00` or "
                                   "`@incident review waive <reason>`.")
            await lifecycle.waive_review(ctx, incident, reason)

        await self.on_incident(turn, cmd, work)

    @command("close")
    async def cmd_close(self, turn: TurnContext, cmd: Command) -> None:
        """Close a resolved incident whose review is done or waived."""
        await self.on_incident(turn, cmd, lambda ctx, inc, rest: lifecycle.close(ctx, inc))

    @command("room", "room [zoom|meet|jitsi]")
    async def cmd_room(self, turn: TurnContext, cmd: Command) -> None:
        """Show the Incident Command Room link, or make a new room on a provider."""
        number, rest = split_reference(cmd.args)
        if not rest:
            incident = await self.read(turn, lambda: find_incident(
                self.context(turn.activity), number, lock=False))
            await turn.send_activity(literal(rooms.show_room(incident)))
            return
        await self.on_incident(turn, cmd, lambda ctx, inc, provider: rooms.ask_for_room(
            ctx, inc, provider.strip().lower(), ctx.policy.video_chain))

    @command("oncall", "oncall [<squad> rotation|primary|secondary|override|default ...]")
    async def cmd_oncall(self, turn: TurnContext, cmd: Command) -> None:
        """Who is on call; set a squad's rotation, today's cover or an override."""
        words = cmd.args.split()
        if not words:
            shown = await self.read(turn, lambda: oncall.show(self.context(turn.activity)))
            await turn.send_activity(literal(shown))
            return
        squad, action, rest = words[0], (words[1].lower() if len(words) > 1 else ""), words[2:]
        people = [p for w in rest if (p := cmd.person(w))]
        if people and self.members is not None:
            # Presence lookups need Entra ids, which mentions do not carry.
            people = await self.members.complete(turn.activity, people)
        plain = [w for w in rest if not cmd.person(w)]

        async def work(ctx: Ctx) -> object:
            if action:  # changing who gets paged: the same rights as setup
                team_settings.require_setup_rights(ctx)
            if action == "rotation":
                return await _rotation(ctx, squad, plain, people)
            if action in oncall.SLOTS and people:
                return await oncall.cover(ctx, squad, action, people[0])
            if action == "override" and people and "until" in [w.lower() for w in plain]:
                slot = "secondary" if plain[0].lower() == "secondary" else "primary"
                target = await oncall.squad_named(ctx.origin.tenant_id, squad)
                when = " ".join(plain[[w.lower() for w in plain].index("until") + 1 :])
                until = oncall.parse_until(when, now=ctx.now, zone=target.timezone)
                return await oncall.cover(ctx, squad, slot, people[0], until)
            if action == "default":
                await oncall.set_channel_squad(ctx, squad)
                return None
            if not action:
                target = await oncall.squad_named(ctx.origin.tenant_id, squad)
                ctx.tell(say.Reply(await oncall.show_one(ctx, target)))
                return None
            raise CommandError(ONCALL_USAGE)

        await self.execute(turn, work)

    @command("action", "action <text> [@owner] | <n> done")
    async def cmd_action(self, turn: TurnContext, cmd: Command) -> None:
        """Record a follow-up action (a GitHub issue when configured), or mark one done."""
        async def work(ctx: Ctx, incident: Incident, rest: str) -> object:
            done = _TASK_DONE.match(rest.strip())
            if done:
                await pir.action_done(ctx, incident, int(done.group(1)))
                return None
            owner = next((p for w in rest.split() if (p := cmd.person(w))), None)
            await pir.add_action(ctx, incident, owner, _strip_people(rest))
            return None

        await self.on_incident(turn, cmd, work)

    @command("pir", "pir [ready | rootcause|factors|well|badly <text>]")
    async def cmd_pir(self, turn: TurnContext, cmd: Command) -> None:
        """The Post Incident Review: its link, its written sections, 'ready' (Commander)."""
        async def work(ctx: Ctx, incident: Incident, rest: str) -> object:
            verb, _, text = rest.strip().partition(" ")
            if not verb:
                await pir.show(ctx, incident)
                return None
            if verb.lower() == "ready":
                await pir.ready(ctx, incident)
                return None
            await pir.write_section(ctx, incident, verb.lower(), _named(cmd, text))
            return None

        await self.on_incident(turn, cmd, work)

    @command("status", "status [INC-n]")
    async def cmd_status(self, turn: TurnContext, cmd: Command) -> None:
        """The current picture: roles, what is known, open hypotheses and tasks."""
        ctx = self.context(turn.activity)
        number, _ = split_reference(cmd.args)
        async def status() -> Card:
            incident = await find_incident(ctx, number, lock=False)
            return incident_cards.status_card(await picture(incident), now=ctx.now)

        await send_card(turn, await self.read(turn, status))

    @command("list")
    async def cmd_list(self, turn: TurnContext, cmd: Command) -> None:
        """Open incidents, most severe first."""
        ctx = self.context(turn.activity)
        incidents = await self.read(turn, lambda: open_incidents(ctx.origin.tenant_id))
        await send_card(turn, incident_cards.list_card(incidents, now=ctx.now))


ONCALL_USAGE = (
    "Usage: `@incident oncall` | `oncall <squad> rotation weekly 09:00 mon Europe/London @a @b"
    " @c` | `oncall <squad> primary @x` | `oncall <squad> secondary @y` | `oncall <squad> "
    "override @z until 2026-11-28 18:00` | `oncall <squad> default` (this channel's squad)")


async def _rotation(ctx: Ctx, squad: str, words: list[str], people: list[Person]) -> object:
    """`rotation daily|weekly HH:MM [weekday] [Area/City] @people...`."""
    if len(words) < 2:
        raise CommandError(ONCALL_USAGE)
    period, handoff, extra = words[0].lower(), words[1], words[2:]
    weekday = next((w.lower()[:3] for w in extra if w.lower()[:3] in WEEKDAYS), "mon")
    zone = next((w for w in extra if "/" in w or w.upper() == "UTC"), "UTC")
    return await oncall.define_rotation(ctx, squad, period=period, handoff=handoff,
                                        weekday=weekday, zone=zone, people=people)


def _first_person(cmd: Command, rest: str, usage: str) -> Person:
    for word in rest.split():
        person = cmd.person(word)
        if person is not None:
            return person
    raise CommandError(f"Mention the person: `@incident {usage}`.")


def _named(cmd: Command, text: str) -> str:
    """Put people's names back where their mentions were."""
    return PLACEHOLDER.sub(lambda m: (cmd.person(m.group(0)) or Person("", m.group(0))).name,
                           text)
