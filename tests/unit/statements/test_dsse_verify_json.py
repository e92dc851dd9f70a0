"""``borderx dsse verify --output json``: one document, a result per envelope, same verdicts."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from borderx.statements.dsse import to_dsse_json
from tests.unit.statements.test_dsse import run


def test_verify_json(world, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    envs = world.chain(3)
    exported = [to_dsse_json(env) for env in envs]
    exported[1]["signatures"][0]["sig"] = base64.b64encode(bytes(64)).decode()
    exported.append({"payloadType": "nope"})
    (tmp_path / "directory.json").write_text(world.directory.dumps())
    (tmp_path / "e.json").write_text(json.dumps(exported))
    argv = ["dsse", "verify", "--directory", str(tmp_path / "directory.json"), "--output", "json"]
    assert run([*argv, str(tmp_path / "e.json")]) == 1
    out = capsys.readouterr()
    doc = json.loads(out.out)  # stdout is the JSON document alone
    assert doc["ok"] is False
    assert (doc["total"], doc["verified"], doc["failed"]) == (4, 2, 2)
    assert doc["directory"]["version"] == world.directory.version
    first, bad, _, malformed = doc["results"]
    assert first["ok"] is True and first["issuer"] == envs[0].issuer and first["seq"] == 1
    assert first["key_ids"] == [envs[0].signatures[0].key_id] and first["reason"] == ""
    assert bad["ok"] is False and bad["reason"] == "bad_signature" and bad["where"].endswith("e.json[1]")
    assert malformed["issuer"] is None and malformed["reason"] == "malformed_header"
    assert "2 of 4 envelope(s) verified" in out.err


def test_verify_json_all_good(world, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "directory.json").write_text(world.directory.dumps())
    (tmp_path / "e.json").write_text(json.dumps([to_dsse_json(e) for e in world.chain(2)]))
    argv = ["dsse", "verify", "--directory", str(tmp_path / "directory.json"), "--output", "json"]
    assert run([*argv, str(tmp_path / "e.json")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["verified"] == 2 and all(r["ok"] for r in doc["results"])
