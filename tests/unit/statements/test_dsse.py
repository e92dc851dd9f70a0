"""DSSE JSON form (strict reading) and the ``borderx dsse`` command."""

from __future__ import annotations

import argparse
import base64
import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from securesystemslib.dsse import Envelope as SslibEnvelope
from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]  # re-exported, not in __all__

from borderx.cli import dsse_cmd
from borderx.errors import InvalidArgument, MalformedHeader, SignatureSetInvalid
from borderx.statements.dsse import from_dsse_json, to_dsse_json
from borderx.statements.model import PAYLOAD_TYPE_STATEMENT
from borderx.statements.signing import add_signature

if TYPE_CHECKING:
    from conftest import World


def test_round_trip(world: World) -> None:
    env = world.statement(audience=["US-CBP"], body=b"\x00\x01body")
    doc = to_dsse_json(env)
    assert doc["payloadType"] == PAYLOAD_TYPE_STATEMENT
    assert base64.b64decode(doc["payload"]) == env.header_bytes
    assert doc["signatures"] == [
        {"keyid": env.signatures[0].key_id, "sig": base64.b64encode(env.signatures[0].sig).decode()}
    ]
    assert from_dsse_json(json.loads(json.dumps(doc))) == env


def test_redacted_envelopes_have_no_body(world: World) -> None:
    env = world.statement().redact()
    doc = to_dsse_json(env)
    assert "body" not in doc
    assert from_dsse_json(doc) == env


def test_url_safe_base64_is_read(world: World) -> None:
    env = world.statement(body=b"\xfb\xff\xfe" * 10)
    doc = to_dsse_json(env)
    doc["body"] = base64.urlsafe_b64encode(env.body or b"").decode()
    assert "-" in doc["body"] or "_" in doc["body"]
    assert from_dsse_json(doc).body == env.body


def test_an_independent_dsse_verifier_accepts_our_output(world: World) -> None:
    signer = world.signers["au_new"]
    env = add_signature(world.statement(signer="au_old"), signer)
    key = SSlibKey(signer.key_id, "ed25519", "ed25519", {"public": signer.public_key_raw.hex()})
    assert signer.key_id in SslibEnvelope.from_dict(to_dsse_json(env)).verify([key], 1)


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda d: d.update(extra=1), MalformedHeader, r"unknown member\(s\) \['extra'\]"),
        (lambda d: d.pop("payload"), MalformedHeader, "has no 'payload'"),
        (lambda d: d.pop("signatures"), MalformedHeader, "has no 'signatures'"),
        (
            lambda d: d.update(payloadType="application/vnd.in-toto+json"),
            MalformedHeader,
            "payloadType is 'application/vnd.in-toto",
        ),
        (lambda d: d.update(payload="not base64!"), MalformedHeader, "payload is not valid base64"),
        (lambda d: d.update(payload=12), MalformedHeader, "payload must be a base64 string, got int"),
        (lambda d: d.update(payload=base64.b64encode(b"\x08\x00").decode()), MalformedHeader, "header"),
        (lambda d: d.update(signatures={}), MalformedHeader, "signatures must be a list"),
        (
            lambda d: d["signatures"][0].update(extra="x"),
            MalformedHeader,
            r"signatures\[0\] must be an object with exactly",
        ),
        (lambda d: d["signatures"][0].pop("keyid"), MalformedHeader, r"signatures\[0\] must be an object"),
        (
            lambda d: d["signatures"][0].update(keyid=5),
            MalformedHeader,
            r"signatures\[0\].keyid must be a string",
        ),
        (
            lambda d: d["signatures"][0].update(sig="@@"),
            MalformedHeader,
            r"signatures\[0\].sig is not valid base64",
        ),
        (lambda d: d.update(signatures=d["signatures"] * 9), SignatureSetInvalid, "carries 9 signatures"),
        (lambda d: d.update(body=""), MalformedHeader, "body is present but empty"),
    ],
)
def test_strict_reading(world: World, mutate: Any, error: type[Exception], message: str) -> None:
    doc = copy.deepcopy(to_dsse_json(world.statement()))
    mutate(doc)
    with pytest.raises(error, match=message):
        from_dsse_json(doc)


def test_not_an_object() -> None:
    with pytest.raises(MalformedHeader, match="must be a JSON object, got list"):
        from_dsse_json([])


# ---------------------------------------------------------------- the CLI


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="borderx")
    sub = parser.add_subparsers(dest="command", required=True)
    dsse_cmd.register(sub)
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    args = parse(argv)
    code: int = args.func(args)
    return code


def test_envelope_file_round_trip(world: World) -> None:
    envs = [*world.chain(2), world.statement(signer="us").redact()]
    text = "# three envelopes\n\n" + dsse_cmd.format_envelope_file(envs)
    assert dsse_cmd.parse_envelope_file(text) == envs
    with pytest.raises(InvalidArgument, match="x line 2: not base64"):
        dsse_cmd.parse_envelope_file("\n???\n", source="x")
    with pytest.raises(InvalidArgument, match="x line 1: header"):
        dsse_cmd.parse_envelope_file(base64.b64encode(b"\x0a\x01\x00").decode(), source="x")


def test_export_then_verify(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    envs = world.chain(3)
    (tmp_path / "in.txt").write_text(dsse_cmd.format_envelope_file(envs))
    (tmp_path / "directory.json").write_text(world.directory.dumps())

    assert run(["dsse", "export", "--in", str(tmp_path / "in.txt"), "--out", str(tmp_path / "out.json")]) == 0
    exported = json.loads((tmp_path / "out.json").read_text())
    assert [from_dsse_json(d) for d in exported] == envs

    assert run(["dsse", "export", "--in", str(tmp_path / "in.txt")]) == 0
    assert json.loads(capsys.readouterr().out) == exported

    code = run(
        ["dsse", "verify", "--directory", str(tmp_path / "directory.json"), str(tmp_path / "out.json")]
    )
    out = capsys.readouterr()
    assert code == 0
    assert out.out.count("ok   ") == 3
    assert "AU-ABF seq 3 designation" in out.out
    assert "3 of 3 envelope(s) verified" in out.err

    # one tampered signature, one malformed entry, one single-object file
    exported[1]["signatures"][0]["sig"] = base64.b64encode(bytes(64)).decode()
    exported.append({"payloadType": "nope"})
    (tmp_path / "bad.json").write_text(json.dumps(exported))
    (tmp_path / "one.json").write_text(json.dumps(exported[0]))
    code = run(
        [
            "dsse",
            "verify",
            "--directory",
            str(tmp_path / "directory.json"),
            str(tmp_path / "bad.json"),
            str(tmp_path / "one.json"),
        ]
    )
    out = capsys.readouterr()
    assert code == 1
    lines = out.out.splitlines()
    assert len(lines) == 5
    assert lines[1].startswith("FAIL ")
    assert "AU-ABF seq 2 designation: bad_signature: " in lines[1]
    assert lines[3].startswith("FAIL ")
    assert "malformed_header" in lines[3]
    assert lines[4].startswith("ok   ")
    assert "one.json[0]" in lines[4]
    assert "3 of 5 envelope(s) verified" in out.err


def test_verify_with_a_body_type(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "directory.json").write_text(world.directory.dumps())
    (tmp_path / "e.json").write_text(json.dumps([to_dsse_json(world.statement(body_type="flag"))]))
    argv = ["dsse", "verify", "--directory", str(tmp_path / "directory.json"), "--body-type", "designation"]
    assert run([*argv, str(tmp_path / "e.json")]) == 1
    assert "body_type: " in capsys.readouterr().out


def test_cli_input_errors(tmp_path: Path, world: World) -> None:
    (tmp_path / "directory.json").write_text(world.directory.dumps())
    with pytest.raises(InvalidArgument, match="cannot read it"):
        run(["dsse", "export", "--in", str(tmp_path / "missing.txt")])
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(InvalidArgument, match="not JSON"):
        run(["dsse", "verify", "--directory", str(tmp_path / "directory.json"), str(tmp_path / "x.json")])
