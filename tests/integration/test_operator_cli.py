"""Operators' CLI against a real gateway: status, peers, alarms, admin actions, reload under an open stream."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.cli import main
from borderx.statements.body_codec import designation_to_proto
from borderx.statements.encoding import signed_cosignature_from_wire
from borderx.statements.signing import load_signing_key, sign_checkpoint, sign_cosignature
from borderx.statements.verify import verify_cosignature
from tests.conftest import GatewayThread, channel, creds_for, gateway_config
from tests.integration.helpers import designation, platform

AU = "AU-ABF"


@pytest.fixture
def private_pki(pki: Path, tmp_path: Path) -> Path:
    """A copy of the PKI this test may change (directory version, certificates)."""
    out = tmp_path / "pki"
    shutil.copytree(pki, out)
    return out


@pytest.fixture
def au(private_pki: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    gw = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    yield gw
    gw.stop()


def cli(gw: GatewayThread, pki: Path, *args: str, role: str = "operator") -> list[str]:
    return [*args, "--target", gw.target, "--pki", str(pki), "--agency", AU, "--role", role]


def publish(gw: GatewayThread, pki: Path, *names: str) -> None:
    items = [
        exchange_pb2.PublishItem(
            draft=exchange_pb2.Draft(designation=designation_to_proto(designation(AU, (platform(n),))))
        )
        for n in names
    ]
    with channel(gw.target, creds_for(pki, AU, "service", server_agency=AU)) as ch:
        exchange_pb2_grpc.ExchangeStub(ch).Publish(exchange_pb2.PublishRequest(items=items), timeout=10)


def test_status_table_and_json(au, private_pki: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    publish(au, private_pki, "a", "b")
    assert main(cli(au, private_pki, "status")) == 0
    out = capsys.readouterr().out
    assert "AU-ABF in border5.test (directory v1)" in out and "2 statements" in out
    assert "directory digest " in out and ", expires 20" in out
    assert main([*cli(au, private_pki, "status"), "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agency"] == AU and data["issuers"][0]["head_seq"] == "2"
    assert main(cli(au, private_pki, "peers")) == 0
    assert "no replication peers configured" in capsys.readouterr().out


def test_status_refused_for_a_service_principal(
    au, private_pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    assert main(cli(au, private_pki, "status", role="service")) == 3
    assert "PERMISSION_DENIED" in capsys.readouterr().err


def test_alarms_list_and_acknowledge(au, private_pki: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    alarm = au.gateway.store.raise_alarm("gap", "NZ-CS", "from peer NZ-CS: seq 5..7 withheld")
    assert main(cli(au, private_pki, "alarms")) == 0
    out = capsys.readouterr().out
    assert "gap" in out and "seq 5..7 withheld" in out and "OPEN" in out
    assert main([*cli(au, private_pki, "alarms"), "--ack", str(alarm.id)]) == 0
    assert "no open alarms" in capsys.readouterr().out
    assert main([*cli(au, private_pki, "alarms"), "--all", "--output", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["acknowledged"] is True
    assert main([*cli(au, private_pki, "alarms"), "--ack", "999"]) == 3
    assert "NOT_FOUND" in capsys.readouterr().err


def test_suspend_and_resume_an_issuer(au, private_pki: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    assert (
        main(
            [*cli(au, private_pki, "admin", "suspend-issuer", "NZ-CS"), "--reason", "key compromise reported"]
        )
        == 0
    )
    assert "NZ-CS" in au.gateway.store.suspended_issuers()
    assert main(cli(au, private_pki, "admin", "resume-issuer", "NZ-CS")) == 0
    assert "was_suspended" in capsys.readouterr().out
    assert not au.gateway.store.suspended_issuers()
    assert main([*cli(au, private_pki, "admin", "suspend-issuer", AU), "--reason", "x"]) == 3
    assert "does not suspend its own agency" in capsys.readouterr().err
    assert main([*cli(au, private_pki, "admin", "suspend-issuer", "NZ-CS"), "--reason", " "]) == 3
    assert "reason: required" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # --reason is required by the parser
        main(cli(au, private_pki, "admin", "suspend-issuer", "NZ-CS"))


def test_export_feeds_the_dsse_tools(
    au, private_pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    publish(au, private_pki, "e1", "e2", "e3")
    assert main(cli(au, private_pki, "admin", "export")) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 3 and "exported 3 statements" in captured.err
    envelopes = tmp_path / "au.envelopes"
    envelopes.write_text(captured.out)
    assert main(["dsse", "export", "--in", str(envelopes), "--out", str(tmp_path / "au.dsse.json")]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "dsse",
                "verify",
                "--directory",
                str(private_pki / "directory.json"),
                str(tmp_path / "au.dsse.json"),
            ]
        )
        == 0
    )


def served_serial(port: int, pki: Path) -> int:
    context = ssl.create_default_context(cafile=str(pki / AU / "ca.pem"))
    context.load_cert_chain(str(pki / AU / "operator.pem"), str(pki / AU / "operator.key"))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_reload_directory_and_certificate_under_an_open_subscribe_stream(
    au, private_pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    from borderx.identity.devpki import issue_certificate, pem_cert, pem_key, spiffe_id
    from tests.integration.test_gateway_identity import load_ca

    received: list[int] = []
    stream_open = threading.Event()

    def follow() -> None:
        with channel(au.target, creds_for(private_pki, "NZ-CS", "gateway", server_agency=AU)) as ch:
            for event in exchange_pb2_grpc.ExchangeStub(ch).Subscribe(
                exchange_pb2.SubscribeRequest(follow=True), timeout=30
            ):
                stream_open.set()
                if event.WhichOneof("event") == "statement":
                    received.append(len(received) + 1)
                    if len(received) == 2:
                        return

    publish(au, private_pki, "before")
    follower = threading.Thread(target=follow)
    follower.start()
    assert stream_open.wait(10)
    old_serial = served_serial(au.port, private_pki)
    # a new gateway certificate and a new directory version, then reload
    cert, key = issue_certificate(
        load_ca(private_pki, AU),
        common_name="AU-ABF gateway (renewed)",
        uris=[spiffe_id("border5.test", AU, "gateway")],
        dns_names=["localhost"],
        ip_addresses=["127.0.0.1"],
        server=True,
    )
    (private_pki / AU / "gateway.pem").write_bytes(pem_cert(cert))
    (private_pki / AU / "gateway.key").write_bytes(pem_key(key))
    from borderx.identity.devpki import sign_as_members

    doc = json.loads((private_pki / "directory.json").read_text())["signed"]
    doc["version"] = 2
    (private_pki / "directory.json").write_text(
        sign_as_members(private_pki, doc, ["AU-ABF", "NZ-CS", "US-CBP"])
    )
    assert main([*cli(au, private_pki, "admin", "reload"), "--output", "json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["directory_changed"] is True and reply["directory_version"] == "2"
    publish(au, private_pki, "after")  # reaches the follower over the connection made before the reload
    follower.join(15)
    assert received == [1, 2]
    assert served_serial(au.port, private_pki) == cert.serial_number != old_serial


def test_status_lists_receipts_and_admin_receipt_exports_one(  # type: ignore[no-untyped-def]
    au, private_pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    publish(au, private_pki, "a", "b")
    store = au.gateway.store
    head = store.head(AU)
    assert head is not None and head.seq == 2
    cp = sign_checkpoint(
        load_signing_key(private_pki / AU / "signing.key"),
        issuer=AU,
        seq=2,
        head_digest=head.digest,
        time=datetime.now(UTC),
    )
    # NZ-CS witnessed AU-ABF's head at seq 2: its signed receipt
    store.put_cosignature(
        sign_cosignature(
            load_signing_key(private_pki / "NZ-CS" / "signing.key"),
            checkpoint=cp,
            witness="NZ-CS",
            time=datetime.now(UTC),
        )
    )
    assert main(cli(au, private_pki, "status")) == 0
    out = capsys.readouterr().out
    assert "RECEIPT FROM" in out and "NZ-CS" in out
    assert main([*cli(au, private_pki, "admin", "receipt"), "--partner", "NZ-CS", "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["partner"] == "NZ-CS" and data["issuer"] == AU and data["seq"] == 2
    assert data["head_digest"] == head.digest.hex()

    receipt = signed_cosignature_from_wire(base64.b64decode(data["signed_cosignature"]))
    verify_cosignature(receipt, au.gateway.directory.current)
    assert main([*cli(au, private_pki, "admin", "receipt"), "--partner", "US-CBP"]) == 1
    assert "no receipt from US-CBP" in capsys.readouterr().err
