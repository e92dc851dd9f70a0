"""`borderx serve` as a real process: logs, graceful shutdown, crash safety, store maintenance."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest

from borderx._proto.borderx.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    statement_pb2,
)
from borderx.cli import main as cli_main
from borderx.statements.body_codec import designation_to_proto
from borderx.statements.encoding import envelope_from_proto
from borderx.statements.model import GENESIS_DIGEST
from borderx.store import open_store
from tests.conftest import channel, creds_for
from tests.integration.helpers import designation, platform
from tests.procs import GatewayProcess

AU = "AU-ABF"


def start(pki: Path, tmp_path: Path) -> GatewayProcess:
    return GatewayProcess(
        pki / AU / "gateway.toml", store=f"sqlite:///{tmp_path / 'au.db'}", workdir=tmp_path, name="au"
    ).start()


def items(prefix: str, n: int) -> list[exchange_pb2.PublishItem]:
    return [
        exchange_pb2.PublishItem(
            draft=exchange_pb2.Draft(
                designation=designation_to_proto(designation(AU, (platform(f"{prefix}-{i}"),)))
            )
        )
        for i in range(n)
    ]


def test_logs_one_event_per_rpc_and_security_events_then_stops_gracefully(pki: Path, tmp_path: Path) -> None:
    gw = start(pki, tmp_path)
    with channel(gw.target, creds_for(pki, AU, "operator", server_agency=AU)) as ch:
        admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
        # a request that does not parse still gets its rpc event (issue 11 item 1)
        with pytest.raises(grpc.RpcError) as info:
            ch.unary_unary("/borderx.v1.Admin/GetStatus")(b"\x0f", timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with (
        channel(gw.target, creds_for(pki, "NZ-CS", "operator", server_agency=AU)) as ch,
        pytest.raises(grpc.RpcError),
    ):
        admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    assert gw.terminate() == 0
    events = gw.events()
    rpcs = [e for e in events if e.get("event") == "rpc"]
    assert {(e["principal"], e["code"]) for e in rpcs} == {
        (f"spiffe://border5.test/agency/{AU}/operator/admin", "OK"),
        (f"spiffe://border5.test/agency/{AU}/operator/admin", "INVALID_ARGUMENT"),
        ("spiffe://border5.test/agency/NZ-CS/operator/admin", "PERMISSION_DENIED"),
    }
    for e in rpcs:
        assert e["method"] == "/borderx.v1.Admin/GetStatus" and e["duration_ms"] >= 0
    denied = [e for e in events if e.get("event") == "security.permission_denied"]
    assert len(denied) == 1 and "NZ-CS" in denied[0]["principal"]
    names = [e.get("event") for e in events]
    assert "gateway.started" in names and names[-1] == "gateway.stopped"
    text = gw.log.read_text()
    assert "PRIVATE KEY" not in text  # no key material in logs


def test_kill_9_during_a_long_publish_loses_and_duplicates_nothing(pki: Path, tmp_path: Path) -> None:
    acknowledged: dict[int, bytes] = {}
    for cycle in range(3):
        gw = start(pki, tmp_path)
        stop = threading.Event()
        errors: list[BaseException] = []

        def publisher(
            cycle: int = cycle,
            gw: GatewayProcess = gw,
            stop: threading.Event = stop,
            errors: list[BaseException] = errors,
        ) -> None:
            with channel(gw.target, creds_for(pki, AU, "service", server_agency=AU)) as ch:
                stub = exchange_pb2_grpc.ExchangeStub(ch)
                batch = 0
                while not stop.is_set():
                    try:
                        reply = stub.Publish(
                            exchange_pb2.PublishRequest(
                                idempotency_key=f"c{cycle}-b{batch}", items=items(f"c{cycle}b{batch}", 20)
                            ),
                            timeout=10,
                        )
                    except grpc.RpcError as exc:
                        if exc.code() != grpc.StatusCode.UNAVAILABLE:
                            errors.append(exc)
                        return
                    for m in reply.statements:
                        env = envelope_from_proto(m)
                        acknowledged[env.seq] = env.digest
                    batch += 1

        thread = threading.Thread(target=publisher)
        thread.start()
        deadline = len(acknowledged) + 100
        while len(acknowledged) < deadline and thread.is_alive():
            threading.Event().wait(0.01)
        gw.kill9()  # mid-stream: the publisher is sending batches back to back
        stop.set()
        thread.join(timeout=20)
        assert not errors, errors
    gw = start(pki, tmp_path)
    gw.terminate()
    with open_store(f"sqlite:///{tmp_path / 'au.db'}") as store:
        head = store.head(AU)
        assert head is not None
        assert store.count() == head.seq  # no duplicates: one row per seq
        prev = GENESIS_DIGEST
        for seq in range(1, head.seq + 1):
            stored = store.get(AU, seq)
            assert stored is not None, f"seq {seq} missing"
            assert stored.envelope.header.prev_digest == prev
            prev = stored.envelope.digest
            if seq in acknowledged:
                assert acknowledged[seq] == stored.envelope.digest
        assert set(acknowledged) <= set(range(1, head.seq + 1))  # every acknowledged statement survived
    assert len(acknowledged) >= 300


def test_rebuild_index_reproduces_lookups(pki: Path, tmp_path: Path) -> None:
    gw = start(pki, tmp_path)
    pid = statement_pb2.PartyId(scheme="PLATFORM", value="shop:rb-3")
    with channel(gw.target, creds_for(pki, AU, "service", server_agency=AU)) as ch:
        stub = exchange_pb2_grpc.ExchangeStub(ch)
        stub.Publish(exchange_pb2.PublishRequest(items=items("rb", 10)), timeout=10)
        before = stub.Lookup(exchange_pb2.LookupRequest(id=pid), timeout=10)
    gw.terminate()
    config = str(pki / AU / "gateway.toml")
    store_url = f"sqlite:///{tmp_path / 'au.db'}"
    assert cli_main(["store", "rebuild-index", "--config", config, "--store", store_url]) == 0
    assert cli_main(["store", "migrate", "--config", config, "--store", store_url]) == 0
    gw.start()
    with channel(gw.target, creds_for(pki, AU, "service", server_agency=AU)) as ch:
        after = exchange_pb2_grpc.ExchangeStub(ch).Lookup(exchange_pb2.LookupRequest(id=pid), timeout=10)
    gw.terminate()
    assert [e.provenance.seq for e in after.entries] == [e.provenance.seq for e in before.entries] == [4]
