"""The authenticator refuses, by itself, every bad certificate — including those TLS already stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from borderx.directory.model import Directory, DirectoryHolder
from borderx.errors import Unauthenticated
from borderx.identity.devpki import CertificateAuthority, issue_certificate, make_ca, pem_cert, spiffe_id
from borderx.identity.principal import Principal, parse_spiffe_id
from borderx.identity.verifier import PeerAuthenticator, authenticate_certificate

FED = "border5.test"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def directory(pki: Path) -> Directory:
    return Directory.load(pki / "directory.json")


def ca_of(pki: Path, agency: str) -> CertificateAuthority:
    cert = x509.load_pem_x509_certificate((pki / agency / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((pki / agency / "ca.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return CertificateAuthority(cert, key)


def check(cert: x509.Certificate, directory: Directory) -> Principal:
    return authenticate_certificate(cert, directory, now=NOW)


def test_accepts_each_dev_role(pki: Path, directory: Directory) -> None:
    for role, name in (("gateway", ""), ("operator", "admin"), ("service", "default")):
        cert = x509.load_pem_x509_certificate((pki / "NZ-CS" / f"{role}.pem").read_bytes())
        assert check(cert, directory) == Principal(FED, "NZ-CS", role, name)


def test_refuses_a_ca_outside_the_directory(directory: Directory) -> None:
    cert, _ = issue_certificate(
        make_ca("rogue"), common_name="x", uris=[spiffe_id(FED, "US-CBP", "operator", "a")]
    )
    with pytest.raises(Unauthenticated, match="must chain to US-CBP's own CA"):
        check(cert, directory)


def test_refuses_another_agencys_ca(pki: Path, directory: Directory) -> None:
    cert, _ = issue_certificate(
        ca_of(pki, "AU-ABF"), common_name="x", uris=[spiffe_id(FED, "US-CBP", "gateway")]
    )
    with pytest.raises(Unauthenticated, match="not valid for US-CBP"):
        check(cert, directory)


def test_refuses_expired_and_not_yet_valid(pki: Path, directory: Directory) -> None:
    ca = ca_of(pki, "US-CBP")
    uri = [spiffe_id(FED, "US-CBP", "operator", "a")]
    old, _ = issue_certificate(
        ca, common_name="x", uris=uri, not_before=NOW - timedelta(days=9), not_after=NOW - timedelta(days=1)
    )
    with pytest.raises(Unauthenticated, match="expired"):
        check(old, directory)
    new, _ = issue_certificate(
        ca, common_name="x", uris=uri, not_before=NOW + timedelta(days=1), not_after=NOW + timedelta(days=9)
    )
    with pytest.raises(Unauthenticated, match="is not valid until"):
        check(new, directory)


def test_refuses_server_auth_only(pki: Path, directory: Directory) -> None:
    cert, _ = issue_certificate(
        ca_of(pki, "US-CBP"),
        common_name="x",
        uris=[spiffe_id(FED, "US-CBP", "gateway")],
        server=True,
        client=False,
    )
    with pytest.raises(Unauthenticated, match="allow client auth"):
        check(cert, directory)


def test_refuses_missing_or_several_spiffe_ids(pki: Path, directory: Directory) -> None:
    ca = ca_of(pki, "US-CBP")
    none, _ = issue_certificate(ca, common_name="x", dns_names=["a.example"])
    with pytest.raises(Unauthenticated, match="carries no SPIFFE ID"):
        check(none, directory)
    two, _ = issue_certificate(
        ca,
        common_name="x",
        uris=[spiffe_id(FED, "US-CBP", "gateway"), spiffe_id(FED, "US-CBP", "operator", "a")],
    )
    with pytest.raises(Unauthenticated, match="carries 2 SPIFFE IDs"):
        check(two, directory)


def test_refuses_a_second_non_spiffe_uri_san(pki: Path, directory: Directory) -> None:
    # X.509-SVID: exactly one URI SAN, whatever the scheme of the others
    extra, _ = issue_certificate(
        ca_of(pki, "US-CBP"),
        common_name="x",
        uris=[spiffe_id(FED, "US-CBP", "operator", "a"), "https://ops.example/jsmith"],
    )
    with pytest.raises(Unauthenticated, match=r"carries 2 URI SANs; an X\.509-SVID carries exactly one"):
        check(extra, directory)
    alone, _ = issue_certificate(
        ca_of(pki, "US-CBP"), common_name="x", uris=[spiffe_id(FED, "US-CBP", "operator", "a")]
    )
    assert check(alone, directory).name == "a"


def test_refuses_wrong_trust_domain_and_unknown_agency(pki: Path, directory: Directory) -> None:
    ca = ca_of(pki, "US-CBP")
    other, _ = issue_certificate(ca, common_name="x", uris=[spiffe_id("evil.test", "US-CBP", "gateway")])
    with pytest.raises(Unauthenticated, match=r"trust domain 'evil\.test'"):
        check(other, directory)
    stranger, _ = issue_certificate(ca, common_name="x", uris=[spiffe_id(FED, "FR-DGDDI", "gateway")])
    with pytest.raises(Unauthenticated, match="FR-DGDDI, which is not a member"):
        check(stranger, directory)


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("https://border5.test/agency/US-CBP/gateway", "is not a SPIFFE ID"),
        ("spiffe://border5.test/people/US-CBP/gateway", "is not of the form"),
        ("spiffe://border5.test/agency/usa/gateway", "is not an agency id"),
        ("spiffe://border5.test/agency/US-CBP/admin/x", "role 'admin'"),
        ("spiffe://border5.test/agency/US-CBP/gateway/extra", "a gateway ID has no name"),
        ("spiffe://border5.test/agency/US-CBP/operator", "needs exactly one name"),
        ("spiffe://Border5..test/agency/US-CBP/gateway", "invalid trust domain"),
    ],
)
def test_parse_spiffe_id_refusals(uri: str, why: str) -> None:
    with pytest.raises(Unauthenticated, match=why):
        parse_spiffe_id(uri)


def test_cache_is_dropped_when_the_directory_changes(pki: Path, directory: Directory) -> None:
    import dataclasses

    holder = DirectoryHolder(directory)
    auth = PeerAuthenticator(holder)
    cert, _ = issue_certificate(
        ca_of(pki, "US-CBP"), common_name="x", uris=[spiffe_id(FED, "US-CBP", "operator", "a")]
    )
    pem = pem_cert(cert)
    assert auth.authenticate_pem(pem).agency == "US-CBP"
    us = directory.agencies["US-CBP"]
    revoked = dataclasses.replace(us, revoked_serials=frozenset({cert.serial_number}))
    v2 = dataclasses.replace(
        directory, version=2, agencies={**directory.agencies, "US-CBP": revoked}, digest="v2"
    )
    assert holder.replace(v2)
    with pytest.raises(Unauthenticated, match="is revoked by US-CBP"):
        auth.authenticate_pem(pem)


def test_unparseable_certificate(directory: Directory) -> None:
    auth = PeerAuthenticator(DirectoryHolder(directory))
    with pytest.raises(Unauthenticated, match="could not be parsed"):
        auth.authenticate_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")


def test_the_last_certificate_seen_counts_only_under_its_directory_and_validity(
    pki: Path, directory: Directory
) -> None:
    import dataclasses

    holder = DirectoryHolder(directory)
    auth = PeerAuthenticator(holder)
    ca = ca_of(pki, "US-CBP")
    a, _ = issue_certificate(ca, common_name="a", uris=[spiffe_id(FED, "US-CBP", "operator", "a")])
    b, _ = issue_certificate(ca, common_name="b", uris=[spiffe_id(FED, "US-CBP", "operator", "b")])
    pem_a, pem_b = pem_cert(a), pem_cert(b)
    # alternating and repeated callers: each answered as itself (fresh bytes, as TLS hands them)
    for pem, name in ((pem_a, "a"), (pem_b, "b"), (pem_a, "a"), (bytes(bytearray(pem_a)), "a")):
        assert auth.authenticate_pem(pem).name == name
    # past its not_after, the last certificate seen is refused like any other
    after = a.not_valid_after_utc + timedelta(seconds=1)
    with pytest.raises(Unauthenticated, match="expired"):
        auth.authenticate_pem(pem_a, now=after)
    assert auth.authenticate_pem(pem_a).name == "a"
    remembered = auth._last  # what a call racing the directory change below could put back
    us = directory.agencies["US-CBP"]
    revoked = dataclasses.replace(us, revoked_serials=frozenset({a.serial_number}))
    v2 = dataclasses.replace(
        directory, version=2, agencies={**directory.agencies, "US-CBP": revoked}, digest="v2"
    )
    assert holder.replace(v2)
    auth._last = remembered
    with pytest.raises(Unauthenticated, match="is revoked by US-CBP"):
        auth.authenticate_pem(pem_a)
    assert auth.authenticate_pem(pem_b).name == "b"
