"""certs/README.md's "Adding an agency (SG-CUSTOMS, step by step)" against a running federation.

Five real gateways replicate in a full mesh. The page's shell steps run as written (a
sixth agency's CA, certificates and keys; its entry; three members sign the next directory
version); the signed version is published at one gateway, which passes it on; the new
agency's gateway starts from the same document; its flag is then screened at every other
gateway. No gateway is restarted and no file is copied to any of the five.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc, statement_pb2
from borderx.cli import main
from borderx.config import FederationConfig, load_config
from borderx.identity.devpki import init_pki
from borderx.statements.bodies import Evidence, FlagCategory
from borderx.statements.body_codec import flag_to_proto
from tests.conftest import DEV_AGENCIES, Creds, GatewayThread, channel, creds_for
from tests.integration.helpers import flag, platform
from tests.unit.test_onboarding import block, write_entry

SG = "SG-CUSTOMS"
ROOT = Path(__file__).resolve().parents[2]
FAST = {"backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.5}


def free_block(n: int) -> int:
    """A base port with ``n`` consecutive free loopback ports above it."""
    for base in range(21000, 29000, 97):
        sockets = []
        try:
            for port in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
        except OSError:
            continue
        else:
            return base
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free block of ports")


def wait(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class ListeningGateway(GatewayThread):
    """A gateway thread on its directory endpoint (partners dial what the directory says)."""

    async def _start(self):  # type: ignore[no-untyped-def]
        from borderx.server.app import build_server

        return await build_server(self.gateway, listen=self.config.listen)


def gateway(config_path: Path, store: Path) -> GatewayThread:
    config = load_config(config_path).with_overrides(store_url=f"sqlite:///{store}")
    return ListeningGateway(dataclasses.replace(config, federation=FederationConfig(**FAST)))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A folder laid out like the repository: certs/dev (a PKI on free ports), the script, the venv."""
    root = tmp_path / "repo"
    (root / "certs").mkdir(parents=True)
    shutil.copy(ROOT / "certs" / "issue-with-openssl.sh", root / "certs")
    init_pki(root / "certs" / "dev", base_port=free_block(6))
    (root / ".venv").symlink_to(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")).resolve())
    return root


@pytest.fixture
def five(repo: Path, tmp_path: Path) -> Iterator[dict[str, GatewayThread]]:
    pki = repo / "certs" / "dev"
    gws: dict[str, GatewayThread] = {}
    try:
        for agency in DEV_AGENCIES:
            gws[agency] = gateway(pki / agency / "gateway.toml", tmp_path / f"{agency.lower()}.db")
        yield gws
    finally:
        for gw in gws.values():
            gw.stop()


def sh(repo: Path, marker: str) -> str:
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block(marker)],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def screened(pki: Path, gw: GatewayThread, seller: str) -> int:
    agency = gw.config.agency
    shipment = exchange_pb2.Shipment(
        reference="p", shipper_ids=[statement_pb2.PartyId(scheme="PLATFORM", value=seller)]
    )
    with channel(gw.target, creds_for(pki, agency, "service", server_agency=agency)) as ch:
        reply = exchange_pb2_grpc.ExchangeStub(ch).Screen(
            exchange_pb2.ScreenRequest(shipments=[shipment]), timeout=10
        )
    return reply.results[0].recommendation


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the page's steps use the openssl CLI")
def test_a_sixth_agency_joins_a_running_federation_from_the_page_alone(
    repo: Path, tmp_path: Path, five: dict[str, GatewayThread]
) -> None:
    started = time.monotonic()
    pki = repo / "certs" / "dev"
    folder = repo / "certs" / "sg-customs"
    # steps 1-3: the new agency's CA, certificates and keys, as written
    printed = sh(repo, "onboarding-steps")
    # step 4: its entry, at a port of this test's block
    entry = write_entry(folder, printed)
    entry["endpoint"] = f"127.0.0.1:{int(five['US-CBP'].config.listen.rsplit(':', 1)[1]) + 5}"
    (folder / "entry.json").write_text(json.dumps(entry, indent=2))
    # step 5: three members sign the next version; the new agency's config and doctor
    out = sh(repo, "onboarding-ceremony")
    assert "ok: 0 error(s)" in out, out
    # step 6: published at one gateway, which passes it on (no file copied to the others)
    document = folder / "directory.json"
    assert main(["directory", "publish", str(document), "--pki", str(pki), "--agency", "US-CBP"]) == 0
    sg = gateway(folder / "gateway.toml", tmp_path / "sg.db")
    try:
        version = json.loads(document.read_text())["signed"]["version"]
        wait(lambda: all(gw.gateway.directory.current.version == version for gw in five.values()),
             "every member to apply the new directory")  # fmt: skip
        # the new agency flags a seller; every member screens it, none restarted
        seller = "shop:sg-counterfeiter"
        body = flag((platform("sg-counterfeiter"),), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED)
        item = exchange_pb2.PublishItem(draft=exchange_pb2.Draft(flag=flag_to_proto(body)))
        creds = Creds(
            ca=(folder / "ca.pem").read_bytes(),
            cert=(folder / "service.pem").read_bytes(),
            key=(folder / "service.key").read_bytes(),
        )
        with channel(sg.target, creds) as ch:
            exchange_pb2_grpc.ExchangeStub(ch).Publish(exchange_pb2.PublishRequest(items=[item]), timeout=10)
        for agency, gw in five.items():
            wait(lambda gw=gw: screened(pki, gw, seller) == exchange_pb2.HOLD, f"{agency} to hold SG's flag")
    finally:
        sg.stop()
    print(
        f"sixth-agency onboarding, page steps to flag screened everywhere: {time.monotonic() - started:.1f} s"
    )
