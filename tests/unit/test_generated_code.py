"""The committed generated code must match what `make proto` produces from proto/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "src" / "borderx" / "_proto"


def test_generated_code_is_current(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "proto" / "generate.py"), str(tmp_path)], check=True, capture_output=True
    )
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    committed = {
        p.relative_to(COMMITTED): p.read_bytes()
        for p in COMMITTED.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert sorted(fresh) == sorted(committed), "generated files differ in name: run `make proto` and commit"
    stale = [str(name) for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale generated code in {stale}: run `make proto` and commit"


def test_envelope_is_exactly_the_pinned_contract() -> None:
    from borderx._proto.borderx.v1 import statement_pb2 as pb

    fields = {f.name: (f.number, f.type) for f in pb.SignedStatement.DESCRIPTOR.fields}
    bytes_t, msg_t = 12, 11
    assert fields == {"header": (1, bytes_t), "signatures": (2, msg_t), "body": (3, bytes_t)}
    assert len(pb.SignedStatement(signatures=[pb.Signature(), pb.Signature()]).signatures) == 2
    sig = {f.name: (f.number, f.type) for f in pb.Signature.DESCRIPTOR.fields}
    assert sig == {"key_id": (1, 9), "sig": (2, bytes_t)}
