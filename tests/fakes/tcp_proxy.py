"""A loopback TCP proxy in front of a real server (PostgreSQL), which a test can cut.

`cut()` is what a database failover or a network partition looks like from the bot:
every open connection breaks and new ones are refused (or, with `hang=True`, accepted
and never answered, as behind a black-holed route) until `restore()`. `sever()` is what
a proxy's or a NAT's idle timeout does: the server side of every open connection is
closed, the bot's side is left open, and it learns only when it next uses one (reset).
`black_hole()` is a route that drops packets: open connections stay open and silent, new
ones are accepted and never answered, nothing is refused or reset.
The bot talks to the real PostgreSQL through it with its real driver; nothing in the bot
is patched.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field


@dataclass
class TcpProxy:
    """`await proxy.start()`; then point the bot at `127.0.0.1:proxy.port`."""

    target_host: str
    target_port: int
    port: int = 0
    _server: asyncio.Server | None = None
    _links: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _upstreams: dict[asyncio.StreamWriter, asyncio.StreamWriter] = field(default_factory=dict)
    _severed: set[asyncio.StreamWriter] = field(default_factory=set)
    hanging: bool = False
    dropping: bool = False

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port,
                                                  reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def cut(self, *, hang: bool = False) -> None:
        """Break every connection; refuse new ones (or, `hang`, swallow them)."""
        self.hanging = hang
        if not hang and self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def black_hole(self) -> None:
        """From now on every byte in either direction is dropped; nothing is closed."""
        self.dropping = True
        self.hanging = True

    def sever(self) -> int:
        """Close the server side of every open connection, silently; how many."""
        for client, upstream in list(self._upstreams.items()):
            self._severed.add(client)
            upstream.transport.abort()
        return len(self._upstreams)

    async def restore(self) -> None:
        """Serve again on the same port (connections swallowed meanwhile are closed)."""
        self.hanging = False
        self.dropping = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if self._server is None:
            await self.start()

    async def stop(self) -> None:
        await self.cut()
        for task in list(self._links):
            task.cancel()
        await asyncio.gather(*self._links, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.hanging:
            return  # accepted, never answered: the client waits for its own timeout
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host,
                                                                 self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)
        self._upstreams[writer] = up_writer
        for source, sink, client in ((reader, up_writer, writer), (up_reader, writer, writer)):
            task = asyncio.create_task(self._pipe(source, sink, client))
            self._links.add(task)
            task.add_done_callback(self._links.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    client: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                if self.dropping:
                    continue  # lost on the way, as behind a black-holed route
                if self.hanging:
                    return
                if client in self._severed and sink is not client:
                    break  # the server side is gone: the client's first word gets a reset
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # Severed, the server's side ends this pipe; the client's stays open until it
            # speaks. Otherwise either side ending ends both.
            if not (sink is client and client in self._severed):
                self._upstreams.pop(client, None)
                self._severed.discard(client)
                with contextlib.suppress(Exception):
                    client.transport.abort()
                with contextlib.suppress(Exception):
                    sink.transport.abort()
