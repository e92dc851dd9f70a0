"""The federation harness itself: the fault-injecting proxy, config generation, process control.

Nothing here depends on replication: these tests hold whether or not gateways replicate.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc
from borderx.config import load_config
from tests.conftest import channel, creds_for
from tests.federation.conftest import FederationFactory
from tests.federation.harness import TEST_TIMINGS, _ephemeral_low, deep_merge, free_port, render_toml
from tests.federation.proxy import Mode, TcpProxy
from tests.integration.helpers import designation, platform

US, AU, NZ, CA, GB = "US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC"


# ---------------------------------------------------------------- a target to proxy to


class Target:
    """A TCP server on loopback that echoes (or only counts) what each connection sends."""

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.received = 0
        self.digest = hashlib.sha256()
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                with self.lock:
                    self.received += len(data)
                    self.digest.update(data)
                if self.echo:
                    try:
                        conn.sendall(data)
                    except OSError:
                        return

    def close(self) -> None:
        self.listener.close()
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.close()


@pytest.fixture
def proxy(target: Target) -> Iterator[TcpProxy]:
    p = TcpProxy(("127.0.0.1", target.port), name="test")
    yield p
    p.close()


def connect(p: TcpProxy) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", p.port), timeout=5)
    s.settimeout(5)
    return s


def recv_exactly(s: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError(f"closed after {len(out)} of {n} bytes")
        out += chunk
    return bytes(out)


def echoes(s: socket.socket, data: bytes = b"ping") -> bool:
    s.sendall(data)
    return recv_exactly(s, len(data)) == data


def closed_by_peer(s: socket.socket, within: float = 2.0) -> bool:
    """True when the connection is reset or at EOF within ``within`` seconds."""
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def refused(p: TcpProxy) -> bool:
    """True when a new connection through ``p`` is reset at once (during connect or right after)."""
    try:
        s = connect(p)
    except (ConnectionResetError, ConnectionRefusedError):
        return True
    with s:
        return closed_by_peer(s)


def eventually(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# ---------------------------------------------------------------- the proxy


def test_proxy_forwards_bytes_both_ways_and_counts_them(proxy: TcpProxy) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    with connect(proxy) as a, connect(proxy) as b:
        received: list[bytes] = []
        reader = threading.Thread(target=lambda: received.append(recv_exactly(a, len(payload))))
        reader.start()
        a.sendall(payload)
        reader.join(timeout=10)
        assert received == [payload]
        assert echoes(b, b"second connection")
        assert proxy.active == 2
    n = len(payload) + len(b"second connection")
    eventually(lambda: proxy.bytes_up == n and proxy.bytes_down == n)
    assert proxy.bytes_forwarded == 2 * n
    eventually(lambda: proxy.active == 0)  # closing the client closes the upstream side too


def test_cut_resets_open_connections_and_refuses_new_ones_until_restore(proxy: TcpProxy) -> None:
    with connect(proxy) as s:
        assert echoes(s)
        proxy.cut()
        assert proxy.mode is Mode.CUT and proxy.active == 0
        assert closed_by_peer(s)
    assert refused(proxy)  # the port still accepts, then resets at once
    assert proxy.refused == 1
    proxy.restore()
    with connect(proxy) as s:
        assert echoes(s)


def test_stall_holds_bytes_both_ways_without_closing_until_restore(proxy: TcpProxy, target: Target) -> None:
    with connect(proxy) as s:
        assert echoes(s)
        before = target.received
        proxy.stall()
        s.sendall(b"held")
        assert not closed_by_peer(s, within=0.3)  # open, and nothing comes back
        with connect(proxy) as late:  # a connection made during the stall is held as well
            late.sendall(b"late")
            assert not closed_by_peer(late, within=0.1)
            assert target.received == before  # nothing went upstream
            proxy.restore()
            assert recv_exactly(late, 4) == b"late"
        s.settimeout(5)
        assert recv_exactly(s, 4) == b"held"
        assert echoes(s)


def test_stall_also_holds_the_downstream_direction(target: Target) -> None:
    # the target speaks first: a stall must hold target -> client bytes too
    with TcpProxy(("127.0.0.1", target.port)) as p, connect(p) as s:
        assert echoes(s)
        p.stall()
        eventually(lambda: len(target.conns) == 1)
        target.conns[0].sendall(b"from target")
        assert not closed_by_peer(s, within=0.3)
        assert p.bytes_down == 4
        p.restore()
        s.settimeout(5)
        assert recv_exactly(s, 11) == b"from target"


def test_drop_resets_current_connections_once_and_keeps_accepting(proxy: TcpProxy) -> None:
    with connect(proxy) as s:
        assert echoes(s)
        proxy.drop()
        assert closed_by_peer(s)
    assert proxy.mode is Mode.OPEN
    with connect(proxy) as s:
        assert echoes(s)


def test_stalled_proxy_blocks_the_sender_with_bounded_buffers() -> None:
    sink = Target(echo=False)
    payload = bytes(i % 251 for i in range(1 << 20)) * 64  # 64 MiB, far beyond kernel buffers
    try:
        with TcpProxy(("127.0.0.1", sink.port), buffer_bytes=16 * 1024) as p:
            s = connect(p)
            s.sendall(b"x")
            eventually(lambda: sink.received == 1)
            p.stall()
            s.setblocking(False)
            sent, blocked_since = 1, None
            while sent < len(payload):
                try:
                    sent += s.send(payload[sent - 1 : sent - 1 + 65536])
                    blocked_since = None
                except BlockingIOError:
                    blocked_since = blocked_since or time.monotonic()
                    if time.monotonic() - blocked_since > 0.5:
                        break  # blocked for good: the stall pushed back to the sender
                    time.sleep(0.01)
            assert sent < len(payload) // 2, f"sender was never blocked ({sent} bytes sent)"
            assert 0 < p.buffered() <= p.max_buffered_per_direction
            assert sink.received == 1
            p.restore()
            s.setblocking(True)
            s.sendall(payload[sent - 1 : sent - 1 + 1000])
            total = sent + 1000
            eventually(lambda: sink.received == total, timeout=20)
            assert sink.digest.digest() == hashlib.sha256(b"x" + payload[: total - 1]).digest()
            s.close()
    finally:
        sink.close()


def test_close_stops_listening_and_resets_connections(target: Target) -> None:
    p = TcpProxy(("127.0.0.1", target.port))
    s = connect(p)
    assert echoes(s)
    p.close()
    assert closed_by_peer(s)
    s.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", p.port), timeout=2).close()
    p.close()  # idempotent


def test_unreachable_target_resets_the_client() -> None:
    with TcpProxy(("127.0.0.1", free_port())) as p:
        assert refused(p)
        eventually(lambda: p.upstream_failures == 1)


# ---------------------------------------------------------------- configuration


def test_render_toml_round_trips_and_deep_merge_merges_tables() -> None:
    doc = {
        "agency": "AU-ABF",
        "n": 3,
        "x": 0.2,
        "on": True,
        "s": 'quote " and \\ and é',
        "policy": {"recognise": {"NZ_SES": [], "CTPAT": ["CTPAT_TIER_2"]}, "flags": {"A B": {"S": "HOLD"}}},
        "federation": {"peers": ["NZ-CS"], "endpoints": {"NZ-CS": "127.0.0.1:1"}},
    }
    assert tomllib.loads(render_toml(doc)) == doc
    merged = deep_merge(doc, {"federation": {"peers": [], "heartbeat_seconds": 1}, "n": 4})
    assert merged["federation"] == {
        "peers": [],
        "endpoints": {"NZ-CS": "127.0.0.1:1"},
        "heartbeat_seconds": 1,
    }
    assert merged["n"] == 4 and doc["n"] == 3  # the base is not modified


def test_free_ports_are_below_the_ephemeral_range_and_distinct() -> None:
    ports: set[int] = set()
    for _ in range(20):
        ports.add(free_port(avoid=ports))
    assert len(ports) == 20
    low = _ephemeral_low()
    assert all(1024 <= p < low for p in ports)


def test_full_mesh_configs_load_and_name_every_peer_through_its_own_proxy(
    federation: FederationFactory, federation_pki: Path
) -> None:
    fed = federation(start=False)
    assert fed.agencies == [US, AU, NZ, CA, GB]
    assert len(fed.proxies) == 20 and len(set(fed.ports.values())) == 5
    for agency in fed.agencies:
        config = load_config(fed.configs[agency])
        reference = load_config(federation_pki / agency / "gateway.toml")
        assert config.agency == agency
        assert config.listen == f"127.0.0.1:{fed.ports[agency]}"
        assert config.directory_path == federation_pki.resolve() / "directory.json"
        assert config.store_url == f"sqlite:///{fed.workdir / (agency.lower() + '.db')}"
        assert config.tls_cert.read_bytes() == reference.tls_cert.read_bytes()
        assert config.tls_key.read_bytes() == reference.tls_key.read_bytes()
        assert (
            config.signing_key is not None
            and config.signing_key.read_bytes() == (federation_pki / agency / "signing.key").read_bytes()
        )
        assert config.policy == reference.policy and config.limits == reference.limits
        others = [a for a in fed.agencies if a != agency]
        assert config.federation.peers == tuple(others)
        assert config.federation.endpoints == {b: fed.link(agency, b).address for b in others}
        for name, value in TEST_TIMINGS.items():
            assert getattr(config.federation, name) == value
        # a proxy forwards to the peer's own listen port
        for b in others:
            assert fed.link(agency, b).target == ("127.0.0.1", fed.ports[b])
    assert len({p.port for p in fed.proxies.values()}) == 20


def test_links_proxied_false_and_extra_config(federation: FederationFactory) -> None:
    chain = federation(
        [AU, NZ, CA],
        start=False,
        links=[(AU, NZ), (NZ, CA)],
        extra_config={"limits": {"max_publish_batch": 5}, "federation": {"checkpoint_every": 7}},
        gateway_config={CA: {"federation": {"heartbeat_seconds": 9}}},
    )
    assert chain.peers == {AU: [NZ], NZ: [AU, CA], CA: [NZ]}
    assert set(chain.proxies) == {(AU, NZ), (NZ, AU), (NZ, CA), (CA, NZ)}
    with pytest.raises(KeyError, match="does not subscribe"):
        chain.link(AU, CA)
    configs = {a: load_config(chain.configs[a]) for a in chain.agencies}
    assert configs[NZ].federation.endpoints == {
        AU: chain.link(NZ, AU).address,
        CA: chain.link(NZ, CA).address,
    }
    assert all(
        c.limits.max_publish_batch == 5 and c.federation.checkpoint_every == 7 for c in configs.values()
    )
    assert configs[CA].federation.heartbeat_seconds == 9 and configs[AU].federation.heartbeat_seconds == 1
    assert configs[AU].federation.backoff_max_seconds == TEST_TIMINGS["backoff_max_seconds"]

    isolated = federation([US, AU], start=False, links=[])
    assert {a: load_config(isolated.configs[a]).federation.peers for a in isolated.agencies} == {
        US: (),
        AU: (),
    }

    direct = federation([US, AU], start=False, proxied=False)
    assert direct.proxies == {}
    assert load_config(direct.configs[US]).federation.endpoints == {AU: f"127.0.0.1:{direct.ports[AU]}"}
    with pytest.raises(RuntimeError, match="no proxies"):
        direct.cut(US, AU)

    with pytest.raises(ValueError, match="distinct members"):
        federation(["XX-NOPE"], start=False)
    with pytest.raises(ValueError, match="two different agencies"):
        federation([US, AU], start=False, links=[(US, NZ)])


def test_cut_partition_and_heal_drive_the_right_proxies(federation: FederationFactory) -> None:
    fed = federation(start=False)

    def modes() -> dict[tuple[str, str], str]:
        return {k: str(p.mode) for k, p in fed.proxies.items() if p.mode is not Mode.OPEN}

    fed.cut(AU, CA)
    assert modes() == {(AU, CA): "cut", (CA, AU): "cut"}
    fed.restore(AU, CA)
    fed.cut(AU, CA, one_way=True)  # AU stops receiving from CA; CA still subscribes to AU
    fed.stall(US, GB, one_way=True)
    assert modes() == {(AU, CA): "cut", (US, GB): "stalled"}
    fed.heal()
    fed.partition([AU, NZ], [US, CA, GB])
    assert set(modes()) == {
        (a, b) for a in fed.agencies for b in fed.agencies if (a in (AU, NZ)) != (b in (AU, NZ))
    }
    assert len(modes()) == 12
    fed.heal()
    assert modes() == {}
    with pytest.raises(ValueError, match="overlap"):
        fed.partition([AU], [AU, NZ])


# ---------------------------------------------------------------- processes


def test_five_gateways_start_answer_get_status_over_mtls_and_stop_gracefully(
    federation: FederationFactory, federation_pki: Path
) -> None:
    fed = federation()
    for agency in fed.agencies:
        assert fed.running(agency)
        status = fed.status(agency)
        assert status.agency == agency and status.federation == "border5.test"
        assert fed.gateway(agency).port == fed.ports[agency]
    # another agency's operator is authenticated by mTLS but may not administer AU-ABF
    other = creds_for(federation_pki, NZ, "operator", server_agency=AU)
    with channel(fed.gateway(AU).target, other) as ch, pytest.raises(grpc.RpcError) as refused:
        admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # gRPC over mTLS end to end through a link's proxy, and a cut link is UNAVAILABLE
    link = fed.link(NZ, AU)
    mine = creds_for(federation_pki, AU, "operator", server_agency=AU)

    def status_via_proxy() -> admin_pb2.GetStatusResponse:
        with channel(f"localhost:{link.port}", mine) as ch:
            reply: admin_pb2.GetStatusResponse = admin_pb2_grpc.AdminStub(ch).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=5
            )
        return reply

    up_before = link.bytes_up
    assert status_via_proxy().agency == AU
    assert link.bytes_up > up_before
    link.cut()
    with pytest.raises(grpc.RpcError) as cut:
        status_via_proxy()
    assert cut.value.code() == grpc.StatusCode.UNAVAILABLE
    link.restore()
    assert status_via_proxy().agency == AU
    assert fed.stop() == dict.fromkeys(fed.agencies, 0)
    assert not any(fed.running(a) for a in fed.agencies)
    assert fed.stop() == {}  # idempotent (the fixture calls it again)


def test_kill9_and_restart_keep_the_port_and_the_store(federation: FederationFactory) -> None:
    fed = federation([US, AU], links=[])  # no peers: nothing here depends on replication
    port = fed.gateway(AU).port
    bodies = [designation(AU, (platform(f"k9-{i}"),)) for i in range(3)]
    assert fed.publish(AU, bodies) == [(AU, 1), (AU, 2), (AU, 3)]
    heads = fed.heads(AU)
    assert set(heads) == {AU} and heads[AU][0] == 3
    fed.kill9(AU)
    assert not fed.running(AU)
    assert fed.heads(AU) == heads  # readable while the gateway is down
    fed.restart(AU)
    assert fed.running(AU) and fed.gateway(AU).port == port == fed.ports[AU]
    assert fed.heads(AU) == heads
    assert fed.status(AU).statement_count == 3
    assert fed.publish(AU, [designation(AU, (platform("k9-after"),))]) == [(AU, 4)]
    held = fed.statements(AU)
    assert [(i, s, has_body) for i, s, _, has_body in held] == [(AU, n, True) for n in (1, 2, 3, 4)]
    assert held[-1][2] == fed.heads(AU)[AU][1]
    assert fed.missing(AU) == []
    assert fed.missing(US) == [(AU, n) for n in (1, 2, 3, 4)]  # US-CBP has no peers
    starts = [e for e in fed.events(AU) if e.get("event") == "gateway.started"]
    assert len(starts) == 2 and all(e["port"] == port for e in starts)
    fed.restart(AU)  # a restart of a running gateway stops it gracefully first
    assert fed.gateway(AU).port == port and fed.alarms(AU) == []


def test_wait_for_and_wait_converged(federation: FederationFactory) -> None:
    fed = federation([US, AU], links=[])  # isolated: they can never converge
    fed.publish(AU, [designation(AU, (platform("wc"),))])
    assert fed.wait_for(AU, AU, 1, timeout=1) == fed.heads(AU)[AU]
    assert fed.wait_converged(timeout=1, agencies=[AU]) == fed.heads(AU)
    started = time.monotonic()
    with pytest.raises(AssertionError) as info:
        fed.wait_converged(timeout=0.3)
    assert time.monotonic() - started < 2
    table = str(info.value)
    assert "did not converge" in table
    us_row = next(line for line in table.splitlines() if line.startswith(US))
    au_row = next(line for line in table.splitlines() if line.startswith(AU))
    assert "-<" in us_row and f"1:{fed.heads(AU)[AU][1][:4].hex()}" in au_row
    with pytest.raises(AssertionError, match=f"{US} did not reach {AU} seq 1"):
        fed.wait_for(US, AU, 1, timeout=0.2)


def test_heads_through_get_status_match_the_store(federation: FederationFactory) -> None:
    fed = federation([AU], links=[])
    fed.publish(AU, [designation(AU, (platform(f"hs-{i}"),)) for i in range(2)])
    if not fed.status(AU).issuers:
        pytest.skip("Admin.GetStatus does not report issuers yet")
    from_store = fed.heads(AU)
    fed.heads_source = "status"
    assert fed.heads(AU) == from_store
