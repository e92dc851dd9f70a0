"""``borderx doctor`` offline: one test per misconfiguration it claims to find, on real files.

Each test copies the session's dev PKI into its own folder, breaks one thing, and runs the
checks with ``network=False`` (the peer checks are in tests/integration/test_doctor_network.py).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx import doctor
from borderx.cli import commands, doctor_cmd, main
from borderx.doctor import Check, run_checks
from borderx.identity.devpki import (
    CertificateAuthority,
    issue_certificate,
    make_ca,
    pem_cert,
    pem_key,
    spiffe_id,
)
from borderx.statements.signing import Signer
from borderx.store import open_store

FED = "border5.test"
US = "US-CBP"
PG_URL = os.environ.get("BORDERX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class Setup:
    """A private copy of the dev PKI and a doctor-ready config for US-CBP in it."""

    root: Path
    config: Path

    @property
    def folder(self) -> Path:
        return self.root / US

    def write_config(
        self, *, store: str | None = None, listen: str = "127.0.0.1:50051", extra: str = ""
    ) -> None:
        store = store or f"sqlite:///{self.root.parent / 'store' / 'us-cbp.db'}"
        self.config.write_text(
            f'agency = "{US}"\nlisten = "{listen}"\ndirectory = "../directory.json"\nstore = "{store}"\n\n'
            '[tls]\ncert = "gateway.pem"\nkey = "gateway.key"\n\n[signing]\nkey = "signing.key"\n\n'
            f"[federation]\nenabled = false\n{extra}"
        )

    def ca(self, agency: str = US) -> CertificateAuthority:
        cert = x509.load_pem_x509_certificate((self.root / agency / "ca.pem").read_bytes())
        key = serialization.load_pem_private_key((self.root / agency / "ca.key").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return CertificateAuthority(cert, key)

    def install_gateway_cert(
        self,
        ca: CertificateAuthority,
        *,
        uri: str | None = None,
        server: bool = True,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
    ) -> x509.Certificate:
        cert, key = issue_certificate(
            ca,
            common_name=f"{US} gateway",
            uris=[uri or spiffe_id(FED, US, "gateway")],
            dns_names=["localhost"],
            ip_addresses=["127.0.0.1"],
            server=server,
            client=True,
            not_before=not_before,
            not_after=not_after,
        )
        (self.folder / "gateway.pem").write_bytes(pem_cert(cert))
        (self.folder / "gateway.key").write_bytes(pem_key(key))
        return cert

    def add_ca(self, *, since: timedelta) -> CertificateAuthority:
        """A second CA for US-CBP, valid since ``since`` ago, listed in the directory (as in a CA rollover)."""
        ca = make_ca("US-CBP older CA", now=datetime.now(UTC) - since)
        doc = self.directory_doc()
        agencies = doc["agencies"]
        assert isinstance(agencies, list)
        next(a for a in agencies if a["id"] == US)["ca_certificates"].append(pem_cert(ca.cert).decode())
        self.write_directory(doc)
        return ca

    def directory_doc(self) -> dict[str, object]:
        """The ``signed`` part of the directory (edits keep the old signatures, now invalid)."""
        doc: dict[str, object] = json.loads((self.root / "directory.json").read_text())["signed"]
        return doc

    def write_directory(self, doc: dict[str, object]) -> None:
        old = json.loads((self.root / "directory.json").read_text())
        (self.root / "directory.json").write_text(
            json.dumps({"signed": doc, "signatures": old["signatures"]})
        )

    def run(self, **kwargs: object) -> dict[str, Check]:
        checks = run_checks(self.config, network=False, **kwargs)  # type: ignore[arg-type]
        by_name = {c.name: c for c in checks}
        assert len(by_name) == len(checks), [c.name for c in checks]
        return by_name


@pytest.fixture
def setup(pki: Path, tmp_path: Path) -> Setup:
    root = tmp_path / "pki"
    shutil.copytree(pki, root)
    (tmp_path / "store").mkdir()
    s = Setup(root, root / US / "doctor.toml")
    s.write_config()
    return s


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Callable[..., int]:
    """``borderx.cli.main``, with the doctor command registered even before commands.py lists it."""
    if doctor_cmd not in commands.MODULES:
        monkeypatch.setattr(commands, "MODULES", [*commands.MODULES, doctor_cmd])
    return main


def failures(checks: dict[str, Check]) -> dict[str, str]:
    return {name: c.status for name, c in checks.items() if not c.ok}


# ---------------------------------------------------------------- the healthy baseline


def test_a_healthy_config_passes_every_offline_check(setup: Setup) -> None:
    checks = setup.run()
    assert failures(checks) == {}
    assert list(checks)[:4] == ["config", "tls.key", "tls.certificate", "tls.key_match"]
    assert {
        "tls.spiffe_id",
        "tls.chain",
        "tls.expiry",
        "tls.server_auth",
        "tls.hostnames",
        "signing.key",
        "store",
    } <= set(checks)
    assert "peers" not in checks  # network=False contacts no one
    assert checks["tls.spiffe_id"].detail == f"spiffe://{FED}/agency/{US}/gateway"


# ---------------------------------------------------------------- config


def test_unreadable_config_is_the_only_check(tmp_path: Path) -> None:
    checks = run_checks(tmp_path / "missing.toml", network=False)
    assert [(c.name, c.status) for c in checks] == [("config", "FAIL")]
    assert "cannot read it (No such file or directory)" in checks[0].problem


def test_invalid_config_exits_2_with_the_config_error(
    setup: Setup, cli: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    setup.config.write_text('agency = "US-CBP"\nlisten = "nowhere"\n')
    assert cli(["doctor", "--config", str(setup.config), "--no-network"]) == 2
    captured = capsys.readouterr()
    assert "FAIL  config" in captured.out
    assert "'nowhere' is not HOST:PORT" in captured.err


# ---------------------------------------------------------------- TLS key and certificate files


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        ("folder", "cannot read it (Is a directory)"),
        ("missing", "cannot read it (No such file or directory)"),
    ],
)
def test_unreadable_key(setup: Setup, breakage: str, message: str) -> None:
    key = setup.folder / "gateway.key"
    key.unlink()
    if breakage == "folder":
        key.mkdir()  # unreadable for root too, unlike chmod 000
    checks = setup.run()
    assert checks["tls.key"].status == "FAIL"
    assert f"TLS key {key}: {message}" in checks["tls.key"].problem
    assert "tls.key_match" not in checks  # nothing to compare


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a key at all\n", "holds no PEM private key"),
        ("certificate", "holds a certificate, not a private key"),
    ],
)
def test_key_that_is_not_a_key(setup: Setup, content: bytes | str, message: str) -> None:
    key = setup.folder / "gateway.key"
    data = (setup.folder / "gateway.pem").read_bytes() if content == "certificate" else content
    assert isinstance(data, bytes)
    key.write_bytes(data)
    checks = setup.run()
    assert checks["tls.key"].status == "FAIL"
    assert f"TLS key {key} {message}" in checks["tls.key"].problem


def test_encrypted_key(setup: Setup) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (setup.folder / "gateway.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    assert "is encrypted" in setup.run()["tls.key"].problem


def test_unreadable_certificate(setup: Setup) -> None:
    (setup.folder / "gateway.pem").write_bytes(b"-----BEGIN NOTHING-----\n")
    checks = setup.run()
    assert checks["tls.certificate"].status == "FAIL"
    assert "holds no PEM certificate" in checks["tls.certificate"].problem


def test_certificate_not_matching_its_key(setup: Setup) -> None:
    shutil.copy(setup.root / "AU-ABF" / "gateway.key", setup.folder / "gateway.key")
    cert = x509.load_pem_x509_certificate((setup.folder / "gateway.pem").read_bytes())
    check = setup.run()["tls.key_match"]
    assert check.status == "FAIL"
    assert f"(serial {format(cert.serial_number, 'x')}) does not match key" in check.problem
    assert "reissue the certificate" in check.fix


# ---------------------------------------------------------------- the certificate against the directory


def test_certificate_from_another_members_ca(setup: Setup) -> None:
    setup.install_gateway_cert(setup.ca("NZ-CS"))
    checks = setup.run()
    assert checks["tls.spiffe_id"].ok  # the ID is right: only the issuer is wrong
    assert checks["tls.chain"].status == "FAIL"
    assert "must chain to US-CBP's own CA" in checks["tls.chain"].problem
    assert "CN=US-CBP borderx CA" in checks["tls.chain"].fix
    assert "CN=NZ-CS borderx CA" in checks["tls.chain"].fix


def test_certificate_from_a_ca_outside_the_directory(setup: Setup) -> None:
    setup.install_gateway_cert(make_ca("rogue CA"))
    check = setup.run()["tls.chain"]
    assert check.status == "FAIL"
    assert "not valid for US-CBP" in check.problem


def test_operator_id_on_the_gateway_certificate(setup: Setup) -> None:
    for suffix in ("pem", "key"):
        shutil.copy(setup.folder / f"operator.{suffix}", setup.folder / f"gateway.{suffix}")
    checks = setup.run()
    assert checks["tls.spiffe_id"].status == "FAIL"
    assert f"is spiffe://{FED}/agency/US-CBP/operator/admin" in checks["tls.spiffe_id"].problem
    assert "role 'operator'" in checks["tls.spiffe_id"].problem
    assert f"spiffe://{FED}/agency/US-CBP/gateway" in checks["tls.spiffe_id"].fix
    # the operator certificate allows client auth only, and names no host
    assert checks["tls.server_auth"].status == "FAIL"
    assert "does not allow server auth (extended key usage: clientAuth)" in checks["tls.server_auth"].problem
    assert checks["tls.hostnames"].status == "WARN"


def test_wrong_trust_domain(setup: Setup) -> None:
    setup.install_gateway_cert(setup.ca(), uri=spiffe_id("other.test", US, "gateway"))
    checks = setup.run()
    assert checks["tls.spiffe_id"].status == "FAIL"
    assert "trust domain 'other.test' is not 'border5.test'" in checks["tls.spiffe_id"].problem
    assert checks["tls.chain"].ok  # still told apart: the chain itself is right


def test_another_agencys_gateway_id(setup: Setup) -> None:
    setup.install_gateway_cert(setup.ca(), uri=spiffe_id(FED, "AU-ABF", "gateway"))
    check = setup.run()["tls.spiffe_id"]
    assert check.status == "FAIL"
    assert f"is spiffe://{FED}/agency/AU-ABF/gateway; this gateway must present" in check.problem


def test_revoked_certificate(setup: Setup) -> None:
    cert = x509.load_pem_x509_certificate((setup.folder / "gateway.pem").read_bytes())
    doc = setup.directory_doc()
    agencies = doc["agencies"]
    assert isinstance(agencies, list)
    next(a for a in agencies if a["id"] == US)["revoked_serials"] = [format(cert.serial_number, "x")]
    setup.write_directory(doc)
    check = setup.run()["tls.chain"]
    assert check.status == "FAIL"
    assert f"(serial {format(cert.serial_number, 'x')}) is revoked by US-CBP" in check.problem


def test_certificate_without_server_auth(setup: Setup) -> None:
    setup.install_gateway_cert(setup.ca(), server=False)
    check = setup.run()["tls.server_auth"]
    assert check.status == "FAIL"
    assert "serverAuth and clientAuth" in check.fix


def test_listen_host_not_in_the_certificate(setup: Setup) -> None:
    setup.write_config(listen="10.1.2.3:50051")
    checks = setup.run()
    assert checks["tls.hostnames"].status == "WARN"
    assert "names localhost, 127.0.0.1, not 10.1.2.3" in checks["tls.hostnames"].problem
    assert checks["directory.endpoint"].status == "WARN"  # the directory says 127.0.0.1:50051


def test_wildcard_listen_checks_the_directory_endpoint_only(setup: Setup) -> None:
    setup.write_config(listen="0.0.0.0:50051")
    checks = setup.run()
    assert checks["tls.hostnames"].ok, checks["tls.hostnames"]
    assert checks["directory.endpoint"].ok


def test_san_matching() -> None:
    cert, _ = issue_certificate(
        make_ca("x"), common_name="x", dns_names=["*.gw.example.org", "a.example.org"], ip_addresses=["::1"]
    )
    assert doctor.san_covers(cert, "b.gw.example.org")
    assert doctor.san_covers(cert, "A.Example.Org.")
    assert doctor.san_covers(cert, "::1")
    assert not doctor.san_covers(cert, "x.b.gw.example.org")  # a wildcard is one label
    assert not doctor.san_covers(cert, "gw.example.org")
    assert not doctor.san_covers(cert, "127.0.0.1")


# ---------------------------------------------------------------- expiry


def test_certificate_expiring_within_30_days_is_a_warning(
    setup: Setup, cli: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    ends = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    setup.install_gateway_cert(setup.ca(), not_after=ends)
    check = setup.run()["tls.expiry"]
    assert check.status == "WARN"
    assert f"expires {ends:%Y-%m-%dT%H:%M:%SZ}, in 10 days" in check.problem
    # warnings alone do not fail the command
    assert cli(["doctor", "--config", str(setup.config), "--no-network"]) == 0
    assert "WARN  tls.expiry" in capsys.readouterr().out


def test_expired_certificate_is_an_error(setup: Setup) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    ca = setup.add_ca(since=timedelta(days=100))
    setup.install_gateway_cert(ca, not_before=now - timedelta(days=40), not_after=now - timedelta(days=3))
    checks = setup.run()
    assert checks["tls.expiry"].status == "FAIL"
    assert f"expired {now - timedelta(days=3):%Y-%m-%dT%H:%M:%SZ}, 3 days ago" in checks["tls.expiry"].problem
    assert "SIGHUP" in checks["tls.expiry"].fix
    assert checks["tls.chain"].ok  # the chain is judged inside the validity window, the date is reported once


def test_certificate_not_valid_yet(setup: Setup) -> None:
    now = datetime.now(UTC)
    setup.install_gateway_cert(setup.ca(), not_before=now + timedelta(days=2))
    assert "is not valid until" in setup.run()["tls.expiry"].problem


# ---------------------------------------------------------------- directory


def test_directory_not_json(setup: Setup) -> None:
    (setup.root / "directory.json").write_text("{ not json")
    checks = setup.run()
    assert checks["directory"].status == "FAIL"
    assert (
        "directory invalid:" in checks["directory"].problem
        and "not valid JSON" in checks["directory"].problem
    )
    # what needs the directory is not judged; the rest still is
    assert "tls.chain" not in checks and "tls.spiffe_id" not in checks
    assert checks["tls.key_match"].ok and checks["store"].ok


def test_directory_signatures(setup: Setup) -> None:
    check = setup.run()["directory.signatures"]
    assert check.ok and "signed by 5 of 5 agencies (threshold 3)" in check.detail
    doc = setup.directory_doc()
    doc["version"] = 2  # an edit nobody signed
    setup.write_directory(doc)
    check = setup.run()["directory.signatures"]
    assert check.status == "FAIL"
    assert "directory v2 would be refused: " in check.problem and "does not verify" in check.problem


def test_directory_expiring_soon_is_a_warning(setup: Setup) -> None:
    later = datetime.now(UTC) + timedelta(days=350)  # the dev directory lives 365 days
    check = setup.run(now=later)["directory.signatures"]
    assert check.status == "WARN" and "an expired directory is refused at start" in check.problem


def test_directory_failing_validation(setup: Setup) -> None:
    doc = setup.directory_doc()
    doc["agencies"] = []
    setup.write_directory(doc)
    assert "agencies must be a non-empty list" in setup.run()["directory"].problem


def test_stale_directory_is_a_warning(setup: Setup) -> None:
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=120)
    doc = setup.directory_doc()
    doc["issued_at"] = issued.strftime("%Y-%m-%dT%H:%M:%SZ")
    setup.write_directory(doc)
    checks = setup.run()
    assert checks["directory"].ok
    check = checks["directory.freshness"]
    assert check.status == "WARN"
    assert f"was issued {issued:%Y-%m-%dT%H:%M:%SZ}, 120 days ago (stale after 90 days)" in check.problem
    assert timedelta(days=90) == doctor.DIRECTORY_STALE_AFTER


def test_agency_missing_from_the_directory(setup: Setup) -> None:
    doc = setup.directory_doc()
    agencies = doc["agencies"]
    assert isinstance(agencies, list)
    doc["agencies"] = [a for a in agencies if a["id"] != US]
    setup.write_directory(doc)
    check = setup.run()["directory"]
    assert check.status == "FAIL"
    assert "agency US-CBP is not in directory" in check.problem


def test_endpoint_differing_from_listen(setup: Setup) -> None:
    setup.write_config(listen="127.0.0.1:6000")
    check = setup.run()["directory.endpoint"]
    assert check.status == "WARN"
    assert "lists US-CBP at 127.0.0.1:50051, but this gateway listens on 127.0.0.1:6000" in check.problem


# ---------------------------------------------------------------- signing key


def test_signing_key_not_in_the_directory(setup: Setup) -> None:
    key = Ed25519PrivateKey.generate()
    (setup.folder / "signing.key").write_bytes(pem_key(key))
    kid = Signer(key).key_id
    check = setup.run()["signing.key"]
    assert check.status == "FAIL"
    assert f"(key id {kid}) is not in directory v1" in check.problem
    assert f"have key id {kid} registered for US-CBP" in check.fix


def test_signing_key_of_another_agency(setup: Setup) -> None:
    shutil.copy(setup.root / "NZ-CS" / "signing.key", setup.folder / "signing.key")
    assert "is listed for NZ-CS, not US-CBP" in setup.run()["signing.key"].problem


def test_signing_key_not_ed25519(setup: Setup) -> None:
    shutil.copy(setup.folder / "gateway.key", setup.folder / "signing.key")
    assert (
        "holds an EC secp256r1 key; statement signing keys must be Ed25519"
        in setup.run()["signing.key"].problem
    )


def test_revoked_signing_key(setup: Setup) -> None:
    doc = setup.directory_doc()
    agencies = doc["agencies"]
    assert isinstance(agencies, list)
    next(a for a in agencies if a["id"] == US)["signing_keys"][0]["status"] = "revoked"
    setup.write_directory(doc)
    check = setup.run()["signing.key"]
    assert check.status == "FAIL"
    assert "is revoked in the directory (valid " in check.problem


def test_expired_signing_key_gives_its_window(setup: Setup) -> None:
    doc = setup.directory_doc()
    agencies = doc["agencies"]
    assert isinstance(agencies, list)
    key = next(a for a in agencies if a["id"] == US)["signing_keys"][0]
    later = datetime.now(UTC) + timedelta(days=800)  # the dev keys live 730 days
    check = setup.run(now=later)["signing.key"]
    assert check.status == "FAIL"
    assert f"expired: valid {key['valid_from']} to {key['valid_until']}; now is " in check.problem


def test_signing_key_expiring_soon(setup: Setup) -> None:
    soon = datetime.now(UTC) + timedelta(days=720)
    assert setup.run(now=soon)["signing.key"].status == "WARN"


# ---------------------------------------------------------------- store


def test_store_under_a_regular_file(setup: Setup, tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    setup.write_config(store=f"sqlite:///{blocker}/sub/store.db")
    check = setup.run()["store"]
    assert check.status == "FAIL"
    assert f"folder {blocker}/sub does not exist ({blocker} is a file, not a folder)" in check.problem


def test_store_in_a_folder_nobody_may_write(setup: Setup) -> None:
    # /proc refuses new files to root too (chmod would not stop root)
    setup.write_config(store="sqlite:////proc/borderx-doctor.db")
    check = setup.run()["store"]
    assert check.status == "FAIL"
    assert "cannot create files in /proc" in check.problem


def test_existing_store_is_opened_not_changed(setup: Setup) -> None:
    path = setup.root.parent / "store" / "us-cbp.db"
    open_store(f"sqlite:///{path}").close()
    before = path.read_bytes()
    check = setup.run()["store"]
    assert check.ok, check
    assert "a borderx store, writable, 0 issuer chains held" in check.detail
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".borderx-doctor-*"))


def test_existing_file_that_is_not_a_store(setup: Setup) -> None:
    path = setup.root.parent / "store" / "us-cbp.db"
    path.write_bytes(b"this is not SQLite" * 100)
    assert setup.run()["store"].status == "FAIL"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_postgres_unreachable(setup: Setup) -> None:
    setup.write_config(store=f"postgresql://borderx:hunter2@127.0.0.1:{closed_port()}/borderx")
    check = setup.run(timeout=1.0)["store"]
    assert check.status == "FAIL"
    assert "cannot connect to PostgreSQL within 1 s" in check.problem
    assert "hunter2" not in check.problem


@pytest.fixture
def pg_url() -> str:
    try:
        psycopg.connect(PG_URL, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        # as in the store suite: the PostgreSQL backend is tested wherever the suite runs
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable ({exc})")
    return f"{PG_URL}?schema=bx_doctor_absent"


def test_postgres_reachable_creates_nothing(setup: Setup, pg_url: str) -> None:
    setup.write_config(store=pg_url)
    check = setup.run()["store"]
    assert check.ok, check
    assert "may create schema bx_doctor_absent" in check.detail
    with psycopg.connect(PG_URL) as conn:
        assert (
            conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'bx_doctor_absent'").fetchone() is None
        )


def test_postgres_existing_store(setup: Setup, pg_url: str) -> None:
    schema = f"bx_doctor_{secrets.token_hex(4)}"
    url = f"{PG_URL}?schema={schema}"
    open_store(url).close()
    try:
        setup.write_config(store=url)
        check = setup.run()["store"]
        assert check.ok, check
        assert "may insert into its tables" in check.detail
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


# ---------------------------------------------------------------- the command


def test_cli_table_lists_each_check_with_fix(
    setup: Setup, cli: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(setup.root / "AU-ABF" / "gateway.key", setup.folder / "gateway.key")
    assert cli(["doctor", "--config", str(setup.config), "--no-network"]) == 1
    out = capsys.readouterr().out
    assert "OK    tls.certificate" in out
    assert "FAIL  tls.key_match" in out
    assert "fix: install the key the certificate was issued for" in out
    assert "FAILED: 1 error(s), 0 warning(s)" in out


def test_cli_json_shape(setup: Setup, cli: Callable[..., int], capsys: pytest.CaptureFixture[str]) -> None:
    setup.write_config(listen="127.0.0.1:6000")
    assert cli(["doctor", "--config", str(setup.config), "--no-network", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"config", "ok", "checks", "errors", "warnings", "results"}
    assert data["ok"] is True and data["errors"] == 0 and data["warnings"] == 1
    assert data["checks"] == len(data["results"])
    first = data["results"][0]
    assert set(first) == {"name", "status", "ok", "severity", "problem", "fix", "detail"}
    endpoint = next(r for r in data["results"] if r["name"] == "directory.endpoint")
    assert endpoint["status"] == "WARN" and endpoint["severity"] == "warning" and endpoint["fix"]


def test_cli_json_for_an_unreadable_config(
    tmp_path: Path, cli: Callable[..., int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["doctor", "--config", str(tmp_path / "nope.toml"), "--output", "json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and [r["name"] for r in data["results"]] == ["config"]


def test_cli_default_timeout_is_the_librarys() -> None:
    assert doctor_cmd.DEFAULT_TIMEOUT == doctor.DEFAULT_TIMEOUT


def test_cli_help(cli: Callable[..., int], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(["doctor", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--no-network" in out and "--output" in out and "--config FILE" in out
