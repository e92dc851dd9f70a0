"""``borderx admin …``: operator actions on a gateway (Admin RPCs; home-agency operators only).

- ``resume-issuer ISSUER``: accept an issuer's statements again after a suspension;
- ``suspend-issuer ISSUER --reason TEXT``: stop accepting them;
- ``reload``: re-read the directory and the gateway's TLS certificate (as SIGHUP does);
- ``export [--issuer ID …] [--dsse]``: every stored envelope, one per line (base64 of the
  serialised SignedStatement, the format `borderx dsse` reads) or as DSSE JSON lines;
- ``evidence [--issuer ID …]``: every piece of signed evidence the gateway kept
  (equivocation pairs, own-chain forgeries, bad signatures under a checkpoint, statements
  that broke an admission rule), redacted to signed headers, to hand to partners;
- ``receipt --partner ID``: the partner's signed receipt for our chain: its cosignature over
  the highest of our checkpoints it witnessed (base64 of the serialised SignedCosignature,
  with its decoded contents under ``--output json``).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from typing import Any

import grpc

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc
from borderx.cli import rpc
from borderx.cli.client import add_client_flags, call, print_message


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = sub.add_parser(
        "admin", help="operator actions (resume/suspend issuer, reload, export)", description=__doc__
    )
    actions = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    resume = actions.add_parser("resume-issuer", help="accept an issuer's statements again")
    resume.add_argument("issuer", metavar="ISSUER", help="agency id, e.g. NZ-CS")
    resume.set_defaults(func=run_resume)
    suspend = actions.add_parser("suspend-issuer", help="stop accepting an issuer's statements")
    suspend.add_argument("issuer", metavar="ISSUER", help="agency id, e.g. NZ-CS")
    suspend.add_argument("--reason", required=True, help="why (kept in the audit log)")
    suspend.set_defaults(func=run_suspend)
    reload = actions.add_parser("reload", help="re-read the directory and TLS certificate")
    reload.set_defaults(func=run_reload)
    export = actions.add_parser("export", help="stream every stored envelope")
    export.add_argument(
        "--issuer", action="append", default=[], metavar="ID", help="only this issuer (repeatable)"
    )
    export.add_argument(
        "--dsse", action="store_true", help="write DSSE JSON lines instead of base64 envelopes"
    )
    export.set_defaults(func=run_export)
    evidence = actions.add_parser(
        "evidence",
        help="export the signed evidence kept (equivocation, own chain, bad signatures, rule violations)",
    )
    evidence.add_argument(
        "--issuer", action="append", default=[], metavar="ID", help="only this issuer (repeatable)"
    )
    evidence.set_defaults(func=run_evidence)
    receipt = actions.add_parser(
        "receipt", help="export a partner's signed receipt (its cosignature over our checkpoint)"
    )
    receipt.add_argument("--partner", required=True, metavar="ID", help="the witnessing agency, e.g. NZ-CS")
    receipt.set_defaults(func=run_receipt)
    for parser in (resume, suspend, reload, export, evidence, receipt):
        add_client_flags(parser)


def _unary(args: argparse.Namespace, method: str, request: Any) -> int:
    try:
        response = call(
            args, lambda ch, timeout: getattr(admin_pb2_grpc.AdminStub(ch), method)(request, timeout=timeout)
        )
    except grpc.RpcError as exc:
        return rpc.report(exc)
    print_message(response, args.output)
    return 0


def run_resume(args: argparse.Namespace) -> int:
    return _unary(args, "ResumeIssuer", admin_pb2.ResumeIssuerRequest(issuer=args.issuer))


def run_suspend(args: argparse.Namespace) -> int:
    return _unary(
        args, "SuspendIssuer", admin_pb2.SuspendIssuerRequest(issuer=args.issuer, reason=args.reason)
    )


def run_reload(args: argparse.Namespace) -> int:
    return _unary(args, "ReloadDirectory", admin_pb2.ReloadDirectoryRequest())


def run_export(args: argparse.Namespace) -> int:
    from borderx.statements.dsse import to_dsse_json  # noqa: PLC0415
    from borderx.statements.encoding import envelope_from_proto  # noqa: PLC0415

    def fn(channel: grpc.Channel, timeout: float) -> int:
        stream = admin_pb2_grpc.AdminStub(channel).ExportStatements(
            admin_pb2.ExportStatementsRequest(issuers=args.issuer), timeout=None
        )
        count = 0
        for message in stream:
            if args.dsse:
                sys.stdout.write(json.dumps(to_dsse_json(envelope_from_proto(message))) + "\n")
            else:
                sys.stdout.write(
                    base64.b64encode(message.SerializeToString(deterministic=True)).decode() + "\n"
                )
            count += 1
        return count

    try:
        count = call(args, fn)
    except grpc.RpcError as exc:
        return rpc.report(exc)
    print(f"exported {count} statements", file=sys.stderr)
    return 0


def run_evidence(args: argparse.Namespace) -> int:
    return _unary(args, "ExportEvidence", admin_pb2.ExportEvidenceRequest(issuers=args.issuer))


def run_receipt(args: argparse.Namespace) -> int:
    from borderx.statements.encoding import signed_cosignature_from_wire  # noqa: PLC0415

    try:
        status: admin_pb2.GetStatusResponse = call(
            args,
            lambda ch, timeout: admin_pb2_grpc.AdminStub(ch).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=timeout
            ),
        )
    except grpc.RpcError as exc:
        return rpc.report(exc)
    found = [r for r in status.receipts if r.partner == args.partner]
    if not found:
        print(
            f"no receipt from {args.partner}: it has cosigned none of {status.agency}'s checkpoints",
            file=sys.stderr,
        )
        return 1
    r = found[0]
    wire = base64.b64encode(r.signed_cosignature).decode()
    if args.output != "json":
        print(wire)
        return 0
    scos = signed_cosignature_from_wire(r.signed_cosignature)
    cos = scos.cosignature
    cp = cos.checkpoint.checkpoint
    print(
        json.dumps(
            {
                "partner": r.partner,
                "issuer": cp.issuer,
                "seq": cp.seq,
                "head_digest": cp.head_digest.hex(),
                "checkpoint_time": cp.time.isoformat().replace("+00:00", "Z"),
                "witnessed_at": cos.time.isoformat().replace("+00:00", "Z"),
                "signatures": [
                    {"key_id": s.key_id, "sig": base64.b64encode(s.sig).decode()} for s in scos.signatures
                ],
                "signed_cosignature": wire,
            },
            indent=2,
        )
    )
    return 0
