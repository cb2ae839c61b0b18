"""The `commands` section of the report: every cell's medians, its ratio to the bare
floor at the same concurrency, the verdict on each target of issue 9 (and on issue 16's
`note` against the minimal durable note), and what conversation capture costs: `chatter`
beside `help` and `chat` beside `note`, ack against ack, with what they stored."""

from __future__ import annotations

from bench.command_scenario import BASELINES, COMMANDS, COMPARED, UNANSWERED, Cell, CommandResults
from bench.databases import SQLITE
from bench.load import REPLY_WAIT_S
from bench.servers import DURABLE

HELP_TARGET, NOTE_TARGET = 0.5, 0.25  # share of the bare floor's throughput
DURABLE_TARGET, DURABLE_SENDERS = 0.9, 20  # sqlite `note`: share of the minimal durable note
ACK_P99_TARGET_MS, ACK_TARGET_SENDERS = 50.0, 20


def _ms(value: float) -> str:
    return "-" if value != value else f"{value:,.1f}"


def cells_table(results: CommandResults) -> str:
    """One row per server, command and concurrency: medians of the rounds."""
    lines = ["| server | command | senders | req/s | x bare | ack p50 ms | ack p99 ms "
             "| reply p50 ms | reply p99 ms | errors | replies missing |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    servers = list(BASELINES) + [e for e in results.settings.engines
                                 if any(k[0] == e for k in results.cells)]
    for concurrency in results.settings.concurrencies:
        bare = results.cells.get(("bare", "help", concurrency))
        floor = bare.median("requests_per_s") if bare and bare.runs else float("nan")
        for server in servers:
            for command in ([BASELINES[server]] if server in BASELINES else COMMANDS):
                cell = results.cells.get((server, command, concurrency))
                if cell is None or not cell.runs:
                    continue
                rps = cell.median("requests_per_s")
                measured = sum(r.measured for r in cell.runs)
                reply_p99 = _ms(cell.median("reply_p99_ms"))
                if cell.missing > 0.01 * measured:  # the slowest replies never came
                    reply_p99 = f"> {REPLY_WAIT_S * 1000:,.0f}"
                mark = " †" if any(r.saturated for r in cell.runs) else ""
                lines.append(
                    f"| {server} | {command}{mark} | {concurrency} | {rps:,.0f} | {rps / floor:.3f} "
                    f"| {_ms(cell.median('p50_ms'))} | {_ms(cell.median('p99_ms'))} "
                    f"| {_ms(cell.median('reply_p50_ms'))} | {reply_p99} "
                    f"| {cell.errors:,} | {cell.missing:,} |")
    return "\n".join(lines)


def target_lines(results: CommandResults) -> list[str]:
    """Each target of issue 9 that this scenario measures, met or missed, with its figure."""
    lines = []
    for engine in results.settings.engines:
        for command, share in (("help", HELP_TARGET), ("note", NOTE_TARGET)):
            for concurrency in results.settings.concurrencies:
                bare = results.cells.get(("bare", "help", concurrency))
                cell = results.cells.get((engine, command, concurrency))
                if not bare or not bare.runs or not cell or not cell.runs:
                    continue
                ratio = cell.median("requests_per_s") / bare.median("requests_per_s")
                verdict = "MET" if ratio >= share else "MISSED"
                lines.append(f"- {engine} `{command}` at {concurrency} sender"
                             f"{'s' if concurrency > 1 else ''} >= {share} x bare "
                             f"throughput: {verdict} ({ratio:.3f}; round by round: "
                             f"{_round_ratios(bare, cell)})")
        for command in (c for c in COMMANDS if c not in UNANSWERED):
            cell = results.cells.get((engine, command, ACK_TARGET_SENDERS))
            if not cell or not cell.runs:
                continue
            p99 = cell.median("p99_ms")
            verdict = "MET" if p99 < ACK_P99_TARGET_MS and cell.errors == 0 else "MISSED"
            lines.append(f"- {engine} `{command}` ack p99 < {ACK_P99_TARGET_MS:.0f} ms at "
                         f"{ACK_TARGET_SENDERS} senders: {verdict} ({p99:.1f} ms, "
                         f"{cell.errors} errors)")
    lines += durable_lines(results)
    return lines


def _senders(concurrency: int) -> str:
    return f"{concurrency} sender{'s' if concurrency > 1 else ''}"


def durable_lines(results: CommandResults, engine: str = SQLITE) -> list[str]:
    """The bot's `note` over the minimal durable note's, both on SQLite: the verdict at
    `DURABLE_SENDERS`, the other concurrencies' ratios beside it."""
    ratios = {}
    for concurrency in results.settings.concurrencies:
        floor = results.cells.get((DURABLE, "note", concurrency))
        cell = results.cells.get((engine, "note", concurrency))
        if floor and floor.runs and cell and cell.runs:
            ratios[concurrency] = (cell.median("requests_per_s")
                                   / floor.median("requests_per_s"))
    if DURABLE_SENDERS not in ratios:
        return []
    ratio = ratios[DURABLE_SENDERS]
    others = "".join(f"; at {_senders(c)} {r:.3f}" for c, r in ratios.items()
                     if c != DURABLE_SENDERS)
    verdict = "MET" if ratio >= DURABLE_TARGET else "MISSED"
    rounds = _round_ratios(results.cells[(DURABLE, "note", DURABLE_SENDERS)],
                           results.cells[(engine, "note", DURABLE_SENDERS)])
    return [f"- {engine} `note` at {_senders(DURABLE_SENDERS)} >= {DURABLE_TARGET} x minimal "
            f"durable note throughput: {verdict} ({ratio:.3f}{others}; round by round at "
            f"{_senders(DURABLE_SENDERS)}: {rounds})"]


def _round_ratios(floor: Cell, cell: Cell) -> str:
    """Each round's own ratio of `cell` to `floor`: the two ran back to back in it, so a
    round the machine was busier in shows in both (verdicts stay the ratio of the
    medians; these show how far the rounds spread)."""
    return ", ".join(f"{c.requests_per_s / f.requests_per_s:.2f}"
                     for f, c in zip(floor.runs, cell.runs, strict=False) if f.requests_per_s)


def _rate(value: float) -> str:
    return "-" if value != value else f"{value:,.0f}"


def _ratio(numerator: float, denominator: float) -> str:
    if numerator != numerator or denominator != denominator or not denominator:
        return "-"
    return f"{numerator / denominator:.2f}"


def _figures(cell: Cell | None) -> tuple[float, float, float]:
    """Median throughput, ack p50 and ack p99 of a cell (NaN when it has no runs)."""
    if cell is None or not cell.runs:
        return float("nan"), float("nan"), float("nan")
    return cell.median("requests_per_s"), cell.median("p50_ms"), cell.median("p99_ms")


def capture_table(results: CommandResults) -> str:
    """Per bot and concurrency: each message without mention beside the command it is
    compared with (`chatter` / `help`, `chat` / `note`): throughput, ack p50 and p99 and
    their ratios, and what it stored over the rounds against what was acked."""
    lines = ["| server | senders | message | req/s | x bare | ack p50 ms | ack p99 ms "
             "| beside | its req/s | its ack p50 ms | its ack p99 ms | req/s ratio "
             "| ack p50 ratio | ack p99 ratio | stored / acked | connector calls |",
             "|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for engine in results.settings.engines:
        for concurrency in results.settings.concurrencies:
            bare = results.cells.get(("bare", "help", concurrency))
            floor = bare.median("requests_per_s") if bare and bare.runs else float("nan")
            for message, command in COMPARED.items():
                cell = results.cells.get((engine, message, concurrency))
                other = results.cells.get((engine, command, concurrency))
                if cell is None or not cell.runs:
                    continue
                kept = results.kept.get((engine, message, concurrency))
                stored = f"{kept.entries:,} / {kept.acks:,}" if kept else "-"
                rps, p50, p99 = _figures(cell)
                its_rps, its_p50, its_p99 = _figures(other)
                mark = " †" if any(r.saturated for r in cell.runs) else ""
                lines.append(
                    f"| {engine} | {concurrency} | {message}{mark} | {_rate(rps)} "
                    f"| {_ratio(rps, floor)} | {_ms(p50)} | {_ms(p99)} | {command} "
                    f"| {_rate(its_rps)} | {_ms(its_p50)} | {_ms(its_p99)} "
                    f"| {_ratio(rps, its_rps)} | {_ratio(p50, its_p50)} | {_ratio(p99, its_p99)} "
                    f"| {stored} | {kept.calls if kept else '-'} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def commands_markdown(results: CommandResults) -> str:
    capture = capture_table(results)
    return "\n".join([cells_table(results), "", *target_lines(results),
                      *(["", "Conversation capture (`CAPTURE_CONVERSATION=true`): each "
                         "message without the bot's mention beside a command (`chatter`, "
                         "dropped, beside `help`, no database; `chat`, stored, beside `note`, "
                         "one transaction); ratios are the message's figure over the "
                         "command's.", "",
                         capture] if capture else [])])


def commands_section(results: CommandResults) -> list[str]:
    s = results.settings
    senders = ", ".join(str(c) for c in s.concurrencies)
    parts = [f"## Commands at {senders} senders (`--scenario commands`)", "",
             f"- load: closed loop, {s.duration:g} s measured after {s.warmup:g} s warm-up per "
             f"cell, {s.rounds} interleaved rounds (medians shown; errors and missing replies "
             "are totals over the rounds); a cell measures past its time until it has "
             f"{s.min_samples} answers, for at most {s.max_window:g} s; replies are awaited "
             f"{REPLY_WAIT_S:g} s after the load (later ones count as missing)",
             "- servers: `bare` aiohttp echo and `stock` botbuilder-integration-aiohttp "
             "CloudAdapter echo (both answer every message like `help`), `durable`: the "
             "minimal durable note (aiohttp + aiosqlite, the bot's SQLite pragmas: the note "
             "and its reply inserted in one transaction, the reply sent from that outbox "
             "by a background task; it answers `note`), and our bot on "
             "SQLite and on PostgreSQL (fresh databases with 100 open incidents and "
             f"{s.role_requests:,} unanswered role requests seeded)",
             "- `note INC-m ...` spreads over the 100 open incidents; `declare` uses Jitsi; "
             "`accept` presses Accept on a different seeded role request each time",
             "- the bots run with `CAPTURE_CONVERSATION=true` (the commands above carry the "
             "mention, so they run as without it): `chat` is a message without the bot's "
             "mention in a seeded incident's thread (spread over the 100 like `note`), which "
             "the bot stores (a chat entry and a timeline event, one transaction) and never "
             "answers; `chatter` is a new top-level post without mention in the channel, "
             "outside any incident, which the bot drops unread. Only their ack is timed (no "
             "reply); `stored / acked` counts the chat entries their cells added against the "
             "messages answered 2xx (`chat`: all, `chatter`: none), `connector calls` the "
             "replies, threads and card updates meanwhile (none expected)",
             "- ack: the HTTP answer to `POST /api/messages`; reply: the bot's post reaching "
             "the fake connector, timed from the send (the thread announcement for `accept`); "
             "`x bare` is throughput over the bare echo at the same senders in the same run",
             f"- †: in some round not every sender had an answer within {s.max_window:g} s of "
             "the warm-up (the server's queue was still growing); it was measured from then "
             "on, so its latencies are lower bounds",
             "", commands_markdown(results)]
    if results.notes:
        parts += ["", "### Notes", "", *[f"- {n}" for n in results.notes]]
    return parts
