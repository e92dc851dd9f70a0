"""Foundation: a gateway authenticates every caller over real mutual TLS on loopback.

Every refusal is tested with its status code. Some bad certificates never get past the
TLS handshake (the server trusts only member CAs and OpenSSL checks validity and
client-auth usage): the call then fails UNAVAILABLE and no handler runs. The rest reach
the interceptor and get UNAUTHENTICATED with the reason. The unit tests of the
authenticator check that it refuses the handshake-level ones too (defence in depth).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc
from borderx.directory.model import Directory
from borderx.identity.devpki import (
    CertificateAuthority,
    issue_certificate,
    make_ca,
    pem_cert,
    pem_key,
    sign_as_members,
    spiffe_id,
)
from tests.conftest import Creds, channel, creds_for

FED = "border5.test"


def load_ca(pki: Path, agency: str) -> CertificateAuthority:
    cert = x509.load_pem_x509_certificate((pki / agency / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((pki / agency / "ca.key").read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return CertificateAuthority(cert, key)


def creds_from(
    pki: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, server_agency: str = "US-CBP"
) -> Creds:
    return Creds(ca=(pki / server_agency / "ca.pem").read_bytes(), cert=pem_cert(cert), key=pem_key(key))


def get_status(target: str, creds: Creds | None, *, ca: bytes | None = None) -> admin_pb2.GetStatusResponse:
    with channel(target, creds, ca=ca) as ch:
        return admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)


def status_code(fn) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details() or ""


@pytest.fixture
def us(start_gateway):  # type: ignore[no-untyped-def]
    return start_gateway("US-CBP")


# ---------------------------------------------------------------- accepted


def test_home_operator_gets_status(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    status = get_status(us.target, creds_for(pki, "US-CBP", "operator"))
    assert status.agency == "US-CBP"
    assert status.federation == FED
    assert status.directory_version == 1
    assert status.uptime_seconds >= 0
    assert status.store_location.endswith("us-cbp.db")
    assert status.statement_count == 0
    assert status.store_bytes > 0
    assert status.started_at.seconds > 0


def test_operator_certificate_made_with_openssl_is_accepted(us, pki: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    script = Path(__file__).resolve().parents[2] / "certs" / "issue-with-openssl.sh"
    subprocess.run(
        [
            "bash",
            str(script),
            str(pki / "US-CBP"),
            f"{spiffe_id(FED, 'US-CBP', 'operator', 'jsmith')}",
            str(tmp_path / "jsmith"),
        ],
        check=True,
        capture_output=True,
    )
    creds = Creds(
        ca=(pki / "US-CBP" / "ca.pem").read_bytes(),
        cert=(tmp_path / "jsmith.pem").read_bytes(),
        key=(tmp_path / "jsmith.key").read_bytes(),
    )
    assert get_status(us.target, creds).agency == "US-CBP"


# ---------------------------------------------------------------- refused at the TLS handshake


def test_no_client_certificate_is_refused(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    code, _ = status_code(lambda: get_status(us.target, None, ca=(pki / "US-CBP" / "ca.pem").read_bytes()))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_ca_outside_the_directory_is_refused(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    rogue = make_ca("rogue CA")
    cert, key = issue_certificate(
        rogue, common_name="x", uris=[spiffe_id(FED, "US-CBP", "operator", "admin")]
    )
    code, _ = status_code(lambda: get_status(us.target, creds_from(pki, cert, key)))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_expired_certificate_is_refused(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    cert, key = issue_certificate(
        load_ca(pki, "US-CBP"),
        common_name="old",
        uris=[spiffe_id(FED, "US-CBP", "operator", "old")],
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    code, _ = status_code(lambda: get_status(us.target, creds_from(pki, cert, key)))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_not_yet_valid_certificate_is_refused(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    cert, key = issue_certificate(
        load_ca(pki, "US-CBP"),
        common_name="future",
        uris=[spiffe_id(FED, "US-CBP", "operator", "future")],
        not_before=now + timedelta(days=1),
        not_after=now + timedelta(days=30),
    )
    code, _ = status_code(lambda: get_status(us.target, creds_from(pki, cert, key)))
    assert code == grpc.StatusCode.UNAVAILABLE


def test_server_auth_only_certificate_used_as_client_is_refused(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = issue_certificate(
        load_ca(pki, "US-CBP"),
        common_name="server only",
        uris=[spiffe_id(FED, "US-CBP", "operator", "srv")],
        server=True,
        client=False,
    )
    code, _ = status_code(lambda: get_status(us.target, creds_from(pki, cert, key)))
    assert code == grpc.StatusCode.UNAVAILABLE


# ---------------------------------------------------------------- refused by the interceptor


def test_other_agencys_ca_cannot_speak_for_us_cbp(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = issue_certificate(
        load_ca(pki, "AU-ABF"), common_name="impostor", uris=[spiffe_id(FED, "US-CBP", "operator", "admin")]
    )
    code, details = status_code(lambda: get_status(us.target, creds_from(pki, cert, key)))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "US-CBP's own CA" in details


def test_wrong_trust_domain_is_refused(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = issue_certificate(
        load_ca(pki, "US-CBP"),
        common_name="other",
        uris=[spiffe_id("other.test", "US-CBP", "operator", "admin")],
    )
    code, details = status_code(lambda: get_status(us.target, creds_from(pki, cert, key)))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "trust domain 'other.test'" in details


def test_certificate_without_spiffe_id_is_refused(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = issue_certificate(load_ca(pki, "US-CBP"), common_name="anonymous", dns_names=["ops.example"])
    code, details = status_code(lambda: get_status(us.target, creds_from(pki, cert, key)))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "no SPIFFE ID" in details


def test_revoked_serial_is_refused_after_directory_reload(us, pki: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = issue_certificate(
        load_ca(pki, "US-CBP"),
        common_name="soon revoked",
        uris=[spiffe_id(FED, "US-CBP", "operator", "leaver")],
    )
    creds = creds_from(pki, cert, key)
    assert get_status(us.target, creds).agency == "US-CBP"  # accepted (and cached) first
    doc = json.loads((pki / "directory.json").read_text())["signed"]
    doc["version"] = 2
    for agency in doc["agencies"]:
        if agency["id"] == "US-CBP":
            agency["revoked_serials"] = [format(cert.serial_number, "x")]
    path = tmp_path / "directory-v2.json"
    path.write_text(sign_as_members(pki, doc, ["US-CBP", "AU-ABF", "NZ-CS"]))
    assert us.gateway.directory.replace(Directory.load(path))
    code, details = status_code(lambda: get_status(us.target, creds))
    assert code == grpc.StatusCode.UNAUTHENTICATED
    assert "is revoked by US-CBP" in details
    assert get_status(us.target, creds_for(pki, "US-CBP", "operator")).directory_version == 2


# ---------------------------------------------------------------- authorisation


@pytest.mark.parametrize(
    ("agency", "role"),
    [("AU-ABF", "operator"), ("AU-ABF", "gateway"), ("US-CBP", "service"), ("US-CBP", "gateway")],
)
def test_only_home_operators_get_status(us, pki: Path, agency: str, role: str) -> None:  # type: ignore[no-untyped-def]
    code, details = status_code(lambda: get_status(us.target, creds_for(pki, agency, role)))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert f"agency/{agency}/{role}" in details


def test_partner_service_cannot_publish(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    with channel(us.target, creds_for(pki, "AU-ABF", "service")) as ch:
        code, details = status_code(
            lambda: exchange_pb2_grpc.ExchangeStub(ch).Publish(exchange_pb2.PublishRequest(), timeout=10)
        )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "only this agency's services and operators publish" in details


# ---------------------------------------------------------------- operator access


def test_health_is_serving(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with channel(us.target, creds_for(pki, "AU-ABF", "gateway")) as ch:
        stub = health_pb2_grpc.HealthStub(ch)
        for service in ("", "borderx.v1.Exchange", "borderx.v1.Admin"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_services(us, pki: Path) -> None:  # type: ignore[no-untyped-def]
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with channel(us.target, creds_for(pki, "US-CBP", "operator")) as ch:
        stub = reflection_pb2_grpc.ServerReflectionStub(ch)
        replies = list(
            stub.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10
            )
        )
    names = {s.name for s in replies[0].list_services_response.service}
    assert {"borderx.v1.Exchange", "borderx.v1.Admin", "grpc.health.v1.Health"} <= names
