"""Generate the Python protobuf and gRPC modules from proto/ into a package folder.

Usage: python proto/generate.py [OUT_DIR]   (default: src/borderx/_proto)

protoc writes imports as ``from borderx.v1 import x_pb2``; the generated code lives in
``borderx._proto.borderx.v1``, so those imports are rewritten. The output is
deterministic, which lets a test regenerate into a temporary folder and compare.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

PROTO_ROOT = Path(__file__).resolve().parent
PACKAGE_PREFIX = "borderx._proto"


def generate(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    protos = sorted(p.relative_to(PROTO_ROOT) for p in PROTO_ROOT.rglob("*.proto"))
    include = Path(protoc.__file__).resolve().parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *(str(p) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    written = []
    for path in sorted(out_dir.rglob("*.py*")):
        if path.suffix not in (".py", ".pyi"):
            continue
        text = path.read_text()
        text = re.sub(
            r"^from borderx\.(\S+) import", rf"from {PACKAGE_PREFIX}.borderx.\1 import", text, flags=re.M
        )
        path.write_text(text)
        written.append(path)
    for folder in [out_dir, *[d for d in out_dir.rglob("*") if d.is_dir()]]:
        init = folder / "__init__.py"
        if not init.exists():
            init.write_text("")
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO_ROOT.parent / "src" / "borderx" / "_proto"
    for p in generate(target):
        print(p)
