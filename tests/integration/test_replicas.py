"""Several replicas of one agency's gateway on one PostgreSQL database (real processes, real server).

- concurrent Publish through three replicas gives one gap-free chain;
- a follower on replica B sees a statement published on replica A within a second;
- the replicator runs on one replica; kill it with -9 and another takes over, nothing lost;
- ``borderx store copy`` moves a SQLite store to PostgreSQL, verifying on the way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.cli import main
from borderx.statements.body_codec import designation_to_proto
from borderx.statements.encoding import decode_header, envelope_from_proto
from borderx.statements.model import GENESIS_DIGEST
from borderx.store import open_store
from tests.conftest import channel, creds_for
from tests.federation.harness import free_port
from tests.integration.helpers import designation, platform
from tests.procs import GatewayProcess
from tests.unit.store.store_helpers import PostgresBackend

AU, NZ = "AU-ABF", "NZ-CS"


@pytest.fixture
def database() -> Iterator[PostgresBackend]:
    backend = PostgresBackend()
    yield backend
    backend.drop()


def config_for(pki: Path, agency: str, tmp: Path, name: str, *, peers: dict[str, int] | None = None) -> Path:
    text = (pki / agency / "gateway.toml").read_text()
    text = text.replace('directory = "../directory.json"', f'directory = "{pki / "directory.json"}"')
    for file in ("gateway.pem", "gateway.key", "signing.key"):
        text = text.replace(f'"{file}"', f'"{pki / agency / file}"')
    peers = peers or {}
    text += "\n[federation]\n" + f"peers = [{', '.join(repr(p).replace(chr(39), chr(34)) for p in peers)}]\n"
    text += "checkpoint_seconds = 0.2\nbackoff_initial_seconds = 0.05\nbackoff_max_seconds = 0.3\n"
    text += "[federation.endpoints]\n" + "".join(f'{p} = "127.0.0.1:{port}"\n' for p, port in peers.items())
    path = tmp / f"{name}.toml"
    path.write_text(text)
    return path


def replicas(
    pki: Path, tmp: Path, url: str, n: int, *, peers: dict[str, int] | None = None
) -> list[GatewayProcess]:
    out = []
    for i in range(n):
        config = config_for(pki, AU, tmp, f"au-{i}", peers=peers)
        out.append(
            GatewayProcess(
                config, store=url, workdir=tmp, name=f"au-{i}", listen=f"127.0.0.1:{free_port()}"
            ).start()
        )
    return out


def publish(gw: GatewayProcess, pki: Path, names: list[str]) -> list[int]:
    items = [
        exchange_pb2.PublishItem(
            draft=exchange_pb2.Draft(designation=designation_to_proto(designation(AU, (platform(n),))))
        )
        for n in names
    ]
    with channel(gw.target, creds_for(pki, AU, "service", server_agency=AU)) as ch:
        reply = exchange_pb2_grpc.ExchangeStub(ch).Publish(
            exchange_pb2.PublishRequest(items=items), timeout=30
        )
    return [envelope_from_proto(m).seq for m in reply.statements]


def stop_all(gateways: list[GatewayProcess]) -> None:
    for gw in gateways:
        if gw.proc is not None and gw.proc.poll() is None:
            gw.terminate()


def test_concurrent_publish_through_three_replicas_gives_one_chain(
    pki: Path, tmp_path: Path, database
) -> None:  # type: ignore[no-untyped-def]
    gws = replicas(pki, tmp_path, database.url, 3)
    try:
        seqs: list[int] = []
        errors: list[BaseException] = []

        def worker(gw: GatewayProcess, tag: str) -> None:
            try:
                for b in range(10):
                    seqs.extend(publish(gw, pki, [f"{tag}-{b}-{j}" for j in range(5)]))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(gw, f"r{i}")) for i, gw in enumerate(gws)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert sorted(seqs) == list(range(1, 151))  # no gaps, no duplicates across replicas
    finally:
        stop_all(gws)
    with open_store(database.url) as store:
        assert store.head(AU).seq == 150  # type: ignore[union-attr]
        prev = GENESIS_DIGEST
        for s in store.read_range(AU, 0, 200):
            assert s.envelope.header.prev_digest == prev
            prev = s.envelope.digest
        assert not store.equivocations()


def test_a_follower_on_one_replica_sees_a_publish_on_another_within_a_second(
    pki: Path, tmp_path: Path, database
) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas(pki, tmp_path, database.url, 2)
    try:
        seen: list[float] = []
        ready = threading.Event()

        def follow() -> None:
            with channel(b.target, creds_for(pki, AU, "service", server_agency=AU)) as ch:
                stream = exchange_pb2_grpc.ExchangeStub(ch).Subscribe(
                    exchange_pb2.SubscribeRequest(follow=True), timeout=20
                )
                ready.set()
                for event in stream:
                    if (
                        event.WhichOneof("event") == "statement"
                        and decode_header(event.statement.header).issuer == AU
                    ):
                        seen.append(time.monotonic())
                        return

        follower = threading.Thread(target=follow)
        follower.start()
        assert ready.wait(10)
        time.sleep(0.3)
        start = time.monotonic()
        publish(a, pki, ["cross-replica"])
        follower.join(10)
        assert seen and seen[0] - start < 1.0
    finally:
        stop_all([a, b])


def test_the_replicator_leader_fails_over(pki: Path, tmp_path: Path, database) -> None:  # type: ignore[no-untyped-def]
    nz = GatewayProcess(
        config_for(pki, NZ, tmp_path, "nz"), store=f"sqlite:///{tmp_path / 'nz.db'}", workdir=tmp_path, name="nz",
        listen=f"127.0.0.1:{free_port()}",
    ).start()  # fmt: skip
    gws = replicas(pki, tmp_path, database.url, 3, peers={NZ: nz.port})
    try:
        nz_items = lambda tag, n: [  # noqa: E731
            exchange_pb2.PublishItem(
                draft=exchange_pb2.Draft(
                    designation=designation_to_proto(designation(NZ, (platform(f"{tag}{i}"),)))
                )
            )
            for i in range(n)
        ]
        with channel(nz.target, creds_for(pki, NZ, "service", server_agency=NZ)) as ch:
            exchange_pb2_grpc.ExchangeStub(ch).Publish(
                exchange_pb2.PublishRequest(items=nz_items("a", 10)), timeout=10
            )
        store = open_store(database.url)
        wait(lambda: (store.head(NZ) or _none()).seq == 10)
        leaders = [gw for gw in gws if any(e.get("event") == "replicator.leader" for e in gw.events())]
        assert len(leaders) == 1  # exactly one replica replicates
        leaders[0].kill9()
        with channel(nz.target, creds_for(pki, NZ, "service", server_agency=NZ)) as ch:
            exchange_pb2_grpc.ExchangeStub(ch).Publish(
                exchange_pb2.PublishRequest(items=nz_items("b", 10)), timeout=10
            )
        wait(lambda: (store.head(NZ) or _none()).seq == 20, timeout=20)
        survivors = [gw for gw in gws if gw is not leaders[0]]
        assert sum(any(e.get("event") == "replicator.leader" for e in gw.events()) for gw in survivors) == 1
        assert store.count_by_issuer()[NZ] == 20
        store.close()
    finally:
        stop_all([*gws, nz])


class _none:
    seq = 0


def wait(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_store_copy_from_sqlite_to_postgresql_verifies_everything(
    pki: Path, tmp_path: Path, database, capsys
) -> None:  # type: ignore[no-untyped-def]
    sqlite_url = f"sqlite:///{tmp_path / 'au.db'}"
    gw = GatewayProcess(
        config_for(pki, AU, tmp_path, "au"), store=sqlite_url, workdir=tmp_path, name="au"
    ).start()
    try:
        publish(gw, pki, [f"c{i}" for i in range(25)])
    finally:
        gw.terminate()
    directory = str(pki / "directory.json")
    assert main(["store", "copy", "--from", sqlite_url, "--to", database.url, "--directory", directory]) == 0
    assert "copied 25 verified statements" in capsys.readouterr().out
    with open_store(sqlite_url) as src, open_store(database.url) as dst:
        assert [s.wire for s in src.read_range(AU, 0, 100)] == [s.wire for s in dst.read_range(AU, 0, 100)]
        assert dst.lookup("PLATFORM", "shop:c7")[0].envelope.seq == 8
    # copying again adds nothing; statements that do not verify against the directory are refused
    assert main(["store", "copy", "--from", sqlite_url, "--to", database.url, "--directory", directory]) == 0
    other = tmp_path / "other-pki"
    from borderx.identity.devpki import init_pki

    init_pki(other, agencies=[AU])
    assert (
        main(
            [
                "store",
                "copy",
                "--from",
                sqlite_url,
                "--to",
                f"sqlite:///{tmp_path / 'x.db'}",
                "--directory",
                str(other / "directory.json"),
            ]
        )
        != 0
    )
    assert "is not in directory" in capsys.readouterr().err  # signed by keys this directory does not list
