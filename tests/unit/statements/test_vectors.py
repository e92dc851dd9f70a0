"""Golden vectors: an independent DSSE verifier (securesystemslib) and ours agree on every one,
and regenerating them gives the same bytes (which pins the encoding)."""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from securesystemslib.dsse import Envelope as SslibEnvelope
from securesystemslib.signer import SSlibKey  # type: ignore[attr-defined]  # re-exported, not in __all__

from borderx.directory.model import Directory, key_id_for
from borderx.statements.dsse import from_dsse_json
from borderx.statements.encoding import decode_header
from borderx.statements.model import PAYLOAD_TYPE_STATEMENT
from borderx.statements.verify import statement_result

VECTORS = Path(__file__).parents[3] / "tests" / "data" / "vectors"
FILES = sorted(VECTORS.glob("*.json"))

#: what our verifier must say about each invalid vector
EXPECTED_REASON = {
    "bad-signature": "bad_signature",
    "tampered-header": "bad_signature",
    "tampered-body": "body_digest",
    "wrong-key": "bad_signature",
}


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def make_vectors() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_vectors", VECTORS / "make_vectors.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def independent_check(vector: dict[str, Any]) -> bool:
    """securesystemslib's DSSE verification, plus the body digest (which DSSE does not know about)."""
    raw = base64.b64decode(vector["public_key"])
    key = SSlibKey(key_id_for(raw), "ed25519", "ed25519", {"public": raw.hex()})
    try:
        envelope = SslibEnvelope.from_dict(copy.deepcopy(vector["envelope"]))
        if envelope.payload_type != PAYLOAD_TYPE_STATEMENT:
            return False
        envelope.verify([key], 1)
    except Exception:
        return False
    body = vector["envelope"].get("body")
    if body is not None:
        header = decode_header(envelope.payload)
        return hashlib.sha256(base64.b64decode(body)).digest() == header.body_digest
    return True


def test_the_required_vectors_exist() -> None:
    names = {p.stem for p in FILES}
    assert {"designation-valid", "flag-valid", "withdrawal-valid", *EXPECTED_REASON} <= names


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_independent_verifier(path: Path) -> None:
    vector = load(path)
    assert independent_check(vector) is vector["valid"], vector["why"]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_our_verifier_agrees(path: Path, directory_of: Callable[[dict[str, list[bytes]]], Directory]) -> None:
    vector = load(path)
    env = from_dsse_json(vector["envelope"])
    directory = directory_of({env.issuer: [base64.b64decode(vector["public_key"])]})
    result = statement_result(env, directory)
    assert result.ok is vector["valid"], result.message
    if not vector["valid"]:
        assert result.reason == EXPECTED_REASON[path.stem]


def test_valid_vectors_carry_the_body_their_header_names() -> None:
    for path in FILES:
        vector = load(path)
        if not vector["valid"] or "body" not in vector["envelope"]:
            continue
        env = from_dsse_json(vector["envelope"])
        assert env.body is not None
        assert hashlib.sha256(env.body).digest() == env.header.body_digest


def test_the_withdrawal_extends_the_designation_chain() -> None:
    designation = from_dsse_json(load(VECTORS / "designation-valid.json")["envelope"])
    withdrawal = from_dsse_json(load(VECTORS / "withdrawal-valid.json")["envelope"])
    assert (withdrawal.seq, withdrawal.header.prev_digest) == (2, designation.digest)


def test_regenerating_gives_identical_bytes() -> None:
    files = make_vectors().render()
    assert sorted(files) == [p.name for p in FILES]
    for name, data in files.items():
        assert (VECTORS / name).read_bytes() == data, (
            f"{name} changed: the encoding is no longer what was pinned"
        )
