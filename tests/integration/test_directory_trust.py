"""The signed directory through real gateways: the ceremony CLI, on-disk edits, rollback, expiry."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc
from borderx.cli import main
from borderx.directory.model import Directory
from borderx.errors import ConfigError
from borderx.identity.devpki import make_ca, pem_cert, pem_key, sign_as_members, write_private
from tests.conftest import GatewayThread, channel, creds_for, gateway_config

AU = "AU-ABF"
MAJORITY = ["US-CBP", "NZ-CS", "CA-CBSA"]


@pytest.fixture
def private_pki(pki: Path, tmp_path: Path) -> Path:
    out = tmp_path / "pki"
    shutil.copytree(pki, out)
    return out


def admin(gw: GatewayThread, pki: Path) -> Any:
    return channel(gw.target, creds_for(pki, AU, "operator", server_agency=AU))


def status(gw: GatewayThread, pki: Path) -> admin_pb2.GetStatusResponse:
    with admin(gw, pki) as ch:
        return admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)


def publish_rpc(gw: GatewayThread, pki: Path, document: bytes) -> admin_pb2.PublishDirectoryResponse:
    with admin(gw, pki) as ch:
        return admin_pb2_grpc.AdminStub(ch).PublishDirectory(
            admin_pb2.PublishDirectoryRequest(document=document), timeout=10
        )


def refusal(fn: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details() or ""


def signed_part(pki: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pki / "directory.json").read_text())["signed"]
    return data


def test_three_of_five_ceremony_through_the_cli(
    private_pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gw = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    try:
        current = private_pki / "directory.json"
        draft = tmp_path / "draft.json"
        new_key = tmp_path / "AU-ABF-directory-2.key"
        write_private(new_key, pem_key(Ed25519PrivateKey.generate()))
        assert main(["directory", "key", str(new_key), "--output", "json"]) == 0
        new_key_id = json.loads(capsys.readouterr().out)["key_id"]
        assert main(["directory", "propose", str(current), "--out", str(draft),
                     "--rotate-directory-key", f"AU-ABF={new_key}", "--output", "json"]) == 0  # fmt: skip
        proposed = json.loads(capsys.readouterr().out)
        assert proposed["to_version"] == 2 and proposed["changed"] == {AU: ["directory_keys"]}
        for agency in MAJORITY[:2]:
            key = str(private_pki / agency / "directory.key")
            assert main(["directory", "sign", str(draft), "--key", key, "--output", "json"]) == 0
        capsys.readouterr()
        # two of five: under the threshold, and the gateway refuses it too
        assert main(["directory", "verify", str(draft), "--against", str(current), "--output", "json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert not report["ok"] and report["thresholds"][0]["signed"] == ["NZ-CS", "US-CBP"]
        client = ["--target", gw.target, "--pki", str(private_pki), "--agency", AU]
        assert main(["directory", "publish", str(draft), *client]) == 3
        assert (
            "FAILED_PRECONDITION: directory v2 is signed by 2 of the 3 agencies v1 requires"
            in capsys.readouterr().err
        )
        assert status(gw, private_pki).directory_version == 1
        # the third signature reaches both thresholds (v1's keys, and v2's keys, which keep US, NZ, CA)
        assert (
            main(["directory", "sign", str(draft), "--key", str(private_pki / "CA-CBSA" / "directory.key")])
            == 0
        )
        assert main(["directory", "verify", str(draft), "--against", str(current), "--output", "json"]) == 0
        capsys.readouterr()
        assert main(["directory", "publish", str(draft), *client, "--output", "json"]) == 0
        reply = json.loads(capsys.readouterr().out)
        assert reply["directory_changed"] is True and reply["directory_version"] == "2"
        assert reply["signed_by"] == ["CA-CBSA", "NZ-CS", "US-CBP"]
        now = status(gw, private_pki)
        assert now.directory_version == 2 and now.directory_digest == Directory.load(draft).digest
        assert gw.gateway.directory.current.agency(AU).directory_keys[0].key_id == new_key_id
        # publishing it again changes nothing
        assert publish_rpc(gw, private_pki, draft.read_bytes()).directory_changed is False
        assert main(["directory", "show", str(draft), "--output", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["version"] == 2
        assert main(["directory", "diff", str(current), str(draft), "--output", "json"]) == 0
        assert json.loads(capsys.readouterr().out)["changed"] == {AU: ["directory_keys"]}
    finally:
        gw.stop()


@pytest.mark.parametrize("edit", ["new_ca", "swapped_key", "new_member"])
def test_an_unsigned_edit_on_disk_is_refused_with_an_alarm(
    private_pki: Path, tmp_path: Path, edit: str
) -> None:
    gw = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    try:
        before = gw.gateway.directory.current
        doc = json.loads((private_pki / "directory.json").read_text())
        us = next(a for a in doc["signed"]["agencies"] if a["id"] == "US-CBP")
        if edit == "new_ca":
            us["ca_certificates"].append(pem_cert(make_ca("rogue CA").cert).decode())
        elif edit == "swapped_key":
            au = next(a for a in doc["signed"]["agencies"] if a["id"] == AU)
            au["signing_keys"][0], us["signing_keys"][0] = us["signing_keys"][0], au["signing_keys"][0]
        else:
            member = json.loads(json.dumps(us))
            member["id"], member["programmes"] = "FR-DGDDI", []
            # its own CA: one CA under two agencies is refused before any signature is read
            member["ca_certificates"] = [pem_cert(make_ca("FR-DGDDI CA").cert).decode()]
            member["signing_keys"], member["directory_keys"] = (
                [],
                [{"key_id": k, "algorithm": "ed25519", "public_key": v} for k, v in [_fresh_key()]],
            )
            doc["signed"]["agencies"].append(member)
        for version in (1, 2):  # the same version edited, and a "new" version nobody signed
            doc["signed"]["version"] = version
            (private_pki / "directory.json").write_text(json.dumps(doc))
            with admin(gw, private_pki) as ch:
                code, details = refusal(
                    lambda ch=ch: admin_pb2_grpc.AdminStub(ch).ReloadDirectory(
                        admin_pb2.ReloadDirectoryRequest(), timeout=10
                    )
                )
            assert code == grpc.StatusCode.FAILED_PRECONDITION
            assert ("differs from the trusted v1" if version == 1 else "does not verify") in details
        assert gw.gateway.directory.current is before
        # one alarm per (kind, issuer, peer), counted, with the newest detail
        [alarm] = [a for a in status(gw, private_pki).alarms if a.kind == "directory_refused"]
        assert alarm.count == 2 and "refused (bad_signature)" in alarm.detail
    finally:
        gw.stop()
    # and a restart on the edited file keeps the recorded directory, with the alarm raised again
    again = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    try:
        assert again.gateway.directory.current.digest == before.digest
        assert any(a.kind == "directory_refused" and a.count >= 2 for a in status(again, private_pki).alarms)
    finally:
        again.stop()


def _fresh_key() -> tuple[str, str]:
    import base64

    from cryptography.hazmat.primitives import serialization

    from borderx.directory.model import key_id_for

    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return key_id_for(raw), base64.b64encode(raw).decode()


def test_rollback_is_refused_after_a_restart(private_pki: Path, tmp_path: Path) -> None:
    gw = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    v1_text = (private_pki / "directory.json").read_text()
    v2 = signed_part(private_pki)
    v2["version"] = 2
    v2_text = sign_as_members(private_pki, v2, MAJORITY)
    try:
        assert publish_rpc(gw, private_pki, v2_text.encode()).directory_version == 2
        code, details = refusal(lambda: publish_rpc(gw, private_pki, v1_text.encode()))
        assert code == grpc.StatusCode.FAILED_PRECONDITION and "refusing a rollback" in details
        # the configured file is now a stale copy: a reload (for a new certificate) still works
        with admin(gw, private_pki) as ch:
            reply = admin_pb2_grpc.AdminStub(ch).ReloadDirectory(
                admin_pb2.ReloadDirectoryRequest(), timeout=10
            )
        assert reply.directory_changed is False and reply.directory_version == 2
    finally:
        gw.stop()
    # the configured file still says v1: the store's v2 is what the gateway trusts after restart
    assert (private_pki / "directory.json").read_text() == v1_text
    again = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    try:
        assert status(again, private_pki).directory_version == 2
        assert not [a for a in status(again, private_pki).alarms if a.kind == "directory_refused"]
    finally:
        again.stop()


def test_expired_directory_is_refused(private_pki: Path, tmp_path: Path) -> None:
    gw = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    stale = signed_part(private_pki)
    stale.update(version=2, issued_at="2020-01-01T00:00:00Z", expires="2020-06-01T00:00:00Z")
    stale_text = sign_as_members(private_pki, stale, [*MAJORITY, AU, "GB-HMRC"])
    try:
        code, details = refusal(lambda: publish_rpc(gw, private_pki, stale_text.encode()))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert "directory v2 expired 2020-06-01T00:00:00Z" in details
        code, details = refusal(lambda: publish_rpc(gw, private_pki, b"{not json"))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("document: not valid JSON")
        assert status(gw, private_pki).directory_version == 1
    finally:
        gw.stop()
    # a first configuration that has expired is refused outright: nothing to fall back to
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    stale["version"] = 1
    (private_pki / "directory.json").write_text(stale_text.replace('"version": 2', '"version": 1'))
    (private_pki / "directory.json").write_text(
        sign_as_members(private_pki, stale, [*MAJORITY, AU, "GB-HMRC"])
    )
    with pytest.raises(ConfigError, match="directory v1 expired 2020-06-01T00:00:00Z"):
        GatewayThread(gateway_config(private_pki, AU, fresh))


def test_get_directory_serves_partner_gateways_only(private_pki: Path, tmp_path: Path) -> None:
    gw = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    v2 = signed_part(private_pki)
    v2["version"] = 2
    v2_text = sign_as_members(private_pki, v2, MAJORITY)
    v1 = Directory.load(private_pki / "directory.json")
    try:
        publish_rpc(gw, private_pki, v2_text.encode())

        def get(role_agency: str, role: str, **fields: Any) -> exchange_pb2.GetDirectoryResponse:
            with channel(gw.target, creds_for(private_pki, role_agency, role, server_agency=AU)) as ch:
                return exchange_pb2_grpc.ExchangeStub(ch).GetDirectory(
                    exchange_pb2.GetDirectoryRequest(**fields), timeout=10
                )

        reply = get("NZ-CS", "gateway", have_version=1, have_digest=v1.digest)
        assert (reply.version, list(reply.documents), reply.conflicting) == (2, [v2_text.encode()], b"")
        assert reply.digest == Directory.loads(v2_text).digest
        everything = get("NZ-CS", "gateway")
        assert [Directory.loads(d).version for d in everything.documents] == [1, 2]
        forked = get("NZ-CS", "gateway", have_version=1, have_digest="0" * 64)
        assert forked.conflicting == v1.document  # our v1, as evidence beside the caller's
        code, details = refusal(lambda: get("NZ-CS", "gateway", have_digest="XYZ"))
        assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("have_digest: ")
        for agency, role in ((AU, "service"), (AU, "operator"), ("NZ-CS", "operator")):
            code, _ = refusal(lambda agency=agency, role=role: get(agency, role))
            assert code == grpc.StatusCode.PERMISSION_DENIED
    finally:
        gw.stop()


def test_programme_ownership_changes_with_a_signed_directory(private_pki: Path, tmp_path: Path) -> None:
    from dataclasses import replace

    from borderx.statements.body_codec import designation_to_proto
    from tests.integration.helpers import designation, platform

    gw = GatewayThread(gateway_config(private_pki, AU, tmp_path))

    def publish_in(programme: str) -> exchange_pb2.PublishResponse:
        body = replace(designation(AU, (platform("prog"),)), programme=programme)
        item = exchange_pb2.PublishItem(draft=exchange_pb2.Draft(designation=designation_to_proto(body)))
        with channel(gw.target, creds_for(private_pki, AU, "service", server_agency=AU)) as ch:
            return exchange_pb2_grpc.ExchangeStub(ch).Publish(
                exchange_pb2.PublishRequest(items=[item]), timeout=10
            )

    try:
        code, details = refusal(lambda: publish_in("AU_EXPORT"))
        assert code == grpc.StatusCode.INVALID_ARGUMENT
        assert "programme: unknown programme 'AU_EXPORT'; known programmes: " in details
        v2 = signed_part(private_pki)
        v2["version"] = 2
        next(a for a in v2["agencies"] if a["id"] == AU)["programmes"].append("AU_EXPORT")
        publish_rpc(gw, private_pki, sign_as_members(private_pki, v2, MAJORITY).encode())
        assert len(publish_in("AU_EXPORT").statements) == 1  # no restart: the directory says so now
        assert gw.gateway.screener.policy.recognises("AU_EXPORT", "")  # its own programme
        code, details = refusal(lambda: publish_in("CTPAT"))
        assert "only US-CBP may designate in CTPAT, not AU-ABF" in details
    finally:
        gw.stop()


def test_first_configuration_needs_its_own_threshold_and_a_signed_successor_on_disk_is_taken(
    private_pki: Path, tmp_path: Path
) -> None:
    v1 = signed_part(private_pki)
    good = (private_pki / "directory.json").read_text()
    (private_pki / "directory.json").write_text(sign_as_members(private_pki, v1, ["US-CBP", "AU-ABF"]))
    with pytest.raises(ConfigError, match="signed by 2 of the 3 agencies v1 requires"):
        GatewayThread(gateway_config(private_pki, AU, tmp_path))
    (private_pki / "directory.json").write_text(good)
    GatewayThread(gateway_config(private_pki, AU, tmp_path)).stop()  # trusts v1, records it
    v2 = dict(v1, version=2)
    (private_pki / "directory.json").write_text(sign_as_members(private_pki, v2, MAJORITY))
    gw = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    try:
        assert status(gw, private_pki).directory_version == 2  # the verified successor, taken at start
        head = gw.gateway.store.directory_head()
        assert head is not None and head.version == 2
    finally:
        gw.stop()


def test_a_partner_added_by_the_ceremony_replicates_without_restarts(
    private_pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """certs/README.md's "Adding a partner agency", step by step, against a running gateway."""
    import dataclasses
    from dataclasses import replace

    from borderx.config import FederationConfig, load_config
    from borderx.identity.devpki import init_pki
    from borderx.statements.body_codec import designation_to_proto
    from tests.federation.harness import free_port
    from tests.integration.helpers import designation, platform

    jp_pki = tmp_path / "jp"
    init_pki(jp_pki, agencies=["JP-JCS"])  # its CA, certificates, signing and directory keys
    jp = jp_pki / "JP-JCS"
    us_port, jp_port = free_port(), free_port()
    keys = {}
    for name in ("signing.key", "directory.key"):
        assert main(["directory", "key", str(jp / name), "--output", "json"]) == 0
        keys[name] = json.loads(capsys.readouterr().out)
    signing = dict(keys["signing.key"], valid_from="2026-01-01T00:00:00Z", valid_until=None, status="active")
    entry = {
        "id": "JP-JCS",
        "name": "Japan Customs",
        "endpoint": f"127.0.0.1:{jp_port}",
        "programmes": ["JP_AEO"],
        "ca_certificates": [(jp / "ca.pem").read_text()],
        "signing_keys": [signing],
        "directory_keys": [keys["directory.key"]],
        "revoked_serials": [],
    }
    (tmp_path / "jp-jcs.json").write_text(json.dumps(entry))

    def config(pki: Path, agency: str, port: int, directory: Path, endpoints: dict[str, str]) -> Any:
        base = load_config(pki / agency / "gateway.toml").with_overrides(
            listen=f"127.0.0.1:{port}", store_url=f"sqlite:///{tmp_path / (agency + '.db')}"
        )
        fed = FederationConfig(peers=tuple(endpoints), endpoints=endpoints, checkpoint_seconds=0.1)
        return dataclasses.replace(base, directory_path=directory, federation=fed)

    class ListeningThread(GatewayThread):
        async def _start(self):  # type: ignore[no-untyped-def]
            from borderx.server.app import build_server

            return await build_server(self.gateway)  # on the configured port: partners dial it

    us = ListeningThread(
        config(
            private_pki, "US-CBP", us_port, private_pki / "directory.json", {"JP-JCS": f"127.0.0.1:{jp_port}"}
        )
    )
    jp_gw = None
    try:
        draft = tmp_path / "draft.json"
        current = private_pki / "directory.json"
        assert (
            main(
                [
                    "directory",
                    "propose",
                    str(current),
                    "--out",
                    str(draft),
                    "--add-agency",
                    str(tmp_path / "jp-jcs.json"),
                ]
            )
            == 0
        )
        for agency in MAJORITY:
            assert (
                main(["directory", "sign", str(draft), "--key", str(private_pki / agency / "directory.key")])
                == 0
            )
        client = ["--target", us.target, "--pki", str(private_pki), "--agency", "US-CBP"]
        assert main(["directory", "publish", str(draft), *client]) == 0
        capsys.readouterr()
        # the new member starts on the signed v2 (its first configuration)
        jp_gw = ListeningThread(config(jp_pki, "JP-JCS", jp_port, draft, {"US-CBP": f"127.0.0.1:{us_port}"}))
        body = replace(designation("US-CBP", (platform("jp-trader"),)), programme="JP_AEO", level="")
        item = exchange_pb2.PublishItem(draft=exchange_pb2.Draft(designation=designation_to_proto(body)))
        with channel(jp_gw.target, creds_for(jp_pki, "JP-JCS", "service", server_agency="JP-JCS")) as ch:
            exchange_pb2_grpc.ExchangeStub(ch).Publish(exchange_pb2.PublishRequest(items=[item]), timeout=10)
        deadline = time.monotonic() + 30
        while us.gateway.store.head("JP-JCS") is None:
            assert time.monotonic() < deadline, "US-CBP did not replicate the new member's statement"
            time.sleep(0.05)
        assert us.gateway.directory.current.version == 2
    finally:
        if jp_gw is not None:
            jp_gw.stop()
        us.stop()


@pytest.mark.parametrize("cut", ["signing_key", "agency"])
def test_a_signed_version_that_cuts_this_gateway_off_is_refused(
    private_pki: Path, tmp_path: Path, cut: str
) -> None:
    """A threshold of members signs v2 that drops AU-ABF's signing key (a rotation applied before
    the gateway switched keys) or AU-ABF itself: the AU gateway stays on v1 and says why."""
    gw = GatewayThread(gateway_config(private_pki, AU, tmp_path))
    try:
        v2 = signed_part(private_pki)
        v2["version"] = 2
        if cut == "agency":
            v2["agencies"] = [a for a in v2["agencies"] if a["id"] != AU]
        else:
            au = next(a for a in v2["agencies"] if a["id"] == AU)
            au["signing_keys"] = [dict(k, status="revoked") for k in au["signing_keys"]]
        code, details = refusal(
            lambda: publish_rpc(gw, private_pki, sign_as_members(private_pki, v2, MAJORITY).encode())
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        assert (
            "no longer lists this gateway's agency AU-ABF" if cut == "agency" else "signing key"
        ) in details
        now = status(gw, private_pki)
        assert now.directory_version == 1
        assert gw.gateway.directory.current.version == 1
    finally:
        gw.stop()
