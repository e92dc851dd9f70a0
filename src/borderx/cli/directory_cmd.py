"""``borderx directory …``: the directory ceremony (DESIGN §2; certs/README.md walks it through).

- ``show FILE``: what a directory document says: version, digest, expiry, threshold, members;
- ``diff OLD NEW``: what a proposed version changes;
- ``key KEYFILE``: the directory-key entry (key id, public key) of an Ed25519 key file;
- ``propose CURRENT --out DRAFT …``: the next version (version + 1, unsigned) with changes:
  add, replace or remove an agency, rotate a directory key, change the threshold or expiry;
- ``sign DRAFT --key directory.key``: add this agency's signature (in place);
- ``verify DRAFT [--against CURRENT]``: who signed, and whether each threshold is met;
- ``publish DRAFT``: hand the signed document to the home gateway (Admin.PublishDirectory),
  which verifies, records and applies it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc
from borderx.cli.client import add_client_flags, call, print_message
from borderx.cli.rpc import report as report_rpc_error
from borderx.directory.model import (
    Directory,
    document_text,
    format_time,
    key_id_for,
    load_directory_key,
    sign_document,
)
from borderx.directory.trust import UpdateResult, root_result, update_result
from borderx.errors import ConfigError

EXIT_FAILED = 1


def _output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", choices=["table", "json"], default="table", help="output format")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    directory = sub.add_parser(
        "directory",
        help="the signed directory: show, diff, propose, sign, verify, publish",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = directory.add_subparsers(dest="directory_command", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="what a directory document says")
    show.add_argument("file", type=Path, metavar="FILE")
    _output(show)
    show.set_defaults(func=run_show)

    diff = actions.add_parser("diff", help="what a new version changes")
    diff.add_argument("old", type=Path, metavar="OLD")
    diff.add_argument("new", type=Path, metavar="NEW")
    _output(diff)
    diff.set_defaults(func=run_diff)

    key = actions.add_parser("key", help="print the directory-key entry (key id) of a key file")
    key.add_argument("keyfile", type=Path, metavar="KEYFILE", help="Ed25519 private or public key (PEM)")
    _output(key)
    key.set_defaults(func=run_key)

    propose = actions.add_parser("propose", help="write the next version as an unsigned draft")
    propose.add_argument("current", type=Path, metavar="CURRENT", help="the directory in force")
    propose.add_argument("--out", type=Path, required=True, metavar="DRAFT")
    propose.add_argument(
        "--add-agency",
        type=Path,
        action="append",
        default=[],
        metavar="ENTRY.json",
        help="a new member's entry",
    )
    propose.add_argument(
        "--replace-agency",
        type=Path,
        action="append",
        default=[],
        metavar="ENTRY.json",
        help="an existing member's new entry (same id)",
    )
    propose.add_argument("--remove-agency", action="append", default=[], metavar="ID")
    propose.add_argument(
        "--rotate-directory-key",
        action="append",
        default=[],
        metavar="ID=KEYFILE",
        help="replace the agency's directory keys with this key's public part",
    )
    propose.add_argument(
        "--add-signing-key",
        action="append",
        default=[],
        metavar="ID=KEYFILE",
        help="add a statement-signing key (valid from now for --key-days) beside the agency's others",
    )
    propose.add_argument(
        "--key-days", type=int, default=730, help="validity of an added signing key, in days (default 730)"
    )
    propose.add_argument(
        "--retire-signing-key",
        action="append",
        default=[],
        metavar="KEYID",
        help="end a signing key's window now (statements it signed before stay valid)",
    )
    propose.add_argument(
        "--revoke-signing-key",
        action="append",
        default=[],
        metavar="KEYID",
        help="revoke a signing key (stolen: nothing it ever signed is trusted any more)",
    )
    propose.add_argument("--threshold", type=int, help="agencies whose signatures a change needs")
    propose.add_argument(
        "--expires-days", type=int, default=365, help="validity from now, in days (default 365)"
    )
    _output(propose)
    propose.set_defaults(func=run_propose)

    sign = actions.add_parser("sign", help="add your agency's signature to a draft (in place)")
    sign.add_argument("draft", type=Path, metavar="DRAFT")
    sign.add_argument(
        "--key", type=Path, required=True, metavar="directory.key", help="your agency's directory key"
    )
    _output(sign)
    sign.set_defaults(func=run_sign)

    verify = actions.add_parser("verify", help="who signed, and is each threshold met")
    verify.add_argument("draft", type=Path, metavar="DRAFT")
    verify.add_argument(
        "--against",
        type=Path,
        metavar="CURRENT",
        help="the version in force (default: verify as a first directory)",
    )
    _output(verify)
    verify.set_defaults(func=run_verify)

    publish = actions.add_parser("publish", help="hand the signed document to the home gateway")
    publish.add_argument("draft", type=Path, metavar="DRAFT")
    add_client_flags(publish)
    publish.set_defaults(func=run_publish)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from exc


def _emit(data: dict[str, Any], output: str, lines: list[str]) -> None:
    if output == "json":
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print("\n".join(lines))


def summary(directory: Directory) -> dict[str, Any]:
    return {
        "federation": directory.federation,
        "version": directory.version,
        "digest": directory.digest,
        "issued_at": format_time(directory.issued_at),
        "expires": format_time(directory.expires),
        "threshold": directory.threshold,
        "agencies": [
            {
                "id": a.id,
                "name": a.name,
                "endpoint": a.endpoint,
                "programmes": list(a.programmes),
                "directory_keys": [k.key_id for k in a.directory_keys],
                "signing_keys": [k.key_id for k in a.signing_keys],
                "ca_certificates": len(a.ca_certificates),
            }
            for a in directory.agencies.values()
        ],
        "signatures": [s.key_id for s in directory.signatures],
    }


def run_show(args: argparse.Namespace) -> int:
    directory = Directory.load(args.file)
    data = summary(directory)
    lines = [
        f"{directory.federation} v{directory.version}  digest {directory.digest}",
        f"issued {data['issued_at']}, expires {data['expires']}; threshold {directory.threshold} of {len(directory.agencies)}",
    ]
    for a in data["agencies"]:
        lines.append(
            f"  {a['id']:<8} {','.join(a['programmes']) or '-':<10} {a['endpoint']:<18} directory keys {', '.join(k[:16] for k in a['directory_keys'])}"
        )
    lines.append(f"signatures: {len(directory.signatures)}")
    _emit(data, args.output, lines)
    return 0


def changes(old: Directory, new: Directory) -> dict[str, Any]:
    before = {a.id: a.to_json() for a in old.agencies.values()}
    after = {a.id: a.to_json() for a in new.agencies.values()}
    changed = {}
    for agency in sorted(set(before) & set(after)):
        fields = sorted(k for k in after[agency] if before[agency].get(k) != after[agency].get(k))
        if fields:
            changed[agency] = fields
    top = {
        k: [v, new.to_json()[k]]
        for k, v in old.to_json().items()
        if k != "agencies" and v != new.to_json()[k]
    }
    return {
        "from_version": old.version,
        "to_version": new.version,
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": changed,
        "fields": top,
    }


def run_diff(args: argparse.Namespace) -> int:
    data = changes(Directory.load(args.old), Directory.load(args.new))
    lines = [f"v{data['from_version']} -> v{data['to_version']}"]
    lines += [f"  + {a}" for a in data["added"]] + [f"  - {a}" for a in data["removed"]]
    lines += [f"  ~ {a}: {', '.join(f)}" for a, f in data["changed"].items()]
    lines += [f"  {k}: {v[0]} -> {v[1]}" for k, v in data["fields"].items()]
    _emit(data, args.output, lines)
    return 0


def _public_key(path: Path) -> Ed25519PublicKey:
    data = _read(path)
    try:
        key: Any = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise ConfigError(f"{path}: not a PEM Ed25519 key ({exc})") from exc
    if isinstance(key, Ed25519PrivateKey):
        return key.public_key()
    if isinstance(key, Ed25519PublicKey):
        return key
    raise ConfigError(f"{path}: not an Ed25519 key")


def key_entry(path: Path) -> dict[str, str]:
    import base64  # noqa: PLC0415

    raw = _public_key(path).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"key_id": key_id_for(raw), "algorithm": "ed25519", "public_key": base64.b64encode(raw).decode()}


def run_key(args: argparse.Namespace) -> int:
    entry = key_entry(args.keyfile)
    _emit(entry, args.output, [entry["key_id"]])
    return 0


def _entry(path: Path) -> dict[str, Any]:
    try:
        entry = json.loads(_read(path))
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise ConfigError(f"{path}: expected an agency entry (a JSON object with an 'id')")
    return entry


def run_propose(args: argparse.Namespace) -> int:
    current = Directory.load(args.current)
    signed = json.loads(current.document)["signed"]
    agencies: list[dict[str, Any]] = signed["agencies"]
    ids = [a["id"] for a in agencies]
    for path in args.add_agency:
        entry = _entry(path)
        if entry["id"] in ids:
            raise ConfigError(f"--add-agency {path}: {entry['id']} is already a member; use --replace-agency")
        agencies.append(entry)
        ids.append(entry["id"])
    for path in args.replace_agency:
        entry = _entry(path)
        if entry["id"] not in ids:
            raise ConfigError(f"--replace-agency {path}: {entry['id']} is not a member; use --add-agency")
        agencies[ids.index(entry["id"])] = entry
    for agency in args.remove_agency:
        if agency not in ids:
            raise ConfigError(f"--remove-agency {agency}: not a member")
        del agencies[ids.index(agency)]
        ids.remove(agency)
    for spec in args.rotate_directory_key:
        agency, sep, keyfile = spec.partition("=")
        if not sep or agency not in ids:
            raise ConfigError(f"--rotate-directory-key {spec}: expected ID=KEYFILE with ID a member")
        agencies[ids.index(agency)]["directory_keys"] = [key_entry(Path(keyfile))]
    now = datetime.now(UTC).replace(microsecond=0)
    _signing_key_changes(args, agencies, ids, now)
    signed["version"] = current.version + 1
    signed["issued_at"] = format_time(now)
    signed["expires"] = format_time(now + timedelta(days=args.expires_days))
    if args.threshold is not None:
        signed["threshold"] = args.threshold
    text = document_text(signed, [])
    draft = Directory.loads(text, source=str(args.out))  # refuse to write what no gateway would parse
    args.out.write_text(text)
    data = {"draft": str(args.out), **changes(current, draft), "digest": draft.digest}
    _emit(
        data,
        args.output,
        [
            f"wrote {args.out}: v{draft.version} (digest {draft.digest[:16]}…), unsigned; each member now runs `borderx directory sign`"
        ],
    )
    return 0


def _signing_key_changes(
    args: argparse.Namespace, agencies: list[dict[str, Any]], ids: list[str], now: datetime
) -> None:
    for spec in args.add_signing_key:
        agency, sep, keyfile = spec.partition("=")
        if not sep or agency not in ids:
            raise ConfigError(f"--add-signing-key {spec}: expected ID=KEYFILE with ID a member")
        entry: dict[str, Any] = key_entry(Path(keyfile))
        entry.update(
            valid_from=format_time(now),
            valid_until=format_time(now + timedelta(days=args.key_days)),
            status="active",
        )
        agencies[ids.index(agency)].setdefault("signing_keys", []).append(entry)
    by_id = {k["key_id"]: k for a in agencies for k in a.get("signing_keys", [])}
    for flag, key_ids in (
        ("--retire-signing-key", args.retire_signing_key),
        ("--revoke-signing-key", args.revoke_signing_key),
    ):
        for key_id in key_ids:
            found = [k for i, k in by_id.items() if i.startswith(key_id.lower())] if len(key_id) >= 8 else []
            if len(found) != 1:
                raise ConfigError(
                    f"{flag} {key_id}: names no signing key of this directory (give 8+ hex digits of its id)"
                )
            if flag == "--revoke-signing-key":
                found[0]["status"] = "revoked"
            else:
                found[0]["valid_until"] = format_time(now)


def run_sign(args: argparse.Namespace) -> int:
    key = load_directory_key(args.key)
    text = sign_document(_read(args.draft), key, source=str(args.draft))
    args.draft.write_text(text)
    directory = Directory.loads(text)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = key_id_for(raw)
    data = {
        "draft": str(args.draft),
        "version": directory.version,
        "digest": directory.digest,
        "key_id": key_id,
        "signatures": len(directory.signatures),
    }
    _emit(
        data,
        args.output,
        [
            f"signed {args.draft} v{directory.version} with key {key_id[:16]}… ({len(directory.signatures)} signatures now)"
        ],
    )
    return 0


def result_json(result: UpdateResult) -> dict[str, Any]:
    return {
        "version": result.version,
        "digest": result.digest,
        "ok": result.ok,
        "problems": [{"reason": r, "message": m} for r, m in result.problems],
        "thresholds": [
            {
                "of_version": t.version,
                "threshold": t.threshold,
                "signed": list(t.signed),
                "unsigned": list(t.unsigned),
                "ok": t.ok,
            }
            for t in result.thresholds
        ],
    }


def run_verify(args: argparse.Namespace) -> int:
    draft = Directory.load(args.draft)
    now = datetime.now(UTC)
    if args.against is None:
        result = root_result(draft, now=now)
    else:
        result = update_result(Directory.load(args.against), draft, now=now)
    data = result_json(result)
    lines = [f"v{draft.version} digest {draft.digest[:16]}…: {'OK' if result.ok else 'NOT ACCEPTABLE'}"]
    lines += [
        f"  v{t.version} needs {t.threshold}: signed by {', '.join(t.signed) or 'none'}; not yet {', '.join(t.unsigned) or 'none'}"
        for t in result.thresholds
    ]
    lines += [f"  {r}: {m}" for r, m in result.problems]
    _emit(data, args.output, lines)
    return 0 if result.ok else EXIT_FAILED


def run_publish(args: argparse.Namespace) -> int:
    document = _read(args.draft)
    Directory.loads(document, source=str(args.draft))
    request = admin_pb2.PublishDirectoryRequest(document=document)
    try:
        response = call(
            args, lambda ch, timeout: admin_pb2_grpc.AdminStub(ch).PublishDirectory(request, timeout=timeout)
        )
    except grpc.RpcError as exc:
        return report_rpc_error(exc)
    print_message(response, args.output)
    return 0
