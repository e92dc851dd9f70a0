"""The dev PKI: layout, modes, SANs, key usages, chains (and openssl agrees)."""

from __future__ import annotations

import json
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID

from borderx.directory.model import Directory, key_id_for
from borderx.directory.trust import verify_root
from borderx.errors import ConfigError
from borderx.identity.devpki import DEFAULT_AGENCIES, init_pki

FILES = [
    "ca.pem", "ca.key", "gateway.pem", "gateway.key", "operator.pem", "operator.key",
    "service.pem", "service.key", "signing.key", "gateway.toml",
]  # fmt: skip


def cert(pki: Path, agency: str, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki / agency / f"{name}.pem").read_bytes())


def uris(c: x509.Certificate) -> list[str]:
    return c.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.UniformResourceIdentifier
    )


def ekus(c: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(c.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_layout_and_private_key_modes(pki: Path) -> None:
    assert (pki / "directory.json").is_file()
    for agency in DEFAULT_AGENCIES:
        for name in FILES:
            path = pki / agency / name
            assert path.is_file(), path
            if name.endswith(".key"):
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_certificates_have_the_right_sans_and_usages(pki: Path) -> None:
    for agency in DEFAULT_AGENCIES:
        ca = cert(pki, agency, "ca")
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        gw = cert(pki, agency, "gateway")
        assert uris(gw) == [f"spiffe://border5.test/agency/{agency}/gateway"]
        san = gw.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == ["localhost"]
        assert [str(i) for i in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
        assert ekus(gw) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
        assert uris(cert(pki, agency, "operator")) == [
            f"spiffe://border5.test/agency/{agency}/operator/admin"
        ]
        assert uris(cert(pki, agency, "service")) == [
            f"spiffe://border5.test/agency/{agency}/service/default"
        ]
        for name in ("operator", "service"):
            assert ekus(cert(pki, agency, name)) == {ExtendedKeyUsageOID.CLIENT_AUTH}
        ca_key = serialization.load_pem_private_key((pki / agency / "ca.key").read_bytes(), None)
        assert ca.public_key().public_numbers() == ca_key.public_key().public_numbers()  # type: ignore[union-attr]


def test_openssl_verifies_every_chain(pki: Path) -> None:
    for agency in DEFAULT_AGENCIES:
        for name in ("gateway", "operator", "service"):
            result = subprocess.run(
                [
                    "openssl",
                    "verify",
                    "-CAfile",
                    str(pki / agency / "ca.pem"),
                    str(pki / agency / f"{name}.pem"),
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            assert result.returncode == 0 and result.stdout.strip().endswith(": OK"), (
                result.stdout + result.stderr
            )
    other = subprocess.run(
        [
            "openssl",
            "verify",
            "-CAfile",
            str(pki / "AU-ABF" / "ca.pem"),
            str(pki / "US-CBP" / "operator.pem"),
        ],
        capture_output=True,
        check=False,
    )
    assert other.returncode != 0


def test_directory_lists_every_agency_with_its_ca_key_and_endpoint(pki: Path) -> None:
    directory = Directory.load(pki / "directory.json")
    assert list(directory.agencies) == list(DEFAULT_AGENCIES)
    for index, agency in enumerate(DEFAULT_AGENCIES):
        entry = directory.agency(agency)
        assert entry.endpoint == f"127.0.0.1:{50051 + index}"
        assert entry.ca_certificates[0] == cert(pki, agency, "ca")
        signing = serialization.load_pem_private_key((pki / agency / "signing.key").read_bytes(), None)
        assert isinstance(signing, Ed25519PrivateKey)
        raw = signing.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert [k.key_id for k in entry.signing_keys] == [key_id_for(raw)]
        dkey = serialization.load_pem_private_key((pki / agency / "directory.key").read_bytes(), None)
        assert isinstance(dkey, Ed25519PrivateKey)
        raw = dkey.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        assert [k.key_id for k in entry.directory_keys] == [key_id_for(raw)]
        assert (pki / agency / "directory.key").stat().st_mode & 0o777 == 0o600
    doc = json.loads((pki / "directory.json").read_text())
    assert doc["signed"]["federation"] == "border5.test" and doc["signed"]["version"] == 1
    assert doc["signed"]["threshold"] == 3  # a majority of five
    # signed by all five members, each signature over the canonical bytes
    assert {s["keyid"] for s in doc["signatures"]} == set(directory.directory_keys)
    verify_root(directory, now=datetime.now(UTC))
    assert dict(directory.programme_owners()) == {
        "CTPAT": "US-CBP",
        "AU_ATT": "AU-ABF",
        "NZ_SES": "NZ-CS",
        "CA_PIP": "CA-CBSA",
        "UK_AEO": "GB-HMRC",
    }


def test_gateway_toml_listens_on_its_port(pki: Path) -> None:
    from borderx.config import load_config

    for index, agency in enumerate(DEFAULT_AGENCIES):
        config = load_config(pki / agency / "gateway.toml")
        assert config.agency == agency
        assert config.listen == f"127.0.0.1:{50051 + index}"
        assert (
            config.tls_cert == (pki / agency / "gateway.pem").resolve()
            or config.tls_cert.resolve() == (pki / agency / "gateway.pem").resolve()
        )
        assert config.directory_path.resolve() == (pki / "directory.json").resolve()


def test_refuses_a_non_empty_folder_without_force(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(ConfigError, match="is not empty; pass --force"):
        init_pki(tmp_path, agencies=["US-CBP"])
    init_pki(tmp_path, agencies=["US-CBP"], force=True)
    assert (tmp_path / "US-CBP" / "ca.pem").exists()


def test_cli_init_with_custom_agencies(tmp_path: Path) -> None:
    from borderx.cli import main

    out = tmp_path / "pki"
    assert (
        main(["pki", "init", "--out", str(out), "--federation", "demo.test", "--agencies", "AU-ABF,NZ-CS"])
        == 0
    )
    directory = Directory.load(out / "directory.json")
    assert directory.federation == "demo.test"
    assert list(directory.agencies) == ["AU-ABF", "NZ-CS"]
    assert uris(cert(out, "NZ-CS", "gateway")) == ["spiffe://demo.test/agency/NZ-CS/gateway"]
    assert main(["pki", "init", "--out", str(out)]) == 2  # not empty, no --force
