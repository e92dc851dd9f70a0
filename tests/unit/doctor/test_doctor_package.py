"""The checks the doctor package added: private key modes, partners' expiries, the store's
own probes. Real files from the session's dev PKI, as in tests/unit/test_doctor.py."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from borderx.directory.expiry import expiries, read_certificate
from borderx.directory.model import Directory
from borderx.store import open_store
from tests.unit.test_doctor import US, Setup


@pytest.fixture
def setup(pki: Path, tmp_path: Path) -> Setup:
    root = tmp_path / "pki"
    shutil.copytree(pki, root)
    (tmp_path / "store").mkdir()
    s = Setup(root, root / US / "doctor.toml")
    s.write_config()
    return s


def test_days_left_on_our_certificate_and_signing_key(setup: Setup) -> None:
    checks = setup.run()
    assert re.search(r"\((39[0-7]) days\)$", checks["tls.expiry"].detail), checks["tls.expiry"].detail
    assert re.search(r"\((7[23]\d) days left\)$", checks["signing.key"].detail), checks["signing.key"].detail


def test_owner_only_keys_pass(setup: Setup) -> None:
    checks = setup.run()
    assert checks["tls.key_mode"].ok, checks["tls.key_mode"]
    assert "mode 0600" in checks["tls.key_mode"].detail
    assert checks["signing.key_mode"].ok, checks["signing.key_mode"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_tls_key_others_may_read_fails(setup: Setup, mode: int) -> None:
    key = setup.folder / "gateway.key"
    key.chmod(mode)
    check = setup.run()["tls.key_mode"]
    assert check.status == "FAIL"
    assert f"has mode {mode:04o}" in check.problem
    assert check.fix == f"chmod 600 {key} (readable by the user the gateway runs as only)"


def test_a_world_readable_signing_key_fails(setup: Setup) -> None:
    (setup.folder / "signing.key").chmod(0o644)
    checks = setup.run()
    assert checks["signing.key"].ok
    assert checks["signing.key_mode"].status == "FAIL"
    assert "signing key" in checks["signing.key_mode"].problem


def test_no_mode_check_for_a_key_that_does_not_load(setup: Setup) -> None:
    (setup.folder / "gateway.key").write_text("nothing")
    checks = setup.run()
    assert checks["tls.key"].status == "FAIL"
    assert "tls.key_mode" not in checks


def test_each_partner_expiry_is_listed(setup: Setup) -> None:
    checks = setup.run()
    names = sorted(n for n in checks if n.startswith("expiry."))
    assert names == ["expiry.AU-ABF", "expiry.CA-CBSA", "expiry.GB-HMRC", "expiry.NZ-CS"]
    detail = checks["expiry.AU-ABF"].detail
    assert "CA certificate serial" in detail and "signing key" in detail and "days left" in detail


def test_a_partner_key_ending_soon_warns(setup: Setup) -> None:
    doc = setup.directory_doc()
    agencies = doc["agencies"]
    assert isinstance(agencies, list)
    au = next(a for a in agencies if a["id"] == "AU-ABF")
    soon = datetime.now(UTC) + timedelta(days=10)
    au["signing_keys"][0]["valid_until"] = soon.strftime("%Y-%m-%dT%H:%M:%SZ")
    setup.write_directory(doc)
    check = setup.run()["expiry.AU-ABF"]
    assert check.status == "WARN"
    assert "10 days left" in check.problem or "9 days left" in check.problem


def test_an_existing_store_is_described_by_its_own_probes(setup: Setup) -> None:
    path = setup.root.parent / "store" / "us-cbp.db"
    store = open_store(f"sqlite:///{path}")
    version = store.schema_version()
    store.close()
    detail = setup.run()["store"].detail
    assert f"schema {version}" in detail and "bytes" in detail


def test_expiries_list_own_certificate_then_members(pki: Path) -> None:
    directory = Directory.load(pki / "directory.json")
    cert = read_certificate((pki / US / "gateway.pem").read_bytes())
    assert cert is not None
    found = expiries(directory, own_agency=US, own_certificate=cert)
    assert found[0].kind == "gateway_certificate" and found[0].agency == US
    assert found[0].subject == format(cert.serial_number, "x")
    kinds = {(e.agency, e.kind) for e in found[1:]}
    assert {(a, k) for a in directory.agencies for k in ("ca_certificate", "signing_key")} == kinds
    now = datetime.now(UTC)
    left = found[0].days_left(now)
    assert left is not None and 390 < left < 398  # the dev PKI's leaves live 397 days
    assert read_certificate(b"no certificate") is None
