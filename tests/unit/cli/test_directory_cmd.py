"""``borderx directory``: the ceremony commands on files (publishing is tested through a gateway)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx.cli import main
from borderx.directory.model import Directory, key_id_for
from borderx.identity.devpki import pem_key, write_private


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main([*argv, "--output", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else None


def new_key(path: Path) -> str:
    key = Ed25519PrivateKey.generate()
    write_private(path, pem_key(key))
    return key_id_for(
        key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def test_key_prints_the_key_id_of_private_and_public_key_files(
    pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = Directory.load(pki / "directory.json")
    expected = directory.agency("NZ-CS").directory_keys[0].key_id
    assert main(["directory", "key", str(pki / "NZ-CS" / "directory.key")]) == 0
    assert capsys.readouterr().out.strip() == expected
    private = serialization.load_pem_private_key((pki / "NZ-CS" / "directory.key").read_bytes(), None)
    public = tmp_path / "nz.pub"
    public.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    code, entry = run_json(capsys, "directory", "key", str(public))
    assert code == 0 and entry == directory.agency("NZ-CS").directory_keys[0].to_json()


def test_propose_sign_verify_show_diff(pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    current, draft = pki / "directory.json", tmp_path / "draft.json"
    au_key = Directory.load(current).agency("AU-ABF").signing_keys[0].key_id
    us_key = Directory.load(current).agency("US-CBP").signing_keys[0].key_id
    added = new_key(tmp_path / "au-signing-2.key")
    code, proposed = run_json(
        capsys, "directory", "propose", str(current), "--out", str(draft), "--threshold", "4",
        "--add-signing-key", f"AU-ABF={tmp_path / 'au-signing-2.key'}", "--retire-signing-key", au_key[:12],
        "--revoke-signing-key", us_key,
    )  # fmt: skip
    assert code == 0
    assert proposed["to_version"] == 2 and proposed["fields"]["threshold"] == [3, 4]
    assert proposed["changed"] == {"AU-ABF": ["signing_keys"], "US-CBP": ["signing_keys"]}
    v2 = Directory.load(draft)
    assert [k.key_id for k in v2.agency("AU-ABF").signing_keys] == [au_key, added]
    assert v2.agency("AU-ABF").signing_keys[0].valid_until == v2.issued_at
    assert v2.agency("US-CBP").signing_keys[0].status == "revoked"
    assert v2.signatures == ()

    code, report = run_json(capsys, "directory", "verify", str(draft), "--against", str(current))
    assert code == 1 and report["thresholds"][0]["signed"] == [] and report["thresholds"][1]["threshold"] == 4
    for agency in ("US-CBP", "AU-ABF", "NZ-CS"):
        code, signed = run_json(
            capsys, "directory", "sign", str(draft), "--key", str(pki / agency / "directory.key")
        )
        assert code == 0
    assert signed["signatures"] == 3
    code, report = run_json(capsys, "directory", "verify", str(draft), "--against", str(current))
    assert code == 1  # v1's 3 are there, v2 asks 4
    assert [t["ok"] for t in report["thresholds"]] == [True, False]
    assert main(["directory", "sign", str(draft), "--key", str(pki / "GB-HMRC" / "directory.key")]) == 0
    capsys.readouterr()
    code, report = run_json(capsys, "directory", "verify", str(draft), "--against", str(current))
    assert code == 0 and report["ok"] and report["problems"] == []
    # the table forms say the same for people
    assert main(["directory", "verify", str(draft), "--against", str(current)]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["directory", "show", str(draft)]) == 0
    assert "threshold 4 of 5" in capsys.readouterr().out
    assert main(["directory", "diff", str(current), str(draft)]) == 0
    assert "~ US-CBP: signing_keys" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--threshold", "6"], "threshold must be an integer from 1 to the number of agencies"),
        (["--remove-agency", "FR-DGDDI"], "--remove-agency FR-DGDDI: not a member"),
        (["--rotate-directory-key", "AU-ABF"], "expected ID=KEYFILE"),
        (["--retire-signing-key", "abc"], "names no signing key"),
        (["--add-signing-key", "XX-NONE=k"], "expected ID=KEYFILE with ID a member"),
    ],
)
def test_propose_refusals(
    pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    draft = tmp_path / "draft.json"
    assert main(["directory", "propose", str(pki / "directory.json"), "--out", str(draft), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not draft.exists()


def test_sign_refuses_what_no_gateway_would_parse(
    tmp_path: Path, pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"signed": {}, "signatures": []}')
    assert main(["directory", "sign", str(bad), "--key", str(pki / "US-CBP" / "directory.key")]) == 2
    assert "format is None" in capsys.readouterr().err
    assert main(["directory", "sign", str(bad), "--key", str(pki / "US-CBP" / "gateway.key")]) == 2
    assert "not an Ed25519 key" in capsys.readouterr().err
