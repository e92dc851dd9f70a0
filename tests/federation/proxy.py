"""A fault-injecting TCP proxy for federation tests, usable from synchronous test code.

One :class:`TcpProxy` listens on ``127.0.0.1:<port>`` (port picked by the OS, held for the
proxy's life) and forwards every connection to one target. The test thread controls it:

- :meth:`TcpProxy.cut` resets every open connection and resets each new one right after
  accepting it, until :meth:`TcpProxy.restore` (the peer looks down: ``UNAVAILABLE``);
- :meth:`TcpProxy.stall` keeps connections open but forwards nothing, in either direction,
  until :meth:`TcpProxy.restore` (a black hole: only deadlines and keepalives notice);
- :meth:`TcpProxy.drop` resets the open connections once and keeps accepting (a blip);
- :meth:`TcpProxy.restore` goes back to forwarding, flushing what a stall held back.

Every control call returns once the proxy's event loop has applied it, so a test can rely
on "after ``cut()``, no connection is open". Proxies run on an :class:`EventLoopThread`
(a background thread with its own asyncio loop); many proxies may share one.

Memory is bounded: per direction of a connection, the proxy holds at most ``buffer_bytes``
pending plus one socket read (asyncio reads at most 256 KiB at a time), and the outgoing
transport buffers at most ``buffer_bytes`` before it pushes back. Past that the proxy stops
reading, the kernel buffers fill, and the sender blocks — which is what a stalled network
does to it. :attr:`TcpProxy.max_buffered_per_direction` is the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from enum import StrEnum
from typing import Any, TypeVar

T = TypeVar("T")

#: the most asyncio's selector transports read from a socket in one call
_MAX_READ = 256 * 1024
DEFAULT_BUFFER_BYTES = 64 * 1024


class EventLoopThread:
    """An asyncio event loop running forever in a daemon thread; call into it from any thread."""

    def __init__(self, name: str = "proxy-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Call ``fn()`` on the loop thread and wait for its result."""
        future: Future[T] = Future()

        def invoke() -> None:
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

        self.loop.call_soon_threadsafe(invoke)
        return future.result(timeout=timeout)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks(self.loop) if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(cancel_all(), timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.loop.close()


class Mode(StrEnum):
    OPEN = "open"
    CUT = "cut"
    STALLED = "stalled"


def _reset(transport: asyncio.BaseTransport | None) -> None:
    """Close with a TCP RST (SO_LINGER 0), as a crashed host or a firewall reset would."""
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # type: ignore[attr-defined]


class _Side(asyncio.Protocol):
    """One end of a proxied connection (the accepted client, or the connection upstream)."""

    def __init__(self, conn: _Connection, name: str) -> None:
        self.conn = conn
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.writing_paused = False  # the transport's write buffer is over its high-water mark
        self.reading_paused = False
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        limit = self.conn.proxy.buffer_bytes
        transport.set_write_buffer_limits(high=limit, low=limit // 4)
        with contextlib.suppress(OSError):
            transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn.side_ready(self)

    def data_received(self, data: bytes) -> None:
        self.conn.received(self, data)

    def eof_received(self) -> bool:
        self.conn.ended(self, lost=False)
        return True  # keep the transport open to write what the other side still sends

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.conn.ended(self, lost=True)

    def pause_writing(self) -> None:
        self.writing_paused = True
        self.conn.update_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.conn.update_reading()

    def set_reading(self, on: bool) -> None:
        if self.transport is None or self.transport.is_closing() or on != self.reading_paused:
            return
        if on:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()
        self.reading_paused = not on


class _Flow:
    """One direction of a connection: bytes read from ``src`` on their way to ``dst``."""

    def __init__(self, src: _Side, dst: _Side, direction: str) -> None:
        self.src, self.dst, self.direction = src, dst, direction
        self.pending = bytearray()
        self.src_ended = False  # EOF or connection lost on src
        self.src_lost = False
        self.end_forwarded = False


class _Connection:
    def __init__(self, proxy: TcpProxy) -> None:
        self.proxy = proxy
        self.client = _Side(self, "client")
        self.upstream = _Side(self, "upstream")
        self.up = _Flow(self.client, self.upstream, "up")
        self.down = _Flow(self.upstream, self.client, "down")
        self.closed = False
        self._connect_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    def side_ready(self, side: _Side) -> None:
        if side is self.client:
            self.proxy.accepted += 1
            if self.proxy.mode is Mode.CUT:
                self.proxy.refused += 1
                self.reset()
                return
            self.proxy.connections.add(self)
            self._connect_task = asyncio.get_running_loop().create_task(self._connect())
        elif self.closed:
            _reset(side.transport)  # connected just as the connection was reset
        else:
            self.flush()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.proxy.target
        try:
            await loop.create_connection(lambda: self.upstream, host, port)
        except OSError:
            self.proxy.upstream_failures += 1
            self.reset()

    def reset(self) -> None:
        """Reset both ends now, without forwarding anything still pending."""
        if self.closed:
            return
        self.closed = True
        self.proxy.connections.discard(self)
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
        _reset(self.client.transport)
        _reset(self.upstream.transport)

    def _close_gracefully(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy.connections.discard(self)
        for side in (self.client, self.upstream):
            if side.transport is not None:
                side.transport.close()  # after the write buffer drains

    # ------------------------------------------------------------ data

    def received(self, side: _Side, data: bytes) -> None:
        flow = self.up if side is self.client else self.down
        flow.pending += data
        self.proxy._received[flow.direction] += len(data)
        self.flush()

    def ended(self, side: _Side, *, lost: bool) -> None:
        flow = self.up if side is self.client else self.down
        flow.src_ended = True
        flow.src_lost = flow.src_lost or lost
        self.flush()

    def flush(self) -> None:
        """Forward what can be forwarded now, then decide which sides may read."""
        if self.closed:
            return
        if self.proxy.mode is Mode.OPEN:
            for flow in (self.up, self.down):
                self._flush(flow)
                if self.closed:
                    return
            if self.up.end_forwarded and self.down.end_forwarded:
                self._close_gracefully()
                return
        self.update_reading()

    def _flush(self, flow: _Flow) -> None:
        dst = flow.dst.transport
        if dst is None or dst.is_closing():
            if flow.dst.lost:
                # the other end is gone: nothing pending can be delivered any more
                flow.pending.clear()
            return
        if flow.pending:
            data = bytes(flow.pending)
            flow.pending.clear()
            dst.write(data)
            self.proxy._forwarded[flow.direction] += len(data)
        if flow.src_ended and not flow.end_forwarded:
            flow.end_forwarded = True
            if flow.src_lost or not dst.can_write_eof():
                # the source closed (or reset): close the other side once it has its bytes
                self._close_gracefully()
            else:
                try:
                    dst.write_eof()
                except OSError:
                    # the peer reset the connection while it was stalled: just close
                    self._close_gracefully()

    def update_reading(self) -> None:
        for flow in (self.up, self.down):
            full = len(flow.pending) >= self.proxy.buffer_bytes or flow.dst.writing_paused
            flow.src.set_reading(not full)

    def buffered(self) -> int:
        total = len(self.up.pending) + len(self.down.pending)
        for side in (self.client, self.upstream):
            if side.transport is not None and not side.transport.is_closing():
                total += side.transport.get_write_buffer_size()
        return total


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``target`` with fault injection; see the module docstring.

    ``bytes_up`` counts bytes forwarded client → target, ``bytes_down`` target → client.
    ``accepted`` counts connections accepted (including those refused while cut),
    ``refused`` those reset while cut, ``active`` the connections open now.
    """

    def __init__(
        self,
        target: tuple[str, int],
        *,
        loop: EventLoopThread | None = None,
        buffer_bytes: int = DEFAULT_BUFFER_BYTES,
        name: str = "",
    ) -> None:
        if buffer_bytes <= 0:
            raise ValueError("buffer_bytes must be positive")
        self.target = target
        self.name = name or f"proxy->{target[0]}:{target[1]}"
        self.buffer_bytes = buffer_bytes
        self.mode = Mode.OPEN
        self.connections: set[_Connection] = set()
        self.accepted = 0
        self.refused = 0
        self.upstream_failures = 0
        self._received = {"up": 0, "down": 0}
        self._forwarded = {"up": 0, "down": 0}
        self._owns_loop = loop is None
        self._loop = loop or EventLoopThread(name=f"{self.name}-loop")
        self._server: asyncio.Server | None = None
        self._closed = False
        try:
            self._server = self._loop.run(self._listen())
        except BaseException:
            if self._owns_loop:
                self._loop.close()
            raise
        self.port: int = self._server.sockets[0].getsockname()[1]

    async def _listen(self) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: _Connection(self).client, "127.0.0.1", 0)

    # ------------------------------------------------------------ facts

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``: what a client dials instead of the target."""
        return f"127.0.0.1:{self.port}"

    @property
    def bytes_up(self) -> int:
        return self._forwarded["up"]

    @property
    def bytes_down(self) -> int:
        return self._forwarded["down"]

    @property
    def bytes_forwarded(self) -> int:
        return self._forwarded["up"] + self._forwarded["down"]

    @property
    def active(self) -> int:
        return self._loop.call(lambda: len(self.connections))

    @property
    def max_buffered_per_direction(self) -> int:
        """Upper bound of the bytes this proxy holds for one direction of one connection."""
        return 2 * self.buffer_bytes + 2 * _MAX_READ

    def buffered(self) -> int:
        """Bytes read from a socket and not yet handed to the kernel, over all connections now."""
        return self._loop.call(lambda: sum(c.buffered() for c in self.connections))

    def wait_active(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until at least ``count`` connections are open through the proxy."""
        deadline = time.monotonic() + timeout
        while self.active < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: {self.active} connection(s) open after {timeout} s, wanted {count}"
                )
            threading.Event().wait(0.01)

    def __repr__(self) -> str:
        return (
            f"TcpProxy({self.name}, {self.address} -> {self.target[0]}:{self.target[1]}, {self.mode}, "
            f"up={self.bytes_up}, down={self.bytes_down})"
        )

    # ------------------------------------------------------------ controls

    def cut(self) -> None:
        """Reset every open connection and every new one, until :meth:`restore`."""
        self._loop.call(self._cut)

    def _cut(self) -> None:
        self.mode = Mode.CUT
        for conn in list(self.connections):
            conn.reset()

    def stall(self) -> None:
        """Keep connections open but forward nothing either way, until :meth:`restore`."""
        self._loop.call(self._stall)

    def _stall(self) -> None:
        self.mode = Mode.STALLED
        for conn in list(self.connections):
            conn.update_reading()

    def drop(self) -> None:
        """Reset the connections open now, once; new connections are accepted as before."""
        self._loop.call(self._drop)

    def _drop(self) -> None:
        for conn in list(self.connections):
            conn.reset()

    def restore(self) -> None:
        """Forward again (after :meth:`cut` or :meth:`stall`), flushing what a stall held."""
        self._loop.call(self._restore)

    def _restore(self) -> None:
        self.mode = Mode.OPEN
        for conn in list(self.connections):
            conn.flush()

    def close(self) -> None:
        """Stop listening and reset every connection. Idempotent."""
        if self._closed:
            return
        self._closed = True

        async def shutdown() -> None:
            self.mode = Mode.CUT
            if self._server is not None:
                self._server.close()
            for conn in list(self.connections):
                conn.reset()
            if self._server is not None:
                await self._server.wait_closed()

        try:
            self._loop.run(shutdown(), timeout=10)
        finally:
            if self._owns_loop:
                self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
