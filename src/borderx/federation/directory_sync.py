"""The directory travels through the federation (issue 12 item 3): no file copied by hand.

Gateways tell each other which directory they trust when they subscribe
(``SubscribeRequest.directory_version``/``directory_digest``). A gateway that learns a
partner is ahead, or on a different document of the same version, asks that partner for the
versions it lacks (``Exchange.GetDirectory``) and applies each through
:meth:`DirectoryHolder.replace`, which verifies it against the version trusted now (TUF's
root rotation) and records it; so a partner can pass a version on but never forge one. A
partner's conflicting document of the same version is kept as evidence beside ours and
raises a ``directory_conflict`` alarm. When this gateway's own directory changes, its links
to partners are restarted, which announces the new version to each of them.

Deciding stays in :mod:`borderx.directory.trust`; this module only moves documents.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import grpc.aio

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.directory.model import Directory, DirectoryHolder
from borderx.errors import ConfigError, DirectoryRefused
from borderx.logging import get_logger
from borderx.store import Store

log = get_logger("borderx.directory")

CONFLICT_ALARM = "directory_conflict"
REFUSED_ALARM = "directory_refused"
#: most versions one GetDirectory answer carries (the caller asks again from the last one)
MAX_DOCUMENTS = 64
CALL_TIMEOUT = 10.0
RETRIES = 4
RETRY_FIRST_SECONDS = 0.5


class DirectorySync:
    def __init__(
        self,
        *,
        agency: str,
        store: Store,
        directory: DirectoryHolder,
        endpoints: Callable[[], dict[str, str]],
        credentials: Callable[[], tuple[bytes, bytes]],
        restart_links: Callable[[], Any],
        enabled: bool,
        max_message_bytes: int,
    ) -> None:
        self._agency = agency
        self._store = store
        self._directory = directory
        self._endpoints = endpoints
        self._credentials = credentials
        self._restart_links = restart_links
        self._enabled = enabled
        self._max_message = max_message_bytes
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # ------------------------------------------------------------ wiring

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start on ``loop``: catch up with every partner once, then follow changes."""
        self._loop = loop
        if not self._enabled:
            return
        self._directory.on_change(self._changed)
        for peer in self._endpoints():
            self.schedule(peer)

    def _changed(self, new: Directory) -> None:
        # may run in a worker thread (Admin.PublishDirectory, reload): hop onto the loop
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        log.info("directory.announce", version=new.version, digest=new.digest)
        loop.call_soon_threadsafe(lambda: loop.create_task(self._restart()))

    async def _restart(self) -> None:
        try:
            await self._restart_links()
        except Exception:  # a failed restart must not stop the next change from being announced
            log.exception("directory.announce_failed")

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    # ------------------------------------------------------------ learning of partners' versions

    def announced(self, peer: str, version: int, digest: str) -> None:
        """A partner gateway subscribed saying it trusts ``version``/``digest`` (on the loop)."""
        if not self._enabled or version == 0 or peer == self._agency:
            return
        current = self._directory.current
        if version > current.version or (version == current.version and digest != current.digest):
            self.schedule(peer)

    def schedule(self, peer: str) -> None:
        """Fetch from ``peer`` soon, once: a fetch already under way for it covers this one."""
        running = self._tasks.get(peer)
        if running is not None and not running.done():
            return
        loop = self._loop or asyncio.get_running_loop()
        self._tasks[peer] = loop.create_task(self._check(peer), name=f"directory-{peer}")

    async def _check(self, peer: str) -> None:
        # a partner that announced a newer version but cannot be reached right now is tried
        # again a few times; after that the next subscription (ours or its) brings it back
        delay = RETRY_FIRST_SECONDS
        for attempt in range(1, RETRIES + 1):
            try:
                await self.fetch(peer)
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                log.warning(
                    "directory.fetch_failed",
                    peer=peer,
                    attempt=attempt,
                    code=exc.code().name,
                    detail=exc.details(),
                )
            except Exception:
                log.exception("directory.fetch_failed", peer=peer, attempt=attempt)
            else:
                return
            await asyncio.sleep(delay)
            delay *= 2

    async def fetch(self, peer: str) -> int:
        """Ask ``peer`` for the versions after ours and apply them; returns how many applied."""
        endpoint = self._endpoints().get(peer)
        if endpoint is None:
            return 0
        applied = 0
        async with self._channel(peer, endpoint) as channel:
            stub = exchange_pb2_grpc.ExchangeStub(channel)
            while True:
                current = self._directory.current
                response = await stub.GetDirectory(
                    exchange_pb2.GetDirectoryRequest(
                        have_version=current.version, have_digest=current.digest
                    ),
                    timeout=CALL_TIMEOUT,
                )
                step = await asyncio.to_thread(
                    self.apply, peer, list(response.documents), response.conflicting
                )
                applied += step
                if step == 0 or self._directory.current.version >= response.version:
                    return applied

    def _channel(self, peer: str, endpoint: str) -> grpc.aio.Channel:
        cert, key = self._credentials()
        # trust only the partner agency's own CA, as the replicator's links do
        roots = self._directory.current.agency(peer).ca_pem
        tls = grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=cert)
        options = [("grpc.max_receive_message_length", self._max_message), ("grpc.enable_retries", 0)]
        return grpc.aio.secure_channel(endpoint, tls, options=options)

    # ------------------------------------------------------------ applying (no network: unit-testable)

    def apply(self, peer: str, documents: Sequence[bytes], conflicting: bytes = b"") -> int:
        """Apply ``peer``'s documents in order; keep evidence of a conflict. Returns how many applied."""
        if conflicting:
            self._conflict(peer, conflicting)
        applied = 0
        for data in documents:
            source = f"{peer}'s directory"
            try:
                candidate = Directory.loads(data, source=source)
            except ConfigError as exc:
                self._store.raise_alarm(REFUSED_ALARM, peer, f"{source}: does not parse: {exc}")
                return applied
            try:
                if self._directory.replace(candidate):
                    applied += 1
                    log.info(
                        "directory.applied", peer=peer, version=candidate.version, digest=candidate.digest
                    )
            except DirectoryRefused as exc:
                if exc.reason == "rollback":
                    continue  # a version we passed already
                if exc.reason == "conflict":
                    self._conflict(peer, data)
                else:
                    self._store.raise_alarm(
                        REFUSED_ALARM,
                        peer,
                        f"{source} v{candidate.version} digest {candidate.digest[:16]}… refused ({exc.reason}): {exc}",
                    )
                return applied
        return applied

    def _conflict(self, peer: str, data: bytes) -> None:
        try:
            theirs = Directory.loads(data, source=f"{peer}'s directory")
        except ConfigError:
            return  # not a document at all: nothing signed to keep
        ours = self._store.directory_document(theirs.version)
        if ours is None or ours.digest == theirs.digest:
            return
        self._store.record_directory_conflict(peer, theirs.version, theirs.digest, data)
        self._store.raise_alarm(
            CONFLICT_ALARM,
            peer,
            f"directory v{theirs.version}: ours has digest {ours.digest[:16]}…, {peer}'s {theirs.digest[:16]}…; "
            "both documents are kept as evidence",
        )
        log.error(
            "security.directory_conflict",
            peer=peer,
            version=theirs.version,
            our_digest=ours.digest,
            their_digest=theirs.digest,
        )
