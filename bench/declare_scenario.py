"""Scenario `declare-slow-zoom`: does declaring stay fast when Zoom takes seconds to answer?

The same declare load goes to two bots, one after the other, each on its own SQLite file:
one whose rooms come from a fake Zoom that sleeps `zoom_delay` s per meeting, and the Jitsi
baseline (no network call for the room). The claim holds if the HTTP ack of the first is
about as fast as the baseline's; the rooms themselves are counted after the load, since
they are made in the background and may still be coming when the bench stops waiting.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.background_work import Counts, DeclareProbe, Settled, probe_declare, read_counts, settle
from bench.console import problem_lines, say
from bench.measurement import RoundResult, measure
from bench.message import DECLARE_TEXT
from bench.processes import Children, StartError
from bench.servers import Server, start_bot, start_connector, start_fake_zoom, wait_started

SLOW_ZOOM, JITSI = "slow-zoom", "jitsi"
MAX_LOG_LINES_QUOTED = 3


@dataclass
class DeclareSettings:
    """The declare load and how long to wait for the rooms afterwards."""

    concurrency: int
    duration: float
    warmup: float
    zoom_delay: float
    room_wait: float


@dataclass
class Variant:
    """One bot of the scenario and everything it did."""

    name: str
    video: str = "?"  # as the bot's start-up banner says
    probe: DeclareProbe | None = None
    round: RoundResult | None = None
    after_load: Counts | None = None  # fakes' counts from the load's start to the end of wait
    rooms: Settled | None = None
    since_load_s: float = 0.0  # from the load's start to the end of the wait for rooms
    zoom_in_flight: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def declared(self) -> int:
        return self.round.load.ok_total if self.round else 0


def zoom_environment(zoom: Server) -> dict[str, str]:
    """Zoom Server-to-Server credentials pointing the bot at the fake Zoom."""
    return {"ZOOM_ACCOUNT_ID": "a", "ZOOM_CLIENT_ID": "c", "ZOOM_CLIENT_SECRET": "s",
            "ZOOM_API_BASE_URL": f"{zoom.base_url}/v2",
            "ZOOM_OAUTH_URL": f"{zoom.base_url}/oauth/token", "VIDEO_TIMEOUT_SECONDS": "10"}


@dataclass
class DeclareServers:
    """The scenario's fakes and its two bots (started, maybe not ready yet)."""

    connector: Server
    zoom: Server
    bots: dict[str, Server]


def start_declare_servers(children: Children, *, work_dir: Path,
                          settings: DeclareSettings) -> DeclareServers:
    """Start the fakes and both bots without waiting for the bots: start-up is mostly
    waiting, so the bench may start them while it measures something else."""
    connector = start_connector(children, "connector-declare")
    zoom = start_fake_zoom(children, delay_s=settings.zoom_delay)
    bots = {name: start_bot(f"bot-declare-{name}", children, work_dir=work_dir,
                            extra_env=zoom_environment(zoom) if name == SLOW_ZOOM else None,
                            wait=False) for name in (SLOW_ZOOM, JITSI)}
    return DeclareServers(connector, zoom, bots)


def run_declare(children: Children, servers: DeclareServers,
                settings: DeclareSettings) -> list[Variant]:
    """Slow-Zoom bot first, then the Jitsi baseline; each is stopped before the next is
    loaded."""
    connector, zoom, bots = servers.connector, servers.zoom, servers.bots
    variants = [run_variant(SLOW_ZOOM, bots[SLOW_ZOOM], children, connector, zoom,
                            settings=settings),
                run_variant(JITSI, bots[JITSI], children, connector, None, settings=settings)]
    children.stop(zoom.child)
    children.stop(connector.child)
    return variants


def run_variant(name: str, bot: Server, children: Children, connector: Server,
                zoom: Server | None, *, settings: DeclareSettings) -> Variant:
    """Wait for one bot, probe it, load it, wait for its rooms, stop it, read its log."""
    variant = Variant(name)
    try:
        wait_started(bot)
    except StartError as exc:
        children.stop(bot.child)
        note(variant, f"did not start: {exc}")
        return variant
    variant.video = banner_video(bot)
    variant.probe = probe_declare(bot, connector, zoom, limit_s=settings.zoom_delay + 15)
    say(f"  probe: HTTP {variant.probe.status}, ack {variant.probe.ack_ms:.0f} ms, thread "
        f"after {seconds(variant.probe.thread_s)}, room after {seconds(variant.probe.room_s)}")
    if not variant.probe.ok:
        note(variant, f"probe: HTTP {variant.probe.status} {variant.probe.body!r}, thread "
             f"{seconds(variant.probe.thread_s)}, room {seconds(variant.probe.room_s)}")
    load_and_wait(variant, bot, children, connector, zoom, settings=settings)
    children.stop(bot.child)
    if problems := problem_lines(bot.child):
        note(variant, f"{len(problems)} error-looking lines in {bot.child.log_path.name}, "
             f"the first {min(len(problems), MAX_LOG_LINES_QUOTED)} follow")
        for line in problems[:MAX_LOG_LINES_QUOTED]:
            note(variant, f"log: `{line[:300]}`")
    return variant


def load_and_wait(variant: Variant, bot: Server, children: Children, connector: Server,
                  zoom: Server | None, *, settings: DeclareSettings) -> None:
    """The declare load, then a bounded wait for the rooms it asked for."""
    before, started = read_counts(connector, zoom), time.monotonic()
    say(f"declare: load on {variant.name} ({settings.concurrency} senders, "
        f"{settings.duration:g} s) ...")
    variant.round = measure(bot, connector, children, concurrency=settings.concurrency,
                            duration=settings.duration, warmup=settings.warmup,
                            text=DECLARE_TEXT)
    load = variant.round.load
    say(f"  {load.requests_per_s:,.1f} declares/s, p50 {load.p50_ms:.1f} ms, p99 "
        f"{load.p99_ms:.1f} ms, {load.errors} errors, {load.ok_total:,} declared")
    for sample in load.error_samples:
        note(variant, f"error sample: {sample}")
    if zoom is not None:  # rooms are Zoom meetings: count them where they are made
        def rooms() -> int:
            return (read_counts(connector, zoom) - before).zoom_meetings
        quiet = settings.zoom_delay + 5  # one slow meeting plus a job poll and a retry
    else:
        def rooms() -> int:
            return (read_counts(connector, zoom) - before).room_posts
        quiet = 5.0
    say(f"  waiting up to {settings.room_wait:g} s for {load.ok_total:,} rooms ...")
    variant.rooms = settle(rooms, goal=load.ok_total, quiet_s=quiet, limit_s=settings.room_wait)
    variant.after_load = read_counts(connector, zoom) - before
    variant.since_load_s = time.monotonic() - started
    variant.zoom_in_flight = read_counts(connector, zoom).zoom_in_flight if zoom else 0
    say(f"  after {variant.rooms.waited_s:.0f} s: {variant.rooms.value:,} rooms, "
        f"{variant.after_load.threads:,} threads for {load.ok_total:,} declared")
    if variant.after_load.other:
        note(variant, f"{variant.after_load.other} calls the fake connector does not know")


def banner_video(bot: Server) -> str:
    """The provider the bot says it uses (`video    : zoom` in its start-up banner)."""
    for line in bot.child.log_path.read_text(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "video":
            return value.strip()
    return "?"


def seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def note(variant: Variant, text: str) -> None:
    """Record something odd for the report, and say it now."""
    variant.notes.append(text)
    say(f"{variant.name}: {text}")
