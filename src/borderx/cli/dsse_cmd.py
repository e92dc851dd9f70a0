"""``borderx dsse``: envelopes as DSSE JSON, for checking with tools outside borderx.

``borderx dsse export --in FILE [--out FILE]``
    reads an *envelope file* and writes a JSON list of DSSE objects (stdout by default).

``borderx dsse verify --directory directory.json [--output table|json] FILE...``
    reads DSSE JSON files (each a list of DSSE objects, or one object), verifies every
    envelope against the directory, prints one line per envelope (or, with ``--output
    json``, one JSON document with a result per envelope), and exits 1 if any fails.

An envelope file is text: one envelope per line, each the standard base64 (with padding)
of a serialised ``borderx.v1.SignedStatement``; blank lines and lines starting with ``#``
are skipped. Text keeps the file greppable, diffable and safe to paste; each line can be
checked with ``base64 -d | protoc --decode borderx.v1.SignedStatement``.

Nothing here is trusted: envelopes are parsed strictly, and ``verify`` is the same
``statement_result`` a gateway uses.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from borderx.directory.model import Directory
from borderx.errors import InvalidArgument, VerificationError
from borderx.statements.dsse import from_dsse_json, to_dsse_json
from borderx.statements.encoding import envelope_from_wire, envelope_to_wire
from borderx.statements.model import Envelope
from borderx.statements.verify import statement_result


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dsse = sub.add_parser(
        "dsse",
        help="export envelopes as DSSE JSON, or verify DSSE JSON against a directory",
        description="Envelopes as DSSE JSON (export), and their verification against a directory (verify).",
    )
    actions = dsse.add_subparsers(dest="dsse_action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="envelope file -> JSON list of DSSE envelopes",
        description="Read an envelope file (one base64 SignedStatement per line) and write DSSE JSON.",
        epilog="Exit status: 0 written; 2 the envelope file cannot be read or parsed, or the output written.",
    )
    export.add_argument("--in", dest="input", type=Path, required=True, metavar="FILE", help="envelope file")
    export.add_argument("--out", type=Path, metavar="FILE", help="output file (default: stdout)")
    export.set_defaults(func=run)
    verify = actions.add_parser(
        "verify",
        help="verify DSSE JSON envelopes against a directory",
        description="Verify every envelope in the DSSE JSON files against the directory, with the "
        "checks a gateway applies (signature over the exact bytes, key and its window, body digest).",
        epilog="Exit status: 0 every envelope verified; 1 an envelope failed; 2 a file cannot be read, "
        "is not JSON, or the directory is invalid.",
    )
    verify.add_argument(
        "--output",
        choices=["table", "json"],
        default="table",
        help="table: one line per envelope; json: one document with a result per envelope (default table)",
    )
    verify.add_argument("--directory", type=Path, required=True, metavar="FILE", help="directory.json")
    verify.add_argument(
        "--body-type",
        choices=["designation", "flag", "withdrawal"],
        help="also require every envelope to carry this body type",
    )
    verify.add_argument("files", type=Path, nargs="+", metavar="FILE", help="DSSE JSON file(s)")
    verify.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.dsse_action == "export":
        return _export(args.input, args.out)
    return _verify(Directory.load(args.directory), args.files, args.body_type, output=args.output)


# ---------------------------------------------------------------- envelope files


def format_envelope_file(envelopes: Iterable[Envelope]) -> str:
    """Envelopes as an envelope file: one base64 serialised SignedStatement per line."""
    return "".join(base64.b64encode(envelope_to_wire(env)).decode("ascii") + "\n" for env in envelopes)


def parse_envelope_file(text: str, *, source: str = "envelope file") -> list[Envelope]:
    """Read an envelope file strictly; InvalidArgument names the line that is wrong."""
    out: list[Envelope] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()  # noqa: PLW2901 - the stripped line is the line
        if not line or line.startswith("#"):
            continue
        try:
            data = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidArgument(f"{source} line {number}: not base64") from None
        try:
            out.append(envelope_from_wire(data))
        except VerificationError as exc:
            raise InvalidArgument(f"{source} line {number}: {exc}") from None
    return out


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{path}: cannot read it ({exc})") from None


def _export(source: Path, out: Path | None) -> int:
    envelopes = parse_envelope_file(_read_text(source), source=str(source))
    text = json.dumps([to_dsse_json(env) for env in envelopes], indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InvalidArgument(f"{out}: cannot write it ({exc.strerror})") from None
    return 0


# ---------------------------------------------------------------- verify


def _verify(directory: Directory, files: list[Path], body_type: str | None, *, output: str = "table") -> int:
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            doc: Any = json.loads(_read_text(path))
        except ValueError as exc:
            raise InvalidArgument(f"{path}: not JSON ({exc})") from None
        items = doc if isinstance(doc, list) else [doc]
        for i, item in enumerate(items):
            results.append(_verify_one(directory, item, f"{path}[{i}]", body_type))
    failed = sum(1 for r in results if not r["ok"])
    if output == "json":
        print(
            json.dumps(
                {
                    "ok": failed == 0,
                    "directory": {"federation": directory.federation, "version": directory.version},
                    "total": len(results),
                    "verified": len(results) - failed,
                    "failed": failed,
                    "results": results,
                },
                indent=2,
            )
        )
    else:
        for r in results:
            if r["issuer"] is None:
                print(f"FAIL {r['where']}: {r['reason']}: {r['message']}")
                continue
            redacted = " (redacted)" if r["redacted"] else ""
            what = f"{r['issuer']} seq {r['seq']} {r['body_type']}{redacted}"
            if r["ok"]:
                print(f"ok   {r['where']}: {what}: {r['message']}")
            else:
                print(f"FAIL {r['where']}: {what}: {r['reason']}: {r['message']}")
    print(f"{len(results) - failed} of {len(results)} envelope(s) verified", file=sys.stderr)
    return 1 if failed else 0


def _verify_one(directory: Directory, item: Any, where: str, body_type: str | None) -> dict[str, Any]:
    """One envelope's result; ``issuer`` is None when the DSSE object itself is malformed."""
    try:
        env = from_dsse_json(item)
    except VerificationError as exc:
        return {
            "where": where, "ok": False, "issuer": None, "seq": None, "body_type": None,
            "redacted": None, "key_ids": [], "reason": exc.reason, "message": str(exc),
        }  # fmt: skip
    result = statement_result(env, directory, expected_body_type=body_type)
    return {
        "where": where,
        "ok": result.ok,
        "issuer": env.issuer,
        "seq": env.seq,
        "body_type": env.header.body_type,
        "redacted": env.redacted,
        "key_ids": [sig.key_id for sig in env.signatures],
        "reason": "" if result.ok else result.reason,
        "message": result.message,
    }
