"""The gateway's change feed: wakes Subscribe streams when the store gains statements or checkpoints.

A version counter and an asyncio event per waiting generation. Writers call
``notify()`` from any thread (the publisher and replicator append in worker threads);
followers call ``await wait(seen)`` and then read the store. No statement is ever queued
here, so memory does not grow with slow followers (they fall back to reading the store).
"""

from __future__ import annotations

import asyncio
import threading


class Feed:
    def __init__(self) -> None:
        self._version = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's event loop (once, at start-up)."""
        self._loop = loop
        self._event = asyncio.Event()

    @property
    def version(self) -> int:
        return self._version

    def notify(self) -> None:
        """Something new is in the store. Safe from any thread."""
        with self._lock:
            self._version += 1
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake()
        else:
            loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        event = self._event
        if event is not None:
            event.set()
            self._event = asyncio.Event()

    async def wait(self, seen: int) -> int:
        """Return once the version differs from ``seen``; the new version."""
        while self._version == seen:
            event = self._event
            if event is None:
                raise RuntimeError("Feed.bind() was not called")
            await event.wait()
        return self._version
