"""`help`: the commands, each with its usage and the first line of its docstring
(`help <command>`: that one)."""

from __future__ import annotations

from bot.incidents.severity import SeverityScale
from bot.teams.answers import Answer, Help, Text
from bot.teams.call import Call
from bot.teams.command_line import Command
from bot.teams.markdown import literal
from bot.teams.router import Router

router = Router()


@router.command("help", "help [command]", synonyms=("commands", "?"))
async def show_help(call: Call, cmd: Command) -> Answer:
    """List the commands I understand, or say how one goes."""
    topic = cmd.args.split()[0] if cmd.args else None
    if topic and topic.lower() in SEVERITY_TOPICS:
        return Text(severity_help(call.services.policy.severity))
    return Help("Mention me with one of these commands:", topic=topic)


# `help sev` (or its synonyms) also says each level and what it means.
SEVERITY_TOPICS = ("sev", "severity", "severities", "priority")


def severity_help(scale: SeverityScale) -> str:
    """The `sev` command's usage, then each level: its name, how to type it, its criteria."""
    lines = ["`@incident sev <severity>` — change the severity. If unsure, assume the higher "
             "one. The levels, most severe first:"]
    for level in scale.levels:
        typed = ", ".join(f"`{c}`" for c in (*level.codes, *level.words))
        lines.append(f"- **{literal(level.name)}** ({typed}): "
                     + "; ".join(literal(c) for c in level.criteria))
    return "\n".join(lines)
