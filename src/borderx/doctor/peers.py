"""Peer checks, unless ``network=False``: ``peer.<AGENCY>`` (TCP, then TLS both ways, then
gRPC health and Subscribe with our certificate) and ``clock.<AGENCY>`` (the peer's clock
from Subscribe's initial metadata). Peers are checked at once, so one black-holed peer
costs one timeout.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509

from borderx.config import GatewayConfig
from borderx.directory.model import format_time
from borderx.doctor._base import (
    CLOCK_SKEW_ERROR,
    CLOCK_SKEW_WARNING,
    Check,
    Context,
    error,
    guarded,
    passed,
    serial,
    split_host_port,
    warning,
)

#: The Subscribe filter that matches nothing: the call only yields its initial metadata.
_NO_ISSUER = "ZZ-NONE"
#: HTTP/2 client connection preface and an empty SETTINGS frame (RFC 9113 §3.4), so a
#: gRPC server that accepted our certificate answers with its own SETTINGS.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def check_peers(ctx: Context) -> list[Check]:
    fed = ctx.config.federation
    if not fed.enabled:
        return [passed("peers", "replication is off ([federation] enabled = false); no peer checked")]
    directory = ctx.directory
    if directory is None:
        return [
            warning(
                "peers",
                "peers not checked: the directory is unusable (see above)",
                "fix the directory, then run doctor again",
            )
        ]
    if ctx.cert is None or ctx.key is None or not ctx.pair_ok:
        return [
            warning(
                "peers",
                "peers not checked: this gateway's TLS certificate or key is unusable (see above)",
                "fix [tls], then run doctor again",
            )
        ]
    checks: list[Check] = []
    targets: list[_Peer] = []
    # the same choice as Replicator.peers(): configured peers, or every other member
    names = (
        fed.peers if fed.peers is not None else tuple(a for a in directory.agencies if a != ctx.config.agency)
    )
    for peer in names:
        if peer == ctx.config.agency:
            continue
        if peer not in directory.agencies:
            checks.append(
                warning(
                    f"peer.{peer}",
                    f"[federation] peers names {peer}, which is not in directory v{directory.version}: "
                    "it is skipped",
                    f"remove {peer} from [federation] peers, or get a directory that lists it",
                )
            )
            continue
        override = fed.endpoints.get(peer)
        endpoint = override or directory.agencies[peer].endpoint
        if not endpoint:
            checks.append(
                warning(
                    f"peer.{peer}",
                    f"no endpoint for {peer} in the directory nor in [federation.endpoints]: not replicated",
                    f'add {peer} = "HOST:PORT" under [federation.endpoints]',
                )
            )
            continue
        source = "[federation.endpoints]" if override else "the directory"
        targets.append(_Peer(peer, endpoint, source, directory.agencies[peer].ca_pem))
    if not targets and not checks:
        return [passed("peers", "no peers to replicate from")]
    probe = _PeerProbe(ctx.config, cert=ctx.cert, clock=ctx.clock, timeout=ctx.timeout)
    # peers are independent: check them at once, so one black-holed peer costs one timeout
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(targets)))) as pool:
        results = list(pool.map(lambda p: guarded(p.check_name, lambda: probe.check(p)), targets))
    for result in results:
        checks += result
    return checks


@dataclass(frozen=True)
class _Peer:
    agency: str
    endpoint: str
    source: str  # where the endpoint comes from, for the fix
    ca_pem: bytes  # the peer agency's own CA: the only one trusted for it, as the replicator does

    @property
    def check_name(self) -> str:
        return f"peer.{self.agency}"

    @property
    def where(self) -> str:
        return f"{self.agency} at {self.endpoint} (from {self.source})"


class _PeerProbe:
    """Contact one peer the way the replicator does, in steps that tell the failures apart."""

    def __init__(
        self, config: GatewayConfig, *, cert: x509.Certificate, clock: Callable[[], datetime], timeout: float
    ) -> None:
        self.config = config
        self.clock = clock
        self.timeout = timeout
        self.ours = f"our certificate (serial {serial(cert)})"

    def check(self, peer: _Peer) -> list[Check]:
        host, port = split_host_port(peer.endpoint)
        # 1. TCP: unreachable and reachable-but-refusing need different fixes
        try:
            socket.create_connection((host, port), timeout=self.timeout).close()
        except OSError as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
            return [
                error(
                    peer.check_name,
                    f"peer {peer.where} is unreachable: TCP connect failed ({reason})",
                    f"check that {peer.agency}'s gateway runs at {peer.endpoint}, that the address is right "
                    f"({peer.source}), and that firewalls allow tcp/{port} from this host",
                )
            ]
        # 2. TLS, both ways: "refuses our certificate" and "presents one not from its CA"
        refused = self._tls(peer, host, port)
        if refused is not None:
            return [refused]
        # 3. gRPC with our certificate: health, Subscribe and the peer's clock
        return self._grpc(peer)

    def _refuses_fix(self, peer: _Peer) -> str:
        return (
            f"{peer.agency}'s directory must list the CA that issued our certificate for "
            f"{self.config.agency}; check tls.chain above, and that both sides use the same directory version"
        )

    def _tls(self, peer: _Peer, host: str, port: int) -> Check | None:  # noqa: PLR0911 - one return per failure, each with its fix
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_verify_locations(cadata=peer.ca_pem.decode())
        context.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        context.set_alpn_protocols(["h2"])
        name = peer.check_name
        with socket.create_connection((host, port), timeout=self.timeout) as raw:
            try:
                tls = context.wrap_socket(raw, server_hostname=host)
            except ssl.SSLCertVerificationError as exc:
                return error(
                    name,
                    f"peer {peer.where} presents a certificate not from {peer.agency}'s CA in the directory, "
                    f"or not for {host} ({exc.verify_message})",
                    f"check that {peer.source} gives {peer.agency}'s gateway (not another one), and that "
                    f"the directory has {peer.agency}'s current CA",
                )
            except TimeoutError:
                return error(
                    name,
                    f"peer {peer.where} accepted TCP but did not complete TLS within {self.timeout:g} s",
                    f"check that {peer.endpoint} is {peer.agency}'s gateway (TLS gRPC), not another service",
                )
            except OSError as exc:  # an alert (ssl.SSLError) or the connection dropped
                reason = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
                return error(
                    name,
                    f"peer {peer.where} refuses {self.ours} in the TLS handshake ({reason or exc})",
                    self._refuses_fix(peer),
                )
            with tls:
                # under TLS 1.3 the server judges our certificate after our side of the handshake
                # is done: its verdict is the first thing we read (its SETTINGS, or an alert)
                try:
                    tls.sendall(_H2_PREFACE)
                    answer = tls.recv(1)
                except TimeoutError:
                    return None  # no verdict yet: the gRPC calls tell the rest
                except OSError as exc:
                    reason = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
                    return error(
                        name,
                        f"peer {peer.where} refuses {self.ours} after the TLS handshake ({reason or exc})",
                        self._refuses_fix(peer),
                    )
        if not answer:
            return error(
                name,
                f"peer {peer.where} closed the connection after the TLS handshake: it refuses {self.ours}",
                self._refuses_fix(peer),
            )
        return None

    def _grpc(self, peer: _Peer) -> list[Check]:
        import grpc  # noqa: PLC0415 - the offline checks do not load grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

        from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc  # noqa: PLC0415
        from borderx.server.exchange import SERVER_TIME_HEADER  # noqa: PLC0415

        credentials = grpc.ssl_channel_credentials(
            root_certificates=peer.ca_pem,
            private_key=self.config.tls_key.read_bytes(),
            certificate_chain=self.config.tls_cert.read_bytes(),
        )
        with grpc.secure_channel(peer.endpoint, credentials, options=[("grpc.enable_retries", 0)]) as channel:
            try:
                health = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=self.timeout
                )
            except grpc.RpcError as exc:
                return [self._refusal(peer, "a health check", exc)]
            request = exchange_pb2.SubscribeRequest(follow=False, issuers=[_NO_ISSUER])
            sent = self.clock()
            try:
                call = exchange_pb2_grpc.ExchangeStub(channel).Subscribe(request, timeout=self.timeout)
                metadata = dict(call.initial_metadata() or ())
                received = self.clock()
                for _ in call:  # nothing matches the filter: this only reads the final status
                    pass
            except grpc.RpcError as exc:
                return [self._refusal(peer, "our Subscribe", exc)]
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
        reachable = (
            passed(peer.check_name, f"{peer.endpoint}: TLS both ways, health {status}, Subscribe allowed")
            if health.status == health_pb2.HealthCheckResponse.SERVING
            else warning(
                peer.check_name,
                f"peer {peer.where} answers but its health is {status}",
                f"ask {peer.agency}'s operators; replication resumes when it serves again",
            )
        )
        return [reachable, clock_check(peer.agency, metadata.get(SERVER_TIME_HEADER), sent, received)]

    def _refusal(self, peer: _Peer, what: str, exc: Any) -> Check:
        import grpc  # noqa: PLC0415

        code, details = exc.code(), exc.details() or ""
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return error(
                peer.check_name,
                f"peer {peer.where} refuses {what}: {code.name}: {details}",
                "the peer's message says what it expects; compare with tls.spiffe_id and tls.chain above",
            )
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return error(
                peer.check_name,
                f"peer {peer.where} did not answer {what} within {self.timeout:g} s",
                f"check {peer.agency}'s gateway health and the network path",
            )
        return error(
            peer.check_name,
            f"peer {peer.where} refuses our certificate or is unreachable: {what} failed with "
            f"{code.name}: {details}",
            self._refuses_fix(peer),
        )


def clock_check(peer: str, header: Any, sent: datetime, received: datetime) -> Check:
    """Compare the peer's clock (``header``, read between ``sent`` and ``received``) with ours."""
    name = f"clock.{peer}"
    try:
        theirs = datetime.fromisoformat(str(header))
    except ValueError:
        theirs = None
    if theirs is None or theirs.tzinfo is None:
        return warning(
            name,
            f"peer {peer} sent no usable server time ({header!r}); clock skew not measured",
            f"{peer}'s gateway may be an older borderx; ask its operators to check NTP",
        )
    # the peer read its clock somewhere between our send and receive: allow half the round trip
    middle = sent + (received - sent) / 2
    half_rtt = (received - sent).total_seconds() / 2
    skew = (theirs - middle).total_seconds()
    beyond = max(0.0, abs(skew) - half_rtt)
    direction = "ahead of" if skew > 0 else "behind"
    text = (
        f"peer {peer}'s clock ({format_time(theirs)}) is {abs(skew):.1f} s {direction} this host's "
        f"({format_time(middle)}), ±{half_rtt:.2f} s"
    )
    fix = (
        "synchronise the clocks with NTP (chrony or systemd-timesyncd) on this host and ask "
        f"{peer} to do the same: key windows, certificate validity and statement times depend on them"
    )
    if beyond > CLOCK_SKEW_ERROR:
        return error(name, f"{text}: more than {CLOCK_SKEW_ERROR:g} s", fix)
    if beyond > CLOCK_SKEW_WARNING:
        return warning(name, f"{text}: more than {CLOCK_SKEW_WARNING:g} s", fix)
    return passed(name, text)
