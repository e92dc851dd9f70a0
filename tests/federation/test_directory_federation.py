"""The signed directory travels through the federation: no file is copied by hand (issue 12 item 3)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx.cli import main
from borderx.directory.model import Directory
from borderx.identity.devpki import pem_key, sign_as_members, write_private
from tests.federation.conftest import FederationFactory
from tests.federation.harness import Federation

ALL = ["US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC"]
pytestmark = pytest.mark.slow


def wait_until(what: str, check: Callable[[], bool], fed: Federation, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s\n{fed.report()}")
        time.sleep(0.1)


def versions(fed: Federation, agencies: list[str]) -> dict[str, tuple[int, str]]:
    out = {}
    for agency in agencies:
        status = fed.status(agency)
        out[agency] = (status.directory_version, status.directory_digest)
    return out


def test_a_directory_key_rolled_at_one_gateway_reaches_all_five(
    federation: FederationFactory, pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fed = federation(ALL)
    draft = tmp_path / "draft.json"
    new_key = tmp_path / "AU-ABF-directory-2.key"
    write_private(new_key, pem_key(Ed25519PrivateKey.generate()))
    assert main(["directory", "propose", str(pki / "directory.json"), "--out", str(draft),
                 "--rotate-directory-key", f"AU-ABF={new_key}"]) == 0  # fmt: skip
    for agency in ("US-CBP", "NZ-CS", "CA-CBSA"):  # three of five
        assert main(["directory", "sign", str(draft), "--key", str(pki / agency / "directory.key")]) == 0
    client = ["--target", fed.gateway("US-CBP").target, "--pki", str(pki), "--agency", "US-CBP"]
    assert main(["directory", "publish", str(draft), *client]) == 0
    capsys.readouterr()
    v2 = Directory.load(draft)
    wait_until("every gateway on v2", lambda: set(versions(fed, ALL).values()) == {(2, v2.digest)}, fed)
    for agency in ALL:
        assert not [a for a in fed.alarms(agency) if a.kind.startswith("directory")]
    # a restarted gateway keeps v2 although its configured file still says v1
    fed.restart("NZ-CS")
    assert versions(fed, ["NZ-CS"])["NZ-CS"] == (2, v2.digest)


def test_two_signed_documents_of_one_version_raise_a_conflict_on_both_sides(
    federation: FederationFactory, pki: Path
) -> None:
    pair = ["US-CBP", "GB-HMRC"]
    fed = federation(pair)
    fed.cut("US-CBP", "GB-HMRC")
    signed = json.loads((pki / "directory.json").read_text())["signed"]
    signed["version"] = 2
    ours = sign_as_members(pki, signed, ["US-CBP", "AU-ABF", "NZ-CS"])
    signed["expires"] = "2040-01-01T00:00:00Z"  # another v2, with NZ-CS signing both: a fork
    theirs = sign_as_members(pki, signed, ["GB-HMRC", "CA-CBSA", "NZ-CS"])
    for agency, document in (("US-CBP", ours), ("GB-HMRC", theirs)):
        path = fed.workdir / f"{agency}-v2.json"
        path.write_text(document)
        target = ["--target", fed.gateway(agency).target, "--pki", str(pki), "--agency", agency]
        assert main(["directory", "publish", str(path), *target]) == 0
    fed.restore("US-CBP", "GB-HMRC")

    def both_alarmed() -> bool:
        return all(any(a.kind == "directory_conflict" for a in fed.alarms(agency)) for agency in pair)

    wait_until("a directory_conflict alarm at both gateways", both_alarmed, fed)
    for agency, other, kept in (("US-CBP", "GB-HMRC", theirs), ("GB-HMRC", "US-CBP", ours)):
        store = fed.store(agency)
        assert store is not None
        (conflict,) = store.directory_conflicts()
        assert (conflict.peer, conflict.version, conflict.document) == (other, 2, kept.encode())
        assert fed.status(agency).directory_version == 2  # each keeps what it trusted
