"""Assemble and run one gateway: configuration → directory, store, identity → gRPC server.

``Gateway`` holds what the servicers share (configuration, the swappable directory, the
store, the authenticator). ``build_server`` wires servicers, health, reflection and the
interceptor onto a grpc.aio server bound with mutual TLS. ``serve`` runs it until SIGTERM
or SIGINT, then drains and stops; SIGHUP reloads the directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc
from borderx.config import GatewayConfig
from borderx.directory.expiry import Expiry, expiries, read_certificate
from borderx.directory.model import Directory, DirectoryHolder, home_guard
from borderx.errors import ConfigError
from borderx.federation.checkpointer import Checkpointer
from borderx.federation.directory_sync import MAX_DOCUMENTS, DirectorySync
from borderx.federation.feed import Feed
from borderx.federation.replicator import Replicator
from borderx.federation.sigcheck import SignatureChecker
from borderx.federation.witness import Witness
from borderx.identity.keyfile import check_private_key_file
from borderx.identity.verifier import PeerAuthenticator
from borderx.logging import get_logger
from borderx.publishing import Publisher
from borderx.screening.engine import Screener
from borderx.screening.index import index_effects
from borderx.screening.memindex import MemoryIndex
from borderx.server.admin import AdminServicer
from borderx.server.directory import open_directory, publish_document, reload_from_file
from borderx.server.exchange import ExchangeServicer
from borderx.server.interceptor import AuthInterceptor, HealthListenerGuard
from borderx.server.metrics import Metrics
from borderx.server.registration import GenericOnly
from borderx.server.sessions import SessionRegistry
from borderx.server.tls import ReloadableTls
from borderx.statements.intake import IntakePolicy
from borderx.statements.model import Envelope
from borderx.statements.signing import load_signing_key
from borderx.store import Store, open_store

log = get_logger("borderx.gateway")

SERVICE_NAMES = (
    exchange_pb2.DESCRIPTOR.services_by_name["Exchange"].full_name,
    admin_pb2.DESCRIPTOR.services_by_name["Admin"].full_name,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
)
GRACE_SECONDS = 5.0
#: allocations between young collections while serving (Python's default is 700). A Screen
#: batch holds a few thousand objects for a few milliseconds: at 700 each batch met several
#: young collections, whose survivors reached the old generation and brought on full
#: collections that walk every cached body and form (~90 ms each). Measured in-process on
#: the bench's batches: 3 us per shipment (15%) spent collecting at 700, ~0 at 20,000.
GC_YOUNG_THRESHOLD = 20_000


def intake_policy(config: GatewayConfig) -> IntakePolicy:
    """The admission policy of this gateway (DESIGN §8), the same for every door."""
    return IntakePolicy(
        home=config.agency,
        max_skew=timedelta(seconds=config.federation.max_clock_skew_seconds),
        indexer=index_effects,
        witness_quorum=config.federation.witness_quorum,
        witness_grace=timedelta(seconds=config.federation.witness_grace_seconds),
    )


@dataclass
class Gateway:
    """What the servicers of one gateway share."""

    config: GatewayConfig
    directory: DirectoryHolder
    store: Store
    authenticator: PeerAuthenticator
    publisher: Publisher
    screener: Screener
    feed: Feed
    checkpointer: Checkpointer | None
    replicator: Replicator
    sigcheck: SignatureChecker
    metrics: Metrics
    tls: ReloadableTls
    sessions: SessionRegistry
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_monotonic: float = field(default_factory=time.monotonic)
    directory_sync: DirectorySync | None = None

    @classmethod
    def open(cls, config: GatewayConfig) -> Gateway:
        store = open_store(config.store_url)
        try:
            return cls._assemble(config, store)
        except BaseException:
            store.close()
            raise

    @classmethod
    def _assemble(cls, config: GatewayConfig, store: Store) -> Gateway:
        holder = open_directory(config, store)
        directory = holder.current
        if config.agency not in directory.agencies:
            raise ConfigError(
                f"agency {config.agency} is not in the directory {config.directory_path} "
                f"(members: {', '.join(directory.agencies)})"
            )
        signer = None
        if config.signing_key is not None:
            check_private_key_file(config.signing_key, "[signing] key")
            signer = load_signing_key(config.signing_key)
            owned = {k.key_id for k in directory.agency(config.agency).signing_keys}
            if signer.key_id not in owned:
                raise ConfigError(
                    f"[signing] key {config.signing_key} (key id {signer.key_id[:16]}…) is not a key of "
                    f"{config.agency} in the directory; statements it signed would be refused everywhere"
                )
        holder.guard = home_guard(config.agency, signer.key_id if signer is not None else None)
        feed = Feed()
        checkpointer = (
            Checkpointer(
                agency=config.agency,
                store=store,
                signer=signer,
                every=config.federation.checkpoint_every,
                on_checkpoint=feed.notify,
            )
            if signer is not None
            else None
        )

        metrics = Metrics()

        def published(envelopes: Sequence[Envelope]) -> None:
            metrics.stored(envelopes, "published")
            feed.notify()
            if checkpointer is not None:
                checkpointer.published(envelopes)
            if checkpointer is not None and checkpointer.due():
                checkpointer.checkpoint()

        authenticator = PeerAuthenticator(holder)
        sessions = SessionRegistry(authenticator)
        # revocation, a removed member or a changed CA ends live streams, not only new calls
        holder.on_change(lambda _new: sessions.recheck())
        replicator = Replicator(
            config=config,
            store=store,
            directory=holder,
            feed=feed,
            policy=intake_policy(config),
            observer=metrics,
            # a gateway that signs also witnesses: it cosigns the partners' checkpoints it verified
            witness=(
                Witness(agency=config.agency, store=store, signer=signer, on_cosigned=feed.notify)
                if signer is not None
                else None
            ),
        )
        tls = ReloadableTls(cert=config.tls_cert, key=config.tls_key, directory=holder)
        # a version applied by PublishDirectory or from a partner brings new CAs: the next
        # handshakes must use them, as after a reload
        holder.on_change(lambda _new: _refresh_tls(tls))
        # the screening index in memory, built from the store now (not at the first Screen)
        # and kept current from the store's index change log before every Screen
        index = MemoryIndex(store)
        index.refresh()
        log.info(
            "gateway.screening_index",
            rows=len(index),
            bytes=index.nbytes(),
            seconds=round(index.build_seconds, 3),
        )
        # the home agency's own programmes are the directory's to say
        screener = Screener(
            store, config.screening_policy.with_owners(directory.programme_owners()), index=index
        )
        holder.on_change(
            lambda new: setattr(
                screener, "policy", config.screening_policy.with_owners(new.programme_owners())
            )
        )
        return cls(
            config=config,
            directory=holder,
            store=store,
            authenticator=authenticator,
            publisher=Publisher(
                agency=config.agency,
                store=store,
                directory=holder,
                signer=signer,
                policy=intake_policy(config),
                on_published=published,
                receipt_ttl=timedelta(seconds=config.limits.idempotency_ttl_seconds),
            ),
            screener=screener,
            feed=feed,
            checkpointer=checkpointer,
            replicator=replicator,
            sigcheck=SignatureChecker(store=store, directory=holder, feed=feed),
            metrics=metrics,
            tls=tls,
            sessions=sessions,
            directory_sync=DirectorySync(
                agency=config.agency,
                store=store,
                directory=holder,
                endpoints=replicator.peers,
                credentials=lambda: (config.tls_cert.read_bytes(), config.tls_key.read_bytes()),
                restart_links=replicator.restart,
                enabled=config.federation.enabled,
                max_message_bytes=config.limits.max_message_bytes,
            ),
        )

    @property
    def agency(self) -> str:
        return self.config.agency

    def expiries(self) -> tuple[Expiry, ...]:
        """This gateway's certificate (as on disk now, so a renewal shows at once) and the directory's."""
        try:
            own = read_certificate(self.config.tls_cert.read_bytes())
        except OSError:
            own = None
        return expiries(self.directory.current, own_agency=self.agency, own_certificate=own)

    def close(self) -> None:
        self.store.close()

    def reload(self) -> tuple[bool, int]:
        """Reload the directory (a newer version only) and the TLS certificate and key.

        Returns (directory changed, TLS generation). New handshakes use the new certificate
        and CA bundle; open streams keep their connections but are re-authenticated, and
        those that no longer authenticate are ended. Raises ConfigError, changing nothing,
        when the new directory is refused or the certificate cannot be read.
        """
        changed = reload_from_file(self.directory, self.store, self.agency)
        generation = self.tls.reload()
        self.sessions.recheck()
        log.info(
            "gateway.reloaded",
            directory_changed=changed,
            directory_version=self.directory.current.version,
            tls_generation=generation,
        )
        return changed, generation

    def directory_announced(self, peer: str, version: int, digest: str) -> None:
        """A partner gateway subscribed trusting ``version``/``digest``: fetch it if it is ahead."""
        if self.directory_sync is not None:
            self.directory_sync.announced(peer, version, digest)

    def directory_versions(self, after: int, have_digest: str) -> tuple[int, str, list[bytes], bytes]:
        """For Exchange.GetDirectory: (our version, digest, versions after ``after``, conflicting)."""
        current = self.directory.current
        documents: list[bytes] = []
        version = after + 1
        while version <= current.version and len(documents) < MAX_DOCUMENTS:
            stored = self.store.directory_document(version)
            if stored is None:
                break  # first configured at a later version: nothing older to pass on
            documents.append(stored.document)
            version += 1
        conflicting = b""
        if have_digest and 0 < after <= current.version:
            ours = self.store.directory_document(after)
            if ours is not None and ours.digest != have_digest:
                conflicting = ours.document
        return current.version, current.digest, documents, conflicting

    def publish_directory(self, document: bytes) -> tuple[bool, Directory, tuple[str, ...]]:
        """Verify and apply a signed directory document (Admin.PublishDirectory), as reload does."""
        return publish_document(self.directory, document)


def _refresh_tls(tls: ReloadableTls) -> None:
    try:
        tls.reload()
    except ConfigError as exc:  # the directory is in force; the old certificate keeps serving
        log.error("gateway.tls_reload_failed", reason=str(exc))  # noqa: TRY400 - the reason is the story


def _ms(seconds: float) -> int:
    """Seconds as a grpc channel-argument of milliseconds (an int32: about 24 days at most)."""
    return min(int(seconds * 1000), 2**31 - 1)


def server_options(config: GatewayConfig) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", config.limits.max_message_bytes),
        ("grpc.max_send_message_length", config.limits.max_message_bytes),
        # never share a port silently with another process (grpc's default is SO_REUSEPORT on)
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        # a connection is re-handshaken at least this often (grpc adds ±10% jitter), so new
        # TLS material and CA bundles reach every client; streams get the grace to finish
        ("grpc.max_connection_age_ms", _ms(config.limits.max_connection_age_seconds)),
        ("grpc.max_connection_age_grace_ms", _ms(config.limits.max_connection_age_grace_seconds)),
    ]


@dataclass
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    gateway: Gateway
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    health_server: grpc.aio.Server | None = None
    health_port: int = 0
    metrics_port: int = 0

    async def stop(self, grace: float = GRACE_SECONDS) -> None:
        await self.health.enter_graceful_shutdown()
        self.gateway.metrics.close()
        if self.health_server is not None:
            await self.health_server.stop(0)
        for task in self.tasks:
            task.cancel()
        await self.gateway.replicator.stop()
        await self.gateway.sigcheck.stop()
        if self.gateway.directory_sync is not None:
            await self.gateway.directory_sync.stop()
        await self.server.stop(grace)
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):  # shutting down
                await task


async def _watch_store(gateway: Gateway) -> None:
    """Wake this replica's followers when another replica sharing the database stores something."""
    while True:
        try:
            if await asyncio.to_thread(gateway.store.wait_for_change, 1.0):
                gateway.feed.notify()
        except Exception:
            log.exception("store.watch_failed", agency=gateway.agency)
            await asyncio.sleep(1.0)


async def _checkpoint_loop(gateway: Gateway) -> None:
    """Checkpoint a moved head within checkpoint_seconds, and heartbeat every heartbeat_seconds."""
    checkpointer = gateway.checkpointer
    if checkpointer is None:
        return
    fed = gateway.config.federation
    last_heartbeat = 0.0
    while True:
        now = time.monotonic()
        heartbeat = now - last_heartbeat >= fed.heartbeat_seconds
        try:
            made = await asyncio.to_thread(checkpointer.checkpoint, heartbeat=heartbeat)
            if heartbeat and made is not None:
                last_heartbeat = now
        except Exception:
            log.exception("checkpoint.failed", agency=gateway.agency)
        await asyncio.sleep(fed.checkpoint_seconds)


async def build_server(gateway: Gateway, *, listen: str | None = None) -> RunningServer:
    """Build, bind and start the server; returns it with the bound port (listen may end in :0)."""
    server = grpc.aio.server(
        interceptors=[
            AuthInterceptor(
                gateway.authenticator,
                home_agency=gateway.agency,
                metrics=gateway.metrics,
                sessions=gateway.sessions,
            )
        ],
        options=server_options(gateway.config),
    )
    # generic handlers only: each registered method costs the server loop on every call
    # (server/registration.py)
    services = GenericOnly(server)
    exchange_pb2_grpc.add_ExchangeServicer_to_server(ExchangeServicer(gateway), services)
    admin_pb2_grpc.add_AdminServicer_to_server(AdminServicer(gateway), services)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, services)
    # the asyncio servicer, named: enable_server_reflection picks it only for a grpc.aio.Server
    reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
        reflection.aio.ReflectionServicer((*SERVICE_NAMES, reflection.SERVICE_NAME)), services
    )
    address = listen or gateway.config.listen
    try:
        port = server.add_secure_port(address, gateway.tls.credentials())
    except RuntimeError as exc:
        raise ConfigError(f"cannot listen on {address}: {exc}") from exc
    if port == 0:
        raise ConfigError(f"cannot listen on {address}: the address is in use or not local")
    await server.start()
    gateway.feed.bind(asyncio.get_running_loop())
    gateway.sessions.bind(asyncio.get_running_loop())
    running = RunningServer(server=server, port=port, health=health_servicer, gateway=gateway)
    obs = gateway.config.observability
    if obs.health_listen:
        # Kubernetes' gRPC probes cannot present a client certificate: a plaintext listener
        # that serves the health service and nothing else
        running.health_server = grpc.aio.server(
            interceptors=[HealthListenerGuard(metrics=gateway.metrics)], options=[("grpc.so_reuseport", 0)]
        )
        health_pb2_grpc.add_HealthServicer_to_server(health_servicer, GenericOnly(running.health_server))
        running.health_port = running.health_server.add_insecure_port(obs.health_listen)
        if running.health_port == 0:
            raise ConfigError(f"[observability] health_listen {obs.health_listen}: cannot listen there")
        await running.health_server.start()
    if obs.metrics_listen:
        gateway.metrics.attach(gateway)
        try:
            running.metrics_port = gateway.metrics.serve(obs.metrics_listen)
        except OSError as exc:
            raise ConfigError(f"[observability] metrics_listen {obs.metrics_listen}: {exc.strerror}") from exc
    loop = asyncio.get_running_loop()
    running.tasks.append(loop.create_task(_checkpoint_loop(gateway), name="checkpoints"))
    if gateway.store.shared:
        running.tasks.append(loop.create_task(_watch_store(gateway), name="store-changes"))
    gateway.replicator.start()
    gateway.sigcheck.start()
    if gateway.directory_sync is not None:
        gateway.directory_sync.bind(loop)
    for name in ("", *SERVICE_NAMES):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return running


async def serve(config: GatewayConfig, *, ready: Any = None) -> None:
    """Run a gateway until SIGTERM/SIGINT. ``ready(port)`` is called once it listens."""
    gateway = Gateway.open(config)
    # what start-up built (the screening index, the directory, the store's caches) lives as
    # long as the process: out of the collector's full passes, which would otherwise walk
    # it all again and again while Screen batches come and go (issue #13)
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    running = await build_server(gateway)
    log.info(
        "gateway.started",
        agency=gateway.agency,
        listen=config.listen,
        port=running.port,
        federation=gateway.directory.current.federation,
        directory_version=gateway.directory.current.version,
        store=gateway.store.location,
    )
    if ready is not None:
        ready(running.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: _reload(gateway))
    try:
        await stop.wait()
    finally:
        log.info("gateway.stopping", agency=gateway.agency, grace_seconds=GRACE_SECONDS)
        await running.stop()
        gateway.close()
        log.info("gateway.stopped", agency=gateway.agency)


def _reload(gateway: Gateway) -> None:
    try:
        gateway.reload()
    except ConfigError as exc:
        log.error("gateway.reload_refused", reason=str(exc))  # noqa: TRY400 - the reason is the whole story
