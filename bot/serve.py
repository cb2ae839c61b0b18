"""`incident-bot run`: serve until SIGINT or SIGTERM, then stop within 10 s.

aiohttp's `run_app` turns every SIGINT/SIGTERM into an exception raised wherever the
loop happens to be; a second signal (a terminal's Ctrl-C reaches `make` and the bot,
`make` forwards SIGTERM to its child, systemd and supervisord signal the whole group)
then cancels the clean-up half-way, the database thread is never closed and the process
never exits (issue 14). Here the first signal starts one orderly stop and later ones are
only noted: stop listening, let requests in flight finish (3 s), stop the workers (their
rows are claimed again later), close the database. A watchdog ends the process if that
has not finished within 10 s.

Also here, because they belong to the listening socket, not the app: a cap on open
connections below the process's descriptor limit (a flood of slow clients is refused at
the door instead of exhausting descriptors; asyncio then logs every failed `accept`),
an idle timeout that also bounds clients slow to send their headers, and an asyncio
exception handler that logs a repeated error once a minute with a count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import signal
import threading
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.config import Settings
from bot.logs import Throttled

log = logging.getLogger(__name__)

STOP_BUDGET_S = 10.0
REQUEST_GRACE_S = 3.0
# Closes connections that send nothing (or not all their headers) for this long.
IDLE_TIMEOUT_S = 15.0
# Descriptors kept free for what the bot opens itself: up to 100 outgoing HTTP
# connections (bot.app), the database pool, the journal, logs, the provider threads.
RESERVED_DESCRIPTORS = 160
MAX_AUTOMATIC_CONNECTIONS = 4096
# asyncio accepts up to `backlog` connections in one go before any reaches the cap that
# refuses them, so that many descriptors must be free beyond the cap; aiohttp's 128 plus
# the bot's own files overran a limit of 256 under a flood (EMFILE). The reserve covers
# this after the outgoing connections and the bot's own files.
LISTEN_BACKLOG = 48


def connection_limit(settings: Settings) -> int:
    """MAX_CONNECTIONS, else what the descriptor limit leaves after the reserve."""
    if settings.max_connections:
        return settings.max_connections
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = MAX_AUTOMATIC_CONNECTIONS + RESERVED_DESCRIPTORS
    return max(16, min(MAX_AUTOMATIC_CONNECTIONS, soft - RESERVED_DESCRIPTORS))


def cap_connections(server: web.Server, limit: int, refusals: Throttled) -> None:
    """Close new connections at once while `limit` are open."""
    admit = server.connection_made

    def connection_made(handler: Any, transport: asyncio.Transport) -> None:
        if len(server.connections) >= limit:
            refusals.warning("connection refused",
                             f"{limit} connections are open (MAX_CONNECTIONS)")
            transport.abort()
            return
        admit(handler, transport)

    server.connection_made = connection_made  # type: ignore[method-assign]


class StartFailed(Exception):
    """The app could not start (its database, most often); the message says why."""


class _Stop:
    """The first SIGINT/SIGTERM asks for a stop; later ones are noted, nothing more."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()

    def __call__(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.requested.is_set():
            log.info("%s again: already stopping", name)
            return
        log.warning("%s: stopping (at most %.0f s)", name, STOP_BUDGET_S)
        _start_watchdog(STOP_BUDGET_S)
        self.requested.set()


def _start_watchdog(after_s: float) -> None:
    def expire() -> None:
        # No logging here: the thread that is stuck may hold the log handler's lock.
        with contextlib.suppress(OSError):
            os.write(2, f"incident-bot: the stop took longer than {after_s:.0f} s; exiting "
                        f"now\n".encode())
        os._exit(1)

    timer = threading.Timer(after_s, expire)
    timer.daemon = True
    timer.start()


async def serve(settings: Settings, app: web.Application, *,
                announce: Callable[[str], None]) -> None:
    """Serve `app` on the configured address until a signal, then stop in order."""
    loop = asyncio.get_running_loop()
    refusals = Throttled(log, interval_s=60.0)
    _throttle_loop_errors(loop)
    stop = _Stop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=REQUEST_GRACE_S, keepalive_timeout=IDLE_TIMEOUT_S)
    try:
        try:
            await runner.setup()
        except Exception as exc:
            raise StartFailed(f"{type(exc).__name__}: {exc}") from exc
        assert runner.server is not None
        limit = connection_limit(settings)
        cap_connections(runner.server, limit, refusals)
        site = web.TCPSite(runner, settings.listen_host, settings.port,
                           backlog=LISTEN_BACKLOG)
        await site.start()
        announce(f"======== Running on http://{settings.listen_host}:{settings.port} "
                 f"(at most {limit} connections) ========")
        await stop.requested.wait()
    finally:
        await runner.cleanup()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


def _throttle_loop_errors(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio's own errors (a failed accept, a callback that raised) once a minute each."""
    repeated = Throttled(logging.getLogger("asyncio"), interval_s=60.0)

    def handle(_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        message = str(context.get("message", "asyncio error"))
        # Counted by kind (the exception's type), not by message: messages carry reprs.
        kind = f"asyncio: {type(error).__name__}" if error else "asyncio: an error"
        repeated.error(kind, f"{message[:200]}: {error}" if error else message[:200])

    loop.set_exception_handler(handle)


def run(settings: Settings, app: web.Application, *, announce: Callable[[str], None]) -> int:
    """Run the bot's process; the exit status."""
    # Not asyncio.run: it waits for every thread of the default executor, and a provider
    # call stuck in one (zoomus ignores cancellation) would hold the exit past 10 s.
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(serve(settings, app, announce=announce))
    except StartFailed as exc:
        log.error("cannot start: %s", exc)
        return 1
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", settings.listen_host, settings.port,
                  exc.strerror or exc)
        return 1
    finally:
        _cancel_remaining(loop)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    # Threads still running now are provider calls (zoomus, Google) that ignore
    # cancellation: their jobs run again from the job table, so do not wait for them.
    if any(t.is_alive() and not t.daemon for t in threading.enumerate()
           if t is not threading.main_thread()):
        log.info("leaving provider calls still in flight to the next start")
        logging.shutdown()
        os._exit(0)
    return 0
