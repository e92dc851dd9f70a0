"""``borderx doctor`` against a real peer gateway: reachability, both kinds of TLS refusal, the
peer's own refusal message, Subscribe authorisation and clock skew.

One AU-ABF gateway (in-process, mutual TLS, port 0) serves the module; each test runs doctor
for US-CBP from a private copy of the dev PKI, pointing ``[federation.endpoints]`` wherever
the case needs.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from borderx import doctor
from borderx.cli import commands, doctor_cmd, main
from borderx.doctor import Check, run_checks
from borderx.identity.devpki import (
    CertificateAuthority,
    init_pki,
    issue_certificate,
    make_ca,
    pem_cert,
    pem_key,
    spiffe_id,
)
from tests.conftest import GatewayThread, gateway_config

FED = "border5.test"
US, AU = "US-CBP", "AU-ABF"


@pytest.fixture(scope="module")
def au_gateway(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayThread]:
    gw = GatewayThread(gateway_config(pki, AU, tmp_path_factory.mktemp("au")))
    yield gw
    gw.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def copy_pki(source: Path, tmp: Path) -> Path:
    root = tmp / "pki"
    shutil.copytree(source, root)
    return root


def write_config(root: Path, tmp: Path, *, au_endpoint: str) -> Path:
    """A config for US-CBP in ``root`` that replicates from AU-ABF only, at ``au_endpoint``."""
    config = root / US / "doctor.toml"
    config.write_text(
        f'agency = "{US}"\nlisten = "127.0.0.1:50051"\ndirectory = "../directory.json"\n'
        f'store = "sqlite:///{tmp / "us-cbp.db"}"\n\n'
        '[tls]\ncert = "gateway.pem"\nkey = "gateway.key"\n\n[signing]\nkey = "signing.key"\n\n'
        f'[federation]\npeers = ["{AU}"]\n[federation.endpoints]\n{AU} = "{au_endpoint}"\n'
    )
    return config


def ca_of(root: Path, agency: str) -> CertificateAuthority:
    cert = x509.load_pem_x509_certificate((root / agency / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((root / agency / "ca.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return CertificateAuthority(cert, key)


def install_gateway_cert(root: Path, ca: CertificateAuthority, *, uri: str | None = None) -> None:
    cert, key = issue_certificate(
        ca,
        common_name=f"{US} gateway",
        uris=[uri or spiffe_id(FED, US, "gateway")],
        dns_names=["localhost"],
        ip_addresses=["127.0.0.1"],
        server=True,
    )
    (root / US / "gateway.pem").write_bytes(pem_cert(cert))
    (root / US / "gateway.key").write_bytes(pem_key(key))


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """``borderx.cli.main``, with the doctor command registered even before commands.py lists it."""
    if doctor_cmd not in commands.MODULES:
        monkeypatch.setattr(commands, "MODULES", [*commands.MODULES, doctor_cmd])
    return main


@pytest.fixture
def us_root(pki: Path, tmp_path: Path) -> Path:
    return copy_pki(pki, tmp_path)


def test_healthy_config_with_a_running_peer_exits_0(
    us_root: Path,
    tmp_path: Path,
    au_gateway: GatewayThread,
    cli: Callable[..., int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(us_root, tmp_path, au_endpoint=f"127.0.0.1:{au_gateway.port}")
    assert cli(["doctor", "--config", str(config), "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["errors"] == 0 and data["warnings"] == 0, data
    results = {r["name"]: r for r in data["results"]}
    assert results["peer.AU-ABF"]["status"] == "OK"
    assert "TLS both ways, health SERVING, Subscribe allowed" in results["peer.AU-ABF"]["detail"]
    assert results["clock.AU-ABF"]["status"] == "OK"
    assert "clock" in results["clock.AU-ABF"]["detail"]


def test_peer_unreachable(us_root: Path, tmp_path: Path) -> None:
    port = closed_port()
    config = write_config(us_root, tmp_path, au_endpoint=f"127.0.0.1:{port}")
    check = by_name(run_checks(config))["peer.AU-ABF"]
    assert check.status == "FAIL"
    assert f"peer AU-ABF at 127.0.0.1:{port} (from [federation.endpoints]) is unreachable" in check.problem
    assert "Connection refused" in check.problem
    assert f"tcp/{port}" in check.fix
    assert "clock.AU-ABF" not in by_name(run_checks(config))


def test_peer_refuses_our_certificate(us_root: Path, tmp_path: Path, au_gateway: GatewayThread) -> None:
    # our gateway certificate comes from a CA the federation has never heard of
    install_gateway_cert(us_root, make_ca("rogue CA"))
    config = write_config(us_root, tmp_path, au_endpoint=f"127.0.0.1:{au_gateway.port}")
    checks = by_name(run_checks(config))
    assert checks["tls.chain"].status == "FAIL"  # found offline too
    check = checks["peer.AU-ABF"]
    assert check.status == "FAIL"
    assert "refuses our certificate (serial" in check.problem
    assert "AU-ABF's directory must list the CA that issued our certificate" in check.fix


def test_peer_presents_a_certificate_not_from_its_ca(
    tmp_path: Path, au_gateway: GatewayThread, cli: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    # a whole other federation's PKI: the gateway at the endpoint is not "our" AU-ABF
    other = tmp_path / "other"
    init_pki(other)
    config = write_config(other, tmp_path, au_endpoint=f"127.0.0.1:{au_gateway.port}")
    assert cli(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  peer.AU-ABF" in out
    assert "presents a certificate not from AU-ABF's CA in the directory" in out
    assert "fix: check that [federation.endpoints] gives AU-ABF's gateway" in out


def test_peer_names_its_reason_for_refusing(us_root: Path, tmp_path: Path, au_gateway: GatewayThread) -> None:
    # issued by another member's CA: TLS accepts it (every member CA is in the bundle), the
    # peer's authenticator does not, and doctor shows the peer's own message
    install_gateway_cert(us_root, ca_of(us_root, "NZ-CS"))
    config = write_config(us_root, tmp_path, au_endpoint=f"127.0.0.1:{au_gateway.port}")
    check = by_name(run_checks(config))["peer.AU-ABF"]
    assert check.status == "FAIL"
    assert "refuses a health check: UNAUTHENTICATED:" in check.problem
    assert "must chain to US-CBP's own CA" in check.problem


def test_peer_refuses_subscribe_to_a_non_gateway(
    us_root: Path, tmp_path: Path, au_gateway: GatewayThread
) -> None:
    for suffix in ("pem", "key"):
        shutil.copy(us_root / US / f"operator.{suffix}", us_root / US / f"gateway.{suffix}")
    config = write_config(us_root, tmp_path, au_endpoint=f"127.0.0.1:{au_gateway.port}")
    checks = by_name(run_checks(config))
    assert checks["tls.spiffe_id"].status == "FAIL"
    assert checks["peer.AU-ABF"].status == "FAIL"
    assert "refuses our Subscribe: PERMISSION_DENIED:" in checks["peer.AU-ABF"].problem


@pytest.mark.parametrize(
    ("offset", "status"), [(timedelta(minutes=10), "FAIL"), (timedelta(seconds=-90), "WARN")]
)
def test_clock_skew(
    us_root: Path, tmp_path: Path, au_gateway: GatewayThread, offset: timedelta, status: str
) -> None:
    config = write_config(us_root, tmp_path, au_endpoint=f"127.0.0.1:{au_gateway.port}")
    checks = by_name(run_checks(config, now=datetime.now(UTC) + offset))
    assert checks["peer.AU-ABF"].ok
    check = checks["clock.AU-ABF"]
    assert check.status == status
    # our clock is shifted by ``offset``: the peer's reads that far the other way
    direction = "behind" if offset > timedelta(0) else "ahead of"
    match = re.search(rf"is (\d+\.\d) s {direction} this host's", check.problem)
    assert match, check.problem
    assert abs(float(match.group(1)) - abs(offset.total_seconds())) < 5
    assert "NTP" in check.fix


def test_clock_skew_through_the_cli(
    us_root: Path,
    tmp_path: Path,
    au_gateway: GatewayThread,
    cli: Callable[..., int],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = write_config(us_root, tmp_path, au_endpoint=f"127.0.0.1:{au_gateway.port}")
    monkeypatch.setattr(doctor, "utcnow", lambda: datetime.now(UTC) - timedelta(minutes=10))
    assert cli(["doctor", "--config", str(config)]) == 1
    out = capsys.readouterr().out
    assert "FAIL  clock.AU-ABF" in out
    assert "ahead of this host's" in out and "more than 300 s" in out


def test_no_network_contacts_no_peer(us_root: Path, tmp_path: Path) -> None:
    config = write_config(us_root, tmp_path, au_endpoint=f"127.0.0.1:{closed_port()}")
    names = [c.name for c in run_checks(config, network=False)]
    assert not [n for n in names if n.startswith(("peer", "clock"))]
