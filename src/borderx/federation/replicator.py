"""Replication from peers: one ``Subscribe(follow)`` per peer, verify everything, store, relay.

For each configured peer a :class:`PeerLink` connects with this gateway's certificate,
trusting only that peer agency's CA, sends the version vector of what the store holds
(so a restart resumes from the store: there is no separate cursor to lose), and follows.

Per issuer, incoming statements must be contiguous from the held head. They are buffered
until a checkpoint covers them — then one checkpoint signature plus hashing authenticates
the whole run (``verify_run``) — or, when the stream goes idle or the buffer is full,
verified one by one. Only then are they stored, with their screening index effects, in
one transaction; followers are woken through the feed, which is how relaying happens.

Faults and what they cause:

- a statement or checkpoint that fails verification, or a gap in a peer's stream: a
  ``security.*`` event, an alarm, and the session is dropped (the peer resends from our
  version vector after backoff); nothing of the bad run is stored;
- two different headers for one (issuer, seq) from anywhere: the store keeps both as
  evidence and suspends the issuer until an operator resumes it; an alarm is raised;
- a body sent for a statement whose audience excludes us: stored redacted, alarmed;
- a redacted statement we are entitled to read: not stored from this peer (the body would
  be lost for good); the issuer waits for a peer that can give it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

import grpc
import grpc.aio

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.config import GatewayConfig
from borderx.directory.model import DirectoryHolder
from borderx.errors import (
    BorderxError,
    ChainError,
    Equivocation,
    IssuerSuspended,
    MalformedHeader,
    VerificationError,
)
from borderx.federation.feed import Feed
from borderx.federation.sigchain import signatures_digest_at
from borderx.logging import get_logger
from borderx.screening.index import index_effects
from borderx.statements.chain import ChainHead
from borderx.statements.checkpoints import roll_signatures, verify_run
from borderx.statements.encoding import envelope_from_proto, signed_checkpoint_from_proto
from borderx.statements.model import Envelope, SignedCheckpoint
from borderx.statements.verify import verify_checkpoint, verify_statement
from borderx.store.base import NO_EFFECTS, NewStatement, Store

log = get_logger("borderx.replicator")
security = get_logger("borderx.security")

LEADER_POLL = 1.0  # seconds between replicas' checks of who replicates
MAX_BUFFER = 1024  # statements held per issuer awaiting a checkpoint
IDLE_FLUSH_SECONDS = 0.01  # an idle stream flushes its buffers by individual verification
BATCH = 1024  # statements (about) handed to the worker thread at once
QUEUE = 16  # messages (each up to a page of statements) read ahead; then gRPC flow control pushes back


def _size(item: Any) -> int:
    """How many statements a queued item carries (for batching work, not for accounting)."""
    if item is None or isinstance(item, BaseException):
        return 0
    return len(item.batch.statements) if item.WhichOneof("event") == "batch" else 1


class Observer:
    """What the replicator reports to metrics (no-op by default)."""

    def stored(self, envelopes: Sequence[Envelope], source: str) -> None:
        """``envelopes`` were newly stored; source is "published" or "replicated"."""

    def refused(self, reason: str) -> None:
        """Something from a peer was refused for ``reason`` (bad_statement, gap …)."""


class PeerMisbehaved(BorderxError):
    """The peer sent something that must end the session (bad signature, gap …)."""


@dataclass
class PeerStatus:
    agency: str
    endpoint: str
    connected: bool = False
    last_message_at: datetime | None = None
    last_error: str = ""
    received: int = 0
    stored: int = 0
    #: issuer → highest checkpoint seq seen through this peer, and when it arrived
    known_heads: dict[str, tuple[int, float]] = field(default_factory=dict)


@dataclass
class _IssuerSync:
    head: ChainHead | None
    signatures: bytes | None
    pending: list[SignedCheckpoint] = field(default_factory=list)
    buffer: list[Envelope] = field(default_factory=list)
    blocked: bool = False  # a body we are entitled to was missing: skip this issuer this session

    @property
    def next_seq(self) -> int:
        return (self.head.seq if self.head else 0) + len(self.buffer) + 1


class PeerLink:
    def __init__(
        self,
        *,
        agency: str,
        peer: str,
        endpoint: str,
        store: Store,
        directory: DirectoryHolder,
        feed: Feed,
        credentials: Callable[[], tuple[bytes, bytes]],
        backoff: tuple[float, float],
        max_message_bytes: int,
        observer: Observer | None = None,
    ) -> None:
        self._observer = observer or Observer()
        self.agency = agency
        self.peer = peer
        self.status = PeerStatus(agency=peer, endpoint=endpoint)
        self._store = store
        self._directory = directory
        self._feed = feed
        self._credentials = credentials
        self._backoff = backoff
        self._max_message = max_message_bytes
        self._syncs: dict[str, _IssuerSync] = {}

    # ------------------------------------------------------------ connection loop

    async def run(self) -> None:
        delay = self._backoff[0]
        while True:
            started = time.monotonic()
            try:
                await self._session()
                self.status.last_error = "stream ended"
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                self.status.last_error = f"{exc.code().name}: {exc.details()}"
            except PeerMisbehaved as exc:
                self.status.last_error = str(exc)
            except Exception as exc:  # a bug must not end replication for good
                self.status.last_error = f"internal error: {exc!r}"
                log.exception("replicator.session_failed", peer=self.peer)
            finally:
                self.status.connected = False
            if time.monotonic() - started > 5 * delay:
                delay = self._backoff[0]  # the session worked for a while: start backoff afresh
            # full jitter: partners restarting together do not reconnect in lockstep
            await asyncio.sleep(random.uniform(0, delay))  # noqa: S311 - jitter, not cryptography
            delay = min(delay * 2, self._backoff[1])

    def _channel(self) -> grpc.aio.Channel:
        cert, key = self._credentials()
        # trust only the peer agency's own CA: the server must be that agency's gateway
        roots = self._directory.current.agency(self.peer).ca_pem
        tls = grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=cert)
        options = [
            ("grpc.keepalive_time_ms", 10_000),
            ("grpc.keepalive_timeout_ms", 5_000),
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.max_receive_message_length", self._max_message),
            ("grpc.enable_retries", 0),
        ]
        return grpc.aio.secure_channel(self.status.endpoint, tls, options=options)

    async def _session(self) -> None:
        heads = await asyncio.to_thread(self._store.heads)
        self._syncs = {}
        directory = self._directory.current
        request = exchange_pb2.SubscribeRequest(
            have={i: h.seq for i, h in heads.items()},
            have_digests={i: h.digest for i, h in heads.items()},
            follow=True,
            # tell the peer which directory we trust: if it is behind, it fetches ours
            directory_version=directory.version,
            directory_digest=directory.digest,
        )
        async with self._channel() as channel:
            call = exchange_pb2_grpc.ExchangeStub(channel).Subscribe(request)
            queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=QUEUE)
            reader = asyncio.create_task(self._read(call, queue))
            try:
                await self._process_queue(queue)
            finally:
                reader.cancel()
                call.cancel()

    async def _read(self, call: Any, queue: asyncio.Queue[Any]) -> None:
        try:
            async for message in call:
                if not self.status.connected:
                    self.status.connected = True
                    self.status.last_error = ""
                await queue.put(message)
            await queue.put(None)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            await queue.put(exc)

    async def _process_queue(self, queue: asyncio.Queue[Any]) -> None:
        while True:
            waiting = any(s.buffer for s in self._syncs.values())
            try:
                first = await (asyncio.wait_for(queue.get(), IDLE_FLUSH_SECONDS) if waiting else queue.get())
            except TimeoutError:
                await asyncio.to_thread(self._flush_all)
                continue
            batch = [first]
            size = _size(first)
            while size < BATCH and not queue.empty():
                item = queue.get_nowait()
                batch.append(item)
                size += _size(item)
            messages = []
            ended = False
            failure: BaseException | None = None
            for item in batch:
                if item is None or isinstance(item, BaseException):
                    ended, failure = True, item
                    break
                messages.append(item)
            if messages:
                self.status.received += len(messages)
                self.status.last_message_at = datetime.now(UTC)
                await asyncio.to_thread(self._process, messages)
            if ended:
                await asyncio.to_thread(self._flush_all)
                if failure is not None:
                    raise failure
                return

    # ------------------------------------------------------------ processing (worker thread)

    def _sync(self, issuer: str) -> _IssuerSync:
        sync = self._syncs.get(issuer)
        if sync is None:
            head = self._store.head(issuer)
            sigs = signatures_digest_at(self._store, issuer, head.seq) if head else None
            sync = _IssuerSync(head=head, signatures=sigs if head else roll_signatures(bytes(32), []))
            self._syncs[issuer] = sync
        return sync

    def _process(self, messages: Sequence[Any]) -> None:
        for message in messages:
            kind = message.WhichOneof("event")
            try:
                if kind == "statement":
                    self._on_statement(envelope_from_proto(message.statement))
                elif kind == "batch":
                    for statement in message.batch.statements:
                        self._on_statement(envelope_from_proto(statement))
                elif kind == "checkpoint":
                    self._on_checkpoint(signed_checkpoint_from_proto(message.checkpoint))
            except (MalformedHeader, VerificationError) as exc:
                self._refuse("bad_message", getattr(exc, "issuer", ""), f"{exc}")

    def _refuse(self, kind: str, issuer: str, detail: str) -> NoReturn:
        text = f"from peer {self.peer}: {detail}"
        self._observer.refused(kind)
        security.warning(f"security.{kind}", peer=self.peer, issuer=issuer, detail=detail)
        self._store.raise_alarm(kind, issuer, text)
        raise PeerMisbehaved(text)

    def _on_checkpoint(self, scp: SignedCheckpoint) -> None:
        issuer = scp.issuer
        try:
            verify_checkpoint(scp, self._directory.current)
        except VerificationError as exc:
            self._refuse("bad_checkpoint", issuer, str(exc))
        sync = self._sync(issuer)
        if sync.blocked:
            return
        cp = scp.checkpoint
        known = self.status.known_heads.get(issuer)
        if known is None or cp.seq > known[0]:
            self.status.known_heads[issuer] = (cp.seq, time.monotonic())
        held = sync.head.seq if sync.head else 0
        if cp.seq <= held:
            self._store_checkpoint(scp)
            return
        if not sync.pending or cp.seq > sync.pending[-1].seq:
            sync.pending.append(scp)
        self._flush_covered(issuer, sync)

    def _store_checkpoint(self, scp: SignedCheckpoint) -> None:
        try:
            if self._store.put_checkpoint(scp):
                self._feed.notify()
        except Equivocation as exc:
            self._equivocation(scp.issuer, str(exc))

    def _on_statement(self, env: Envelope) -> None:
        issuer = env.issuer
        sync = self._sync(issuer)
        if sync.blocked:
            return
        if env.seq < sync.next_seq:
            self._replayed(env, sync)
            return
        if env.seq > sync.next_seq:
            have = sync.next_seq - 1
            self._flush(issuer, sync)
            self._refuse(
                "gap",
                issuer,
                f"{issuer} skipped from seq {have} to {env.seq}: seq {have + 1}..{env.seq - 1} withheld",
            )
        if env.body is None and env.header.readable_by(self.agency):
            # the peer cannot (or will not) give us a body we are entitled to; storing the
            # header alone would lose that body for good, so wait for another peer
            self._flush(issuer, sync)
            sync.blocked = True
            log.info("replicator.body_unavailable", peer=self.peer, issuer=issuer, seq=env.seq)
            return
        sync.buffer.append(env)
        self._flush_covered(issuer, sync)
        if len(sync.buffer) >= MAX_BUFFER:
            self._flush(issuer, sync)

    def _replayed(self, env: Envelope, sync: _IssuerSync) -> None:
        """A statement at or below what we hold or buffer: a duplicate, or equivocation."""
        held_seq = sync.head.seq if sync.head else 0
        if env.seq > held_seq:
            if sync.buffer[env.seq - held_seq - 1].digest != env.digest:
                self._refuse("bad_message", env.issuer, f"{env.issuer} seq {env.seq} sent twice, differently")
            return
        stored = self._store.get(env.issuer, env.seq)
        if stored is not None and stored.envelope.digest == env.digest:
            return
        try:
            verify_statement(env, self._directory.current)
        except VerificationError as exc:
            self._refuse("bad_statement", env.issuer, str(exc))
        self._append(env.issuer, [env])  # the store records equivocation evidence and suspends

    def _flush_covered(self, issuer: str, sync: _IssuerSync) -> None:
        """Authenticate and store every buffered run that a pending checkpoint covers."""
        while sync.pending:
            cp = sync.pending[0]
            held = sync.head.seq if sync.head else 0
            if cp.seq <= held:
                sync.pending.pop(0)
                self._store_checkpoint(cp)
                continue
            if held + len(sync.buffer) < cp.seq:
                return
            run = sync.buffer[: cp.seq - held]
            try:
                verify_run(
                    cp,
                    run,
                    directory=self._directory.current,
                    start=sync.head,
                    start_signatures=sync.signatures,
                )
            except (VerificationError, ChainError) as exc:
                sync.buffer.clear()
                self._refuse("bad_run", issuer, str(exc))
            self._check_audience(run)
            sync.pending.pop(0)
            del sync.buffer[: len(run)]
            if self._append(issuer, run, sync):
                sync.signatures = cp.checkpoint.signatures_digest or None
                self._store_checkpoint(cp)

    def _flush_all(self) -> None:
        for issuer, sync in self._syncs.items():
            self._flush(issuer, sync)

    def _flush(self, issuer: str, sync: _IssuerSync) -> None:
        """Verify buffered statements one by one and store them (an idle stream, or a full buffer)."""
        if not sync.buffer:
            return
        run, sync.buffer = sync.buffer, []
        directory = self._directory.current
        failure: VerificationError | None = None
        for i, env in enumerate(run):
            try:
                verify_statement(env, directory)
            except VerificationError as exc:
                failure, run = exc, run[:i]  # keep the verified prefix; refuse from here on
                break
        if run:
            self._check_audience(run)
            if self._append(issuer, run, sync) and sync.signatures is not None:
                sync.signatures = roll_signatures(sync.signatures, run)
        if failure is not None:
            self._refuse("bad_statement", issuer, str(failure))

    def _check_audience(self, run: list[Envelope]) -> None:
        for i, env in enumerate(run):
            if env.body is not None and not env.header.readable_by(self.agency):
                # invariant 3: never keep a body we were not meant to see; keep the header
                run[i] = env.redact()
                detail = (
                    f"{env.issuer} seq {env.seq} arrived with a body for audience {list(env.header.audience)}"
                )
                security.warning(
                    "security.audience_violation", peer=self.peer, issuer=env.issuer, seq=env.seq
                )
                self._store.raise_alarm("audience_violation", env.issuer, f"from peer {self.peer}: {detail}")

    def _append(self, issuer: str, run: list[Envelope], sync: _IssuerSync | None = None) -> bool:
        entries = [
            NewStatement(e, self.peer, index_effects(e) if e.body is not None else NO_EFFECTS) for e in run
        ]
        try:
            results = self._store.append(entries)
        except IssuerSuspended:
            if sync is not None:
                sync.blocked = True
            return False
        except Equivocation as exc:
            self._equivocation(issuer, str(exc))
            if sync is not None:
                sync.blocked = True
            return False
        except ChainError as exc:
            if sync is not None:
                sync.head = self._store.head(issuer)
                sync.blocked = True
            self._refuse("chain", issuer, str(exc))
        if sync is not None and run:
            sync.head = ChainHead.of(run[-1])
        fresh = [e for e, r in zip(run, results, strict=True) if not r.duplicate]
        self.status.stored += len(fresh)
        if fresh:
            self._observer.stored(fresh, "replicated")
            self._feed.notify()
        return True

    def _equivocation(self, issuer: str, detail: str) -> None:
        text = f"seen via peer {self.peer}: {detail}; {issuer} is suspended until an operator resumes it"
        security.error("security.equivocation", peer=self.peer, issuer=issuer, detail=detail)
        self._store.raise_alarm("equivocation", issuer, text)


class Replicator:
    """One PeerLink per peer, run as tasks on the server's loop."""

    def __init__(
        self,
        *,
        config: GatewayConfig,
        store: Store,
        directory: DirectoryHolder,
        feed: Feed,
        observer: Observer | None = None,
    ) -> None:
        self._observer = observer
        self._config = config
        self._store = store
        self._directory = directory
        self._feed = feed
        self.links: dict[str, PeerLink] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        #: whether this replica runs the replicator (always, unless replicas share the database)
        self.leader = False

    def _credentials(self) -> tuple[bytes, bytes]:
        return self._config.tls_cert.read_bytes(), self._config.tls_key.read_bytes()

    def peers(self) -> dict[str, str]:
        """Peer agency → endpoint, from the config and the directory."""
        directory = self._directory.current
        fed = self._config.federation
        names = (
            fed.peers
            if fed.peers is not None
            else tuple(a for a in directory.agencies if a != self._config.agency)
        )
        out = {}
        for peer in names:
            if peer == self._config.agency or peer not in directory.agencies:
                continue
            endpoint = fed.endpoints.get(peer) or directory.agencies[peer].endpoint
            if endpoint:
                out[peer] = endpoint
        return out

    def start(self) -> None:
        """Replicate from every peer, on one replica only when several share the database."""
        if not self._config.federation.enabled:
            return
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise(), name="replicator-leader")

    async def _supervise(self) -> None:
        # The store grants "replicator" to one replica at a time and releases it when that
        # replica dies; the others check every LEADER_POLL seconds and take over.
        while True:
            try:
                leader = await asyncio.to_thread(self._store.hold_leadership, "replicator")
            except Exception:  # a database hiccup: try again, keep what runs
                log.exception("replicator.leadership_check_failed")
                leader = self.leader
            if leader and not self.leader:
                self.leader = True
                log.info("replicator.leader", agency=self._config.agency)
                self._start_links()
            elif not leader and self.leader:
                self.leader = False
                log.warning("replicator.leadership_lost", agency=self._config.agency)
                await self._stop_links()
            await asyncio.sleep(LEADER_POLL)

    def _start_links(self) -> None:
        fed = self._config.federation
        for peer, endpoint in self.peers().items():
            link = PeerLink(
                agency=self._config.agency,
                peer=peer,
                endpoint=endpoint,
                store=self._store,
                directory=self._directory,
                feed=self._feed,
                credentials=self._credentials,
                backoff=(fed.backoff_initial_seconds, fed.backoff_max_seconds),
                max_message_bytes=self._config.limits.max_message_bytes,
                observer=self._observer,
            )
            self.links[peer] = link
            self._tasks[peer] = asyncio.get_running_loop().create_task(link.run(), name=f"replicate-{peer}")

    async def restart(self) -> None:
        """Drop every session and reconnect (after an operator resumed an issuer, say)."""
        if self.leader:
            await self._stop_links()
            self._start_links()

    async def _stop_links(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):  # shutting down
                await task
        self._tasks.clear()
        self.links.clear()

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
            self._supervisor = None
        await self._stop_links()
        self.leader = False
