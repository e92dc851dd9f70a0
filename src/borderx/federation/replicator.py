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
  be lost for good); the issuer waits for a peer that can give it;
- a statement signed by a key whose window closed before anyone honest can vouch it
  existed (``KeyUnwitnessed``: no quorum of witnesses' cosignatures yet): *pending*, not
  evidence — what came before it is stored, the issuer waits for the rest of the session,
  and the link resubscribes once a cosignature of that issuer arrives or after
  ``UNWITNESSED_RETRY_SECONDS``; found unwitnessed again after that retry, it raises a
  ``key_unwitnessed`` alarm (honest history is never lost, a forgery is never stored).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import grpc
import grpc.aio
from cryptography import x509

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.config import GatewayConfig
from borderx.directory.model import DirectoryHolder
from borderx.errors import (
    BorderxError,
    ChainError,
    Equivocation,
    IssuerSuspended,
    KeyUnwitnessed,
    MalformedHeader,
    OwnChainForged,
    RuleViolation,
    Unauthenticated,
    VerificationError,
)
from borderx.federation.feed import Feed
from borderx.federation.sigchain import signatures_digest_at
from borderx.federation.sync import Action, Conflict, IssuerSync, StoreCheckpoint, StoreRun
from borderx.federation.witness import Witness
from borderx.identity.verifier import authenticate_server_certificate
from borderx.logging import get_logger
from borderx.screening.index import index_effects
from borderx.statements.checkpoints import GENESIS_SIGNATURES
from borderx.statements.encoding import (
    envelope_from_proto,
    signed_checkpoint_from_proto,
    signed_cosignature_from_proto,
)
from borderx.statements.intake import (
    Admission,
    IntakePolicy,
    StoreView,
    admit,
    admit_checkpoint,
    admit_cosignature,
    admit_run,
)
from borderx.statements.model import Envelope, SignedCheckpoint, SignedCosignature
from borderx.statements.verify import verify_statement
from borderx.statements.witness import SplitView, split_view
from borderx.store.base import NO_EFFECTS, Store

log = get_logger("borderx.replicator")
security = get_logger("borderx.security")

LEADER_POLL = 1.0  # seconds between replicas' checks of who replicates
MAX_BUFFER = 1024  # statements held per issuer awaiting a checkpoint
IDLE_FLUSH_SECONDS = 0.01  # an idle stream flushes its buffers by individual verification
BATCH = 1024  # statements (about) handed to the worker thread at once
PREFLIGHT_TIMEOUT = 10.0  # seconds for the handshake that authenticates a peer's server certificate
QUEUE = 16  # messages (each up to a page of statements) read ahead; then gRPC flow control pushes back
UNWITNESSED_RETRY_SECONDS = 1.0  # a statement waiting for witnesses is asked for again this soon


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


class Resubscribe(BorderxError):
    """Not misbehaviour: end the session to ask again for statements that were waiting for witnesses."""


@dataclass
class Unwitnessed:
    """A statement of one issuer held back because its retired key is not witnessed (yet)."""

    seq: int
    digest: bytes
    detail: str
    #: a cosignature dated after this can never prove it (the key's window end plus the grace)
    deadline: datetime | None = None
    #: sessions in which it was found unwitnessed; the alarm is raised at the second
    tries: int = 1
    #: time.monotonic() at which to resubscribe and ask again (None: only when a cosignature arrives)
    retry_at: float | None = None
    #: a cosignature of the issuer arrived since: resubscribe at once
    cosigned: bool = False


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
    #: times a statement from this peer was held back waiting for witnesses (KeyUnwitnessed)
    held_back: int = 0


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
        policy: IntakePolicy | None = None,
        observer: Observer | None = None,
        tls_files: tuple[Path, Path] | None = None,
        witness: Witness | None = None,
    ) -> None:
        self._observer = observer or Observer()
        #: cosigns the partners' checkpoints we verified (None: no signing key, no witnessing)
        self._witness = witness
        self._policy = policy or IntakePolicy(home=agency, indexer=index_effects)
        self.agency = agency
        self.peer = peer
        self.endpoint = endpoint
        #: the peer's CA bundle this link trusts (a directory change of it re-points the link)
        self.ca_pem = directory.current.agency(peer).ca_pem
        #: our certificate and key files, for authenticating the peer's server certificate
        self._tls_files = tls_files
        #: the peer's server certificate, as authenticated before the current session
        self.server_certificate: x509.Certificate | None = None
        self.status = PeerStatus(agency=peer, endpoint=endpoint)
        self._store = store
        self._directory = directory
        self._feed = feed
        self._credentials = credentials
        self._backoff = backoff
        self._max_message = max_message_bytes
        self._syncs: dict[str, IssuerSync] = {}
        #: issuer → its statement waiting for witnesses (kept across sessions of this link)
        self._unwitnessed: dict[str, Unwitnessed] = {}

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
            except Resubscribe as exc:
                self.status.last_error = str(exc)
            except Unauthenticated as exc:
                self.status.last_error = f"UNAUTHENTICATED: {exc}"
                security.warning("security.peer_unauthenticated", peer=self.peer, reason=str(exc))
                # one alarm per peer, counted at every refused reconnect
                with contextlib.suppress(Exception):  # the store's trouble must not end the link
                    await asyncio.to_thread(
                        self._store.raise_alarm,
                        "peer_unauthenticated",
                        self.peer,
                        f"the server at {self.endpoint}: {exc}",
                        peer=self.peer,
                    )
            except OSError as exc:  # the pre-flight handshake could not reach or verify the peer
                self.status.last_error = f"UNAVAILABLE: {self.endpoint}: {exc}"
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

    def authenticate_server(self) -> x509.Certificate:
        """Fetch the peer's server certificate and authenticate it as that agency's gateway.

        Runs in a worker thread before each session. gRPC's channel checks the chain to the
        peer's CA and the host name, but cannot show the certificate to Python; this TLS
        handshake, with the same certificate, CA and host, lets the replicator apply the
        server-side rules to the server: that agency's gateway SPIFFE ID, its own CA,
        server-auth usage, not revoked. Raises Unauthenticated, or OSError when the peer
        cannot be reached.
        """
        if self._tls_files is None:
            raise Unauthenticated("no certificate files to authenticate the peer's server with")
        host, _, port = self.endpoint.rpartition(":")
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        context.load_cert_chain(str(self._tls_files[0]), str(self._tls_files[1]))
        context.set_alpn_protocols(["h2"])
        with (
            socket.create_connection((host.strip("[]"), int(port)), timeout=PREFLIGHT_TIMEOUT) as raw,
            context.wrap_socket(raw, server_hostname=host.strip("[]")) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
        if der is None:
            raise Unauthenticated(f"the server at {self.endpoint} presented no certificate")
        cert = x509.load_der_x509_certificate(der)
        authenticate_server_certificate(
            cert, self._directory.current, agency=self.peer, host=host.strip("[]"), now=datetime.now(UTC)
        )
        return cert

    def server_still_authenticates(self) -> bool:
        """Whether the peer's last authenticated server certificate passes the current directory."""
        cert = self.server_certificate
        if cert is None:
            return True
        try:
            authenticate_server_certificate(
                cert,
                self._directory.current,
                agency=self.peer,
                host=self.endpoint.rpartition(":")[0].strip("[]"),
                now=datetime.now(UTC),
            )
        except Unauthenticated:
            return False
        return True

    def _channel(self) -> grpc.aio.Channel:
        cert, key = self._credentials()
        # trust only the peer agency's own CA: the server must be that agency's gateway
        roots = self.ca_pem
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
        if self._tls_files is not None:
            self.server_certificate = await asyncio.to_thread(self.authenticate_server)
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
            timeout = IDLE_FLUSH_SECONDS if waiting else self._retry_in()
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 a cancel that lands as the
                # item arrives can be swallowed by wait_for (gh-86296), and the link must end
                if timeout is None:
                    first = await queue.get()
                else:
                    async with asyncio.timeout(timeout):
                        first = await queue.get()
            except TimeoutError:
                await asyncio.to_thread(self._idle)
                self._retry_if_due()
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
                await asyncio.to_thread(self._idle, True)
                if failure is not None:
                    raise failure
                return
            self._retry_if_due()

    # ------------------------------------------------------------ processing (worker thread)

    def _sync(self, issuer: str) -> IssuerSync:
        sync = self._syncs.get(issuer)
        if sync is None:
            head = self._store.head(issuer)
            sigs = signatures_digest_at(self._store, issuer, head.seq) if head else GENESIS_SIGNATURES
            sync = IssuerSync(
                issuer=issuer, me=self.agency, head=head, signatures=sigs, max_buffer=MAX_BUFFER
            )
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
                elif kind == "cosignature":
                    self._on_cosignature(signed_cosignature_from_proto(message.cosignature))
            except (MalformedHeader, VerificationError) as exc:
                self._refuse("bad_message", getattr(exc, "issuer", ""), f"{exc}")

    def _idle(self, final: bool = False) -> None:
        for sync in self._syncs.values():
            # the stream ended: what arrived is all this session will get, store it now
            self._apply(sync, sync.flush() if final else sync.idle())

    def _refuse(self, kind: str, issuer: str, detail: str) -> NoReturn:
        text = f"from peer {self.peer}: {detail}"
        self._observer.refused(kind)
        security.warning(f"security.{kind}", peer=self.peer, issuer=issuer, detail=detail)
        self._store.raise_alarm(kind, issuer, text, peer=self.peer)
        raise PeerMisbehaved(text)

    def _on_statement(self, env: Envelope) -> None:
        if env.issuer == self.agency:
            self._own_statement(env)
            return
        sync = self._sync(env.issuer)
        self._apply(sync, sync.statement(env, self._directory.current))

    def _on_checkpoint(self, scp: SignedCheckpoint) -> None:
        issuer = scp.issuer
        try:
            admit_checkpoint(
                scp,
                directory=self._directory.current,
                policy=self._policy,
                view=StoreView(self._store),
                received_at=datetime.now(UTC),
                received_from=self.peer,
            )
        except KeyUnwitnessed as exc:
            # honest history signed before a rotation looks like this until its witnesses'
            # cosignatures arrive; never stored, never used to vouch for a run (its statements
            # are judged one by one, by the same rule)
            log.info(
                "replicator.checkpoint_unwitnessed",
                peer=self.peer,
                issuer=issuer,
                seq=scp.seq,
                detail=str(exc),
            )
            return
        except VerificationError as exc:
            self._refuse("bad_checkpoint", issuer, str(exc))
        except OwnChainForged as exc:
            self._own_chain(exc, checkpoints=(scp,))
            return
        except RuleViolation as exc:
            # signed by the issuer, so the issuer's fault, not the relay's: drop it, say so,
            # and keep replicating everything else this peer sends
            self._alarm("checkpoint_refused", issuer, f"{exc.rule}: {exc}")
            return
        if issuer == self.agency:
            return  # our own head, as we hold it: we checkpoint our chain ourselves
        known = self.status.known_heads.get(issuer)
        if known is None or scp.seq > known[0]:
            self.status.known_heads[issuer] = (scp.seq, time.monotonic())
        sync = self._sync(issuer)
        self._apply(sync, sync.checkpoint(scp, self._directory.current))

    def _on_cosignature(self, scos: SignedCosignature) -> None:
        issuer = scos.issuer
        try:
            admission = admit_cosignature(
                scos,
                directory=self._directory.current,
                policy=self._policy,
                view=StoreView(self._store),
                held=self._store.cosignatures_at(issuer, scos.seq),
                received_at=datetime.now(UTC),
                received_from=self.peer,
            )
        except VerificationError as exc:
            self._refuse("bad_cosignature", issuer, str(exc))
        except OwnChainForged as exc:
            self._own_chain(exc, checkpoints=(scos.cosignature.checkpoint,))
            return
        except RuleViolation as exc:
            # signed by the witness: its fault, not the relay's; drop it and say so
            self._alarm("cosignature_refused", issuer, f"{exc.rule}: {exc}")
            return
        if not admission.fresh:
            return
        waiting = self._unwitnessed.get(issuer)
        if waiting is not None and scos.seq >= waiting.seq:
            head = self._store.head(issuer)
            if head is not None and head.seq >= waiting.seq:
                del self._unwitnessed[issuer]  # another peer's copy was admitted meanwhile
            elif waiting.deadline is None or scos.cosignature.time <= waiting.deadline:
                waiting.cosigned = True  # it may be witnessed now: ask for it again
        # kept even when it proves a split view: it is the other half of the proof, and
        # relaying it is how every gateway that follows us meets both halves
        if self._store.put_cosignature(scos):
            self._feed.notify()
        if admission.split_view is not None:
            self._split_view(admission.split_view)

    def _split_view(self, sv: SplitView) -> None:
        """Two cosigned heads for one (issuer, seq), or one against what we hold: signed proof."""
        envelopes: tuple[Envelope, ...] = ()
        checkpoints = list(sv.checkpoints)
        if sv.other is None:
            # the other half is what we hold
            envelopes, held = self._held_half(sv.issuer, sv.seq, sv.cosignature.head_digest)
            checkpoints += held
        self._keep_proof(
            "split_view", sv.issuer, sv.seq, sv.detail, envelopes=envelopes, checkpoints=checkpoints
        )

    def _held_half(
        self, issuer: str, seq: int, head: bytes
    ) -> tuple[tuple[Envelope, ...], list[SignedCheckpoint]]:
        """What we hold at (issuer, seq) against a signed claim of ``head``: our copy of the
        header, and the checkpoints we hold there that name another head."""
        stored = self._store.get(issuer, seq)
        checkpoints = [
            c
            for c in self._store.checkpoints_between(issuer, seq - 1, seq)
            if c.checkpoint.head_digest != head
        ]
        return ((stored.envelope,) if stored is not None else ()), checkpoints

    def _keep_proof(
        self,
        kind: str,
        issuer: str,
        seq: int,
        detail: str,
        *,
        envelopes: Sequence[Envelope],
        checkpoints: Sequence[SignedCheckpoint],
    ) -> None:
        """Signed proof that the issuer showed two histories: keep it, suspend, raise the alarm."""
        self._store.record_evidence(
            kind,
            issuer,
            seq,
            detail,
            envelopes=envelopes,
            checkpoints=checkpoints,
            reported_by=self.peer,
            # in the same transaction: the proof is never seen (or left by a crash) without it
            suspend=detail if issuer != self.agency else "",
        )
        self._observer.refused(kind)
        self._equivocation(issuer, detail)

    def _check_witnessed(self, issuer: str, fresh: Sequence[Envelope]) -> None:
        """Statements just stored against cosignatures held for their seqs (one query per run)."""
        if issuer == self.agency:
            return
        digests = {env.seq: env.digest for env in fresh}
        for scos in self._store.cosignatures_between(issuer, fresh[0].seq - 1, fresh[-1].seq):
            held = digests.get(scos.seq)
            sv = split_view(scos, (), held) if held is not None else None
            if sv is not None:
                self._split_view(sv)
                return

    def _held_back(self, sync: IssuerSync, env: Envelope, exc: KeyUnwitnessed) -> None:
        """``env``'s retired key is not witnessed: pending for this issuer, an alarm if a retry did not help."""
        sync.block()  # everything after it builds on it: nothing more of this issuer this session
        self.status.held_back += 1
        waiting = self._unwitnessed.get(env.issuer)
        if waiting is None or (waiting.seq, waiting.digest) != (env.seq, env.digest):
            waiting = self._unwitnessed[env.issuer] = Unwitnessed(env.seq, env.digest, str(exc), exc.deadline)
            waiting.retry_at = time.monotonic() + UNWITNESSED_RETRY_SECONDS
            log.info(
                "replicator.unwitnessed", peer=self.peer, issuer=env.issuer, seq=env.seq, detail=str(exc)
            )
            return
        waiting.tries += 1
        waiting.retry_at, waiting.cosigned = None, False
        if waiting.tries == 2:
            # asked again with every cosignature the peer holds, still nobody honest saw it in
            # time: a backdated forgery under a stolen retired key, or history nobody witnessed
            self._alarm("key_unwitnessed", env.issuer, f"{exc}; held back, not stored")

    def _retry_in(self) -> float | None:
        """Seconds until a held-back statement is to be asked for again (None: nothing to wait for)."""
        due = [w.retry_at for w in self._unwitnessed.values() if w.retry_at is not None]
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _retry_if_due(self) -> None:
        now = time.monotonic()
        for issuer, waiting in self._unwitnessed.items():
            if waiting.cosigned or (waiting.retry_at is not None and waiting.retry_at <= now):
                waiting.retry_at, waiting.cosigned = None, False
                raise Resubscribe(
                    f"asking {self.peer} again for {issuer} seq {waiting.seq} (waiting for witnesses)"
                )

    def _witnessed(self, issuer: str) -> None:
        if self._witness is not None:
            self._witness.consider(issuer)

    # ------------------------------------------------------------ applying actions

    def _apply(self, sync: IssuerSync, actions: Sequence[Action]) -> None:
        for action in actions:
            if isinstance(action, StoreRun):
                self._store_run(sync, action)
            elif isinstance(action, StoreCheckpoint):
                self._store_checkpoint(action.checkpoint)
            elif isinstance(action, Conflict):
                self._conflict(sync, action.envelope)
            else:
                self._refuse(action.kind, action.issuer, action.detail)

    def _store_run(self, sync: IssuerSync, action: StoreRun) -> None:
        cp = action.checkpoint
        # the checkpoint authenticates the headers; every signature is still verified one
        # by one before anything is stored (invariant 7.1)
        # with the issuer's signatures digest, the checkpoint binds every signature byte of
        # the run: the Ed25519 checks are deferred to federation.sigcheck (invariant 7.1 is
        # kept: nothing unchecked is relayed, exported or shown as verified)
        vouched = cp is not None and bool(cp.checkpoint.signatures_digest)
        admitted, failure = self._admit_run(
            action.run, ceiling=cp.checkpoint.time if cp else None, vouched=vouched
        )
        # a run admitted whole is stored with the checkpoint that vouched for it, in one transaction
        stored = self._append(sync, admitted, checkpoint=cp if failure is None else None)
        if isinstance(failure, KeyUnwitnessed):
            self._held_back(sync, action.run[len(admitted)], failure)
            return
        waiting = self._unwitnessed.get(sync.issuer)
        if stored and waiting is not None and admitted and admitted[-1].envelope.seq >= waiting.seq:
            del self._unwitnessed[sync.issuer]  # witnessed at last (or an honest peer had it)
        if failure is not None:
            bad = action.run[len(admitted)]
            if cp is not None:
                # the issuer's own checkpoint vouches for these signature bytes: signed
                # evidence against the issuer, not the relay
                self._store.record_evidence(
                    "bad_signature",
                    sync.issuer,
                    bad.seq,
                    str(failure),
                    envelopes=(bad,),
                    checkpoints=(cp,),
                    reported_by=self.peer,
                )
            under = f" (under {sync.issuer}'s checkpoint at seq {cp.seq})" if cp is not None else ""
            self._refuse("bad_statement", sync.issuer, f"{failure}{under}")

    def _store_checkpoint(self, scp: SignedCheckpoint) -> None:
        try:
            if self._store.put_checkpoint(scp):
                self._feed.notify()
        except Equivocation as exc:
            self._checkpoint_equivocation(scp, exc)
            return
        self._witnessed(scp.issuer)

    def _checkpoint_equivocation(self, scp: SignedCheckpoint, exc: Equivocation) -> None:
        """The issuer signed a checkpoint naming another head than the one it signed (or
        checkpointed) at that seq: signed proof. Keep it with the issuer's suspension, in one
        transaction, and raise the alarm."""
        envelopes, held = self._held_half(scp.issuer, scp.seq, scp.checkpoint.head_digest)
        self._keep_proof(
            "checkpoint_equivocation",
            scp.issuer,
            scp.seq,
            str(exc),
            envelopes=envelopes,
            checkpoints=[scp, *held],
        )

    def _conflict(self, sync: IssuerSync, env: Envelope) -> None:
        """A statement at or below the held head: a duplicate, or equivocation if it verifies."""
        stored = self._store.get(env.issuer, env.seq)
        if stored is not None and stored.envelope.digest == env.digest:
            return
        try:
            verify_statement(env, self._directory.current)
        except VerificationError as exc:
            self._refuse("bad_statement", env.issuer, str(exc))
        # the store records both signed headers (redacted) as evidence and suspends the issuer
        self._append(sync, [Admission(env.redact(), NO_EFFECTS)])

    def _own_statement(self, env: Envelope) -> None:
        """A statement in our own agency's name from a peer: an echo of ours, or a forgery."""
        stored = self._store.get(env.issuer, env.seq)
        if stored is not None and stored.envelope.digest == env.digest:
            return  # our own statement relayed back: nothing to do
        try:
            admit(
                env,
                directory=self._directory.current,
                policy=self._policy,
                view=StoreView(self._store),
                received_at=datetime.now(UTC),
                received_from=self.peer,
            )
        except VerificationError as exc:
            self._refuse("bad_statement", env.issuer, str(exc))
        except OwnChainForged as exc:
            self._own_chain(exc, envelopes=(env,) if stored is None else (stored.envelope, env))

    def _own_chain(
        self,
        exc: OwnChainForged,
        *,
        envelopes: Sequence[Envelope] = (),
        checkpoints: Sequence[SignedCheckpoint] = (),
    ) -> None:
        """Proof that our own key signed what we never made: keep it, and raise the loudest alarm."""
        detail = f"from peer {self.peer}: {exc}; {exc.issuer}'s signing key may be compromised"
        self._store.record_evidence(
            "own_chain",
            exc.issuer,
            exc.seq,
            str(exc),
            envelopes=envelopes,
            checkpoints=checkpoints,
            reported_by=self.peer,
        )
        self._observer.refused("own_chain")
        security.critical(
            "security.own_chain", peer=self.peer, issuer=exc.issuer, seq=exc.seq, detail=str(exc)
        )
        self._store.raise_alarm("own_chain", exc.issuer, detail, peer=self.peer)

    def _alarm(self, kind: str, issuer: str, detail: str) -> None:
        self._observer.refused(kind)
        security.warning(f"security.{kind}", peer=self.peer, issuer=issuer, detail=detail)
        self._store.raise_alarm(kind, issuer, f"from peer {self.peer}: {detail}", peer=self.peer)

    def _admit_run(
        self, run: Sequence[Envelope], *, ceiling: datetime | None = None, vouched: bool = False
    ) -> tuple[list[Admission], VerificationError | None]:
        """Admit ``run`` in order; stop at the first statement that may not be stored at all."""
        return admit_run(
            run,
            directory=self._directory.current,
            policy=self._policy,
            view=StoreView(self._store),
            received_at=datetime.now(UTC),
            received_from=self.peer,
            ceiling=ceiling,
            vouched=vouched,
        )

    def _report(self, admissions: Sequence[Admission]) -> None:
        """Alarms for what admission found in statements that are stored anyway."""
        for adm in admissions:
            env = adm.envelope
            if adm.audience_breach:
                detail = (
                    f"{env.issuer} seq {env.seq} arrived with a body for audience {list(env.header.audience)}"
                )
                security.warning(
                    "security.audience_violation", peer=self.peer, issuer=env.issuer, seq=env.seq
                )
                self._store.raise_alarm(
                    "audience_violation", env.issuer, f"from peer {self.peer}: {detail}", peer=self.peer
                )
            if adm.violation is not None:
                # signed by the issuer and part of its chain: kept as evidence, never indexed
                detail = f"{env.issuer} seq {env.seq} broke {adm.violation.rule}: {adm.violation}"
                self._observer.refused("rule_violation")
                security.warning(
                    "security.rule_violation",
                    peer=self.peer,
                    issuer=env.issuer,
                    seq=env.seq,
                    rule=adm.violation.rule,
                    detail=str(adm.violation),
                )
                self._store.raise_alarm("rule_violation", env.issuer, detail, peer=self.peer)

    def _append(
        self, sync: IssuerSync, run: Sequence[Admission], *, checkpoint: SignedCheckpoint | None = None
    ) -> bool:
        """Store ``run`` (with ``checkpoint``, the one that vouched for all of it); False: the issuer is blocked."""
        if not run:
            return True
        issuer = sync.issuer
        entries = [adm.entry(self.peer) for adm in run]
        try:
            results = self._store.append(entries, checkpoint=checkpoint)
        except IssuerSuspended:
            sync.block()
            return False
        except Equivocation as exc:
            if checkpoint is not None and exc.got_digest == checkpoint.checkpoint.head_digest:
                # the checkpoint itself contradicts what is held (a statement's equivocation
                # is kept, and its issuer suspended, by the store)
                self._checkpoint_equivocation(checkpoint, exc)
            else:
                self._equivocation(issuer, str(exc))
            sync.block()
            return False
        except ChainError as exc:
            sync.block()
            self._refuse("chain", issuer, str(exc))
        fresh = [e.envelope for e, r in zip(entries, results, strict=True) if not r.duplicate]
        self._report([a for a, r in zip(run, results, strict=True) if not r.duplicate])
        self.status.stored += len(fresh)
        if fresh:
            self._observer.stored(fresh, "replicated")
        if fresh or checkpoint is not None:
            self._feed.notify()
            # a checkpoint that arrived ahead of (or with) its statements is witnessed once they are held
            self._witnessed(issuer)
        if fresh:
            # and a cosignature that arrived ahead of them is checked against them now
            self._check_witnessed(issuer, fresh)
        return True

    def _equivocation(self, issuer: str, detail: str) -> None:
        text = f"seen via peer {self.peer}: {detail}; {issuer} is suspended until an operator resumes it"
        security.error("security.equivocation", peer=self.peer, issuer=issuer, detail=detail)
        self._store.raise_alarm("equivocation", issuer, text, peer=self.peer)


class Replicator:
    """One PeerLink per peer, run as tasks on the server's loop."""

    def __init__(
        self,
        *,
        config: GatewayConfig,
        store: Store,
        directory: DirectoryHolder,
        feed: Feed,
        policy: IntakePolicy | None = None,
        observer: Observer | None = None,
        witness: Witness | None = None,
    ) -> None:
        self._observer = observer
        self._witness = witness
        self._policy = policy or IntakePolicy(home=config.agency, indexer=index_effects)
        self._config = config
        self._store = store
        self._directory = directory
        self._feed = feed
        self.links: dict[str, PeerLink] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._links_lock: asyncio.Lock | None = None
        #: whether this replica runs the replicator (always, unless replicas share the database)
        self.leader = False
        # a reload that adds, removes or re-points a member reconciles the links
        directory.on_change(lambda _new: self._directory_changed())

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
        self._loop = asyncio.get_running_loop()
        self._links_lock = asyncio.Lock()
        self._supervisor = self._loop.create_task(self._supervise(), name="replicator-leader")

    def _directory_changed(self) -> None:
        """Directory listener (any thread): reconcile the links on the server's loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return

        def schedule() -> None:
            loop.create_task(self.reconcile(), name="replicator-reconcile")

        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            schedule()
        else:
            loop.call_soon_threadsafe(schedule)

    async def reconcile(self) -> dict[str, list[str]]:
        """Make the links match the directory: start added peers, stop removed ones, re-point changed.

        A link is re-pointed (stopped and started afresh) when its endpoint or the peer's CA
        bundle changed, or when the server certificate it authenticated no longer passes
        (revoked, or its agency's CA replaced). Returns what was done, by action.
        """
        done: dict[str, list[str]] = {"started": [], "stopped": [], "repointed": []}
        if not self.leader or self._links_lock is None:
            return done
        async with self._links_lock:
            if not self.leader:
                return done
            wanted = self.peers()
            directory = self._directory.current
            for peer, link in list(self.links.items()):
                if peer not in wanted:
                    await self._stop_link(peer)
                    done["stopped"].append(peer)
                elif (
                    link.endpoint != wanted[peer]
                    or link.ca_pem != directory.agency(peer).ca_pem
                    or not link.server_still_authenticates()
                ):
                    await self._stop_link(peer)
                    done["repointed"].append(peer)
            for peer, endpoint in wanted.items():
                if peer not in self.links:
                    self._start_link(peer, endpoint)
                    if peer not in done["repointed"]:
                        done["started"].append(peer)
        if any(done.values()):
            log.info("replicator.reconciled", agency=self._config.agency, **done)
        return done

    async def _supervise(self) -> None:
        # The store grants "replicator" to one replica at a time and releases it when that
        # replica dies; the others check every LEADER_POLL seconds and take over.
        while True:
            try:
                leader = await asyncio.to_thread(self._store.hold_leadership, "replicator")
            except Exception:  # a database hiccup: try again, keep what runs
                log.exception("replicator.leadership_check_failed")
                leader = self.leader
            async with self._links_lock or contextlib.nullcontext():  # not amid a reconcile
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
        for peer, endpoint in self.peers().items():
            self._start_link(peer, endpoint)

    def _start_link(self, peer: str, endpoint: str) -> None:
        fed = self._config.federation
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
            policy=self._policy,
            observer=self._observer,
            tls_files=(self._config.tls_cert, self._config.tls_key),
            witness=self._witness,
        )
        self.links[peer] = link
        self._tasks[peer] = asyncio.get_running_loop().create_task(link.run(), name=f"replicate-{peer}")

    async def _stop_link(self, peer: str) -> None:
        task = self._tasks.pop(peer, None)
        self.links.pop(peer, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # stopping it
                await task

    async def restart(self) -> None:
        """Drop every session and reconnect (after an operator resumed an issuer, say)."""
        if self.leader:
            async with self._links_lock or contextlib.nullcontext():
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
