"""``borderx status``, ``borderx peers``, ``borderx alarms``: what a gateway is doing (Admin RPCs)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import grpc

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc
from borderx.cli import rpc
from borderx.cli.client import add_client_flags, call, print_message, to_dict


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = sub.add_parser(
        "status",
        help="show a gateway's status (Admin.GetStatus)",
        description=(
            "Show a gateway's status: directory, store, per-issuer heads and freshness, peers, "
            "days left on this gateway's certificate and on every member's CA certificates and "
            "signing keys, alarms."
        ),
    )
    add_client_flags(status)
    status.set_defaults(func=run_status)
    peers = sub.add_parser(
        "peers",
        help="show replication peers and their lag",
        description="Show each replication peer: connected, last message, lag in statements and seconds.",
    )
    add_client_flags(peers)
    peers.set_defaults(func=run_peers)
    alarms = sub.add_parser(
        "alarms",
        help="list (and acknowledge) alarms",
        description="List a gateway's alarms (gaps, equivocation, bad statements from peers …).",
    )
    alarms.add_argument("--all", action="store_true", help="include acknowledged alarms")
    alarms.add_argument(
        "--ack", metavar="ID", action="append", default=[], help="acknowledge alarm ID (repeatable)"
    )
    add_client_flags(alarms)
    alarms.set_defaults(func=run_alarms)


def _status(args: argparse.Namespace) -> admin_pb2.GetStatusResponse:
    response: admin_pb2.GetStatusResponse = call(
        args,
        lambda channel, timeout: admin_pb2_grpc.AdminStub(channel).GetStatus(
            admin_pb2.GetStatusRequest(), timeout=timeout
        ),
    )
    return response


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def run_status(args: argparse.Namespace) -> int:
    try:
        status = _status(args)
    except grpc.RpcError as exc:
        return rpc.report(exc)
    if args.output == "json":
        print_message(status, "json")
        return 0
    print(
        f"{status.agency} in {status.federation} (directory v{status.directory_version}), borderx {status.version}"
    )
    if status.directory_digest:
        expires = status.directory_expires.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"directory digest {status.directory_digest[:16]}…, expires {expires}")
    size = f"{status.store_bytes / 1e6:.1f} MB" if status.store_bytes else "size unknown"
    print(
        f"up {_ago(status.uptime_seconds)}, store {status.store_location} ({size}), "
        f"{status.statement_count} statements"
    )
    if status.issuers:
        print()
        _table(
            [
                [
                    i.issuer,
                    str(i.head_seq),
                    str(i.checkpoint_seq),
                    _ago(i.checkpoint_age_seconds) if i.HasField("checkpoint_time") else "-",
                    "SUSPENDED" if i.suspended else "",
                ]
                for i in status.issuers
            ],
            ["ISSUER", "HEAD", "CHECKPOINT", "AGE", ""],
        )
    if status.peers:
        print()
        _print_peers(status)
    if status.receipts:
        print()
        _print_receipts(status)
    if status.expiries:
        print()
        _print_expiries(status)
    # open_alarms counts them all (a gateway older than it sends 0: count the list)
    opened = status.open_alarms or sum(not a.acknowledged for a in status.alarms)
    print(f"\n{opened} open alarm(s)" + (": see `borderx alarms`" if opened else ""))
    return 0


#: Below this many days left, an expiry is marked for attention (the alert rules fire at 14).
EXPIRY_ATTENTION_DAYS = 30


def _print_expiries(status: admin_pb2.GetStatusResponse) -> None:
    rows = []
    for e in status.expiries:
        if e.HasField("days_left"):
            left = f"{e.days_left:.0f}"
            until = e.not_after.ToDatetime().strftime("%Y-%m-%d")
            mark = "EXPIRED" if e.days_left < 0 else ("SOON" if e.days_left < EXPIRY_ATTENTION_DAYS else "")
        else:
            left, until, mark = "-", "no end", ""
        if e.status == "revoked":
            mark = "REVOKED"
        subject = e.subject if e.kind != "signing_key" else f"{e.subject[:16]}…"
        rows.append([e.agency, e.kind, subject, until, left, mark])
    _table(rows, ["AGENCY", "EXPIRES", "SUBJECT", "UNTIL", "DAYS LEFT", ""])


def _print_receipts(status: admin_pb2.GetStatusResponse) -> None:
    """Per partner, the highest of our seqs it cosigned: its signed receipt up to there."""
    _table(
        [
            [
                r.partner,
                str(r.seq),
                r.witnessed_at.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ"),
            ]
            for r in status.receipts
        ],
        ["RECEIPT FROM", f"{status.agency} SEQ", "WITNESSED AT"],
    )


def _print_peers(status: admin_pb2.GetStatusResponse) -> None:
    _table(
        [
            [
                p.agency,
                p.endpoint,
                "up" if p.connected else "DOWN",
                str(p.lag_statements),
                f"{p.lag_seconds:.1f}s",
                str(p.stored),
                str(p.held_back),
                p.last_error[:60],
            ]
            for p in status.peers
        ],
        ["PEER", "ENDPOINT", "STREAM", "LAG", "LAG-AGE", "STORED", "HELD-BACK", "LAST ERROR"],
    )


def run_peers(args: argparse.Namespace) -> int:
    try:
        status = _status(args)
    except grpc.RpcError as exc:
        return rpc.report(exc)
    if args.output == "json":
        json.dump([to_dict(p) for p in status.peers], sys.stdout, indent=2)
        print()
    elif status.peers:
        _print_peers(status)
    else:
        print("no replication peers configured")
    down = [p for p in status.peers if not p.connected]
    return 1 if down else 0


def run_alarms(args: argparse.Namespace) -> int:
    def fn(channel: grpc.Channel, timeout: float) -> Any:
        stub = admin_pb2_grpc.AdminStub(channel)
        for alarm_id in args.ack:
            stub.AcknowledgeAlarm(admin_pb2.AcknowledgeAlarmRequest(id=alarm_id), timeout=timeout)
        # every page: ListAlarms serves at most 1000 alarms a call
        request = admin_pb2.ListAlarmsRequest(include_acknowledged=args.all, page_size=1000)
        whole = admin_pb2.ListAlarmsResponse()
        while True:
            page = stub.ListAlarms(request, timeout=timeout)
            whole.alarms.extend(page.alarms)
            if not page.next_page_token:
                return whole
            request.page_token = page.next_page_token

    try:
        response = call(args, fn)
    except grpc.RpcError as exc:
        return rpc.report(exc)
    if args.output == "json":
        json.dump([to_dict(a) for a in response.alarms], sys.stdout, indent=2)
        print()
        return 0
    if not response.alarms:
        print("no alarms" if args.all else "no open alarms")
        return 0
    _table(
        [
            [a.id, a.kind, a.issuer, str(a.count), "acked" if a.acknowledged else "OPEN", a.detail[:100]]
            for a in response.alarms
        ],
        ["ID", "KIND", "ISSUER", "COUNT", "STATE", "DETAIL"],
    )
    return 0
