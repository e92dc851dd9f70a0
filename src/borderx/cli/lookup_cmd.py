"""``borderx lookup SCHEME:VALUE [--history]``: what a gateway knows about one party (Exchange.Lookup).

Each entry is shown with who said it (issuer#seq), what it is (designation, flag or
withdrawal) and its decoded body in brief, whether it is current (and why not), and its
provenance: when it was issued, by which key, and which peer it arrived from. A body the
caller may not read (outside the statement's audience) is shown as withheld. ``--output
json`` prints a list of the entries with their bodies decoded.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TextIO

import grpc

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc, statement_pb2
from borderx.cli import rpc
from borderx.cli.client import add_client_flags, call, to_dict
from borderx.cli.csvio import CellError, parse_identifier
from borderx.errors import BorderxError
from borderx.statements.bodies import Body, BodyType, Designation, PartyId, ViolationFlag
from borderx.statements.body_codec import body_to_proto, decode_body
from borderx.statements.encoding import envelope_from_proto


class LookupStub(Protocol):
    """What the CLI needs of ``ExchangeStub``: a fake with this method stands in for it in tests."""

    def Lookup(self, request: Any, *, timeout: float | None = ...) -> Any:  # noqa: N802 - the RPC's name
        ...


def lookup(stub: LookupStub, party: PartyId, *, history: bool = False, timeout: float | None = None) -> Any:
    """The ``LookupResponse`` for ``party``."""
    request = exchange_pb2.LookupRequest(
        id=statement_pb2.PartyId(scheme=party.scheme, value=party.value), include_history=history
    )
    return stub.Lookup(request, timeout=timeout)


@dataclass(frozen=True)
class EntryView:
    """One Lookup entry, decoded for display."""

    issuer: str
    seq: int
    kind: str
    current: bool
    status: str
    issued_at: datetime | None
    key_id: str
    verified: bool
    received_from: str
    header_digest: bytes
    audience: tuple[str, ...] = ()
    body: Body | None = None
    #: why the envelope could not be decoded ("" when it could)
    error: str = ""

    @property
    def ref(self) -> str:
        return f"{self.issuer}#{self.seq}"

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "issuer": self.issuer,
            "seq": self.seq,
            "kind": self.kind,
            "current": self.current,
            "status": self.status,
            "provenance": {
                "issued_at": _time(self.issued_at),
                "key_id": self.key_id,
                "verified": self.verified,
                "received_from": self.received_from,
                "header_digest": self.header_digest.hex(),
            },
            "audience": list(self.audience),
            "redacted": self.body is None and not self.error,
            "body": to_dict(body_to_proto(self.body)) if self.body is not None else None,
        }
        if self.error:
            data["error"] = self.error
        return data


def entry_view(entry: Any) -> EntryView:
    """Decode one ``LookupEntry``; an envelope that does not decode is kept with ``error`` set."""
    prov = entry.provenance
    view = EntryView(
        issuer=prov.issuer,
        seq=int(prov.seq),
        kind="?",
        current=bool(entry.current),
        status=entry.status,
        issued_at=prov.issued_at.ToDatetime(tzinfo=UTC) if prov.HasField("issued_at") else None,
        key_id=prov.key_id,
        verified=bool(prov.verified),
        received_from=prov.received_from,
        header_digest=bytes(prov.header_digest),
    )
    try:
        env = envelope_from_proto(entry.envelope)
        body = decode_body(BodyType(env.header.body_type), env.body) if env.body is not None else None
    except BorderxError as exc:
        return replace(view, error=str(exc))
    return replace(
        view,
        issuer=env.issuer,
        seq=env.seq,
        header_digest=env.digest,
        kind=env.header.body_type,
        audience=env.header.audience,
        body=body,
    )


def _time(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else ""


def _day(when: datetime | None) -> str:
    if when is None:
        return "-"
    return when.strftime("%Y-%m-%d") if when.time() == datetime.min.time() else _time(when)


def describe_body(body: Body) -> list[str]:
    """The lines that sum a body up: what it says, and about whom."""
    if isinstance(body, Designation):
        level = f" {body.level}" if body.level else ""
        status = body.status.value if body.status is not None else "?"
        lines = [
            f"{body.programme}{level}  {status}  member {body.member_id or '-'}  "
            f"valid {_day(body.valid_from)} .. {_day(body.valid_until)}"
        ]
        if body.status_reason:
            lines.append(f"reason: {body.status_reason}")
        if body.supersedes is not None:
            lines.append(f"supersedes {body.supersedes.issuer}#{body.supersedes.seq}")
        return [*lines, _party_line(body.party)]
    if isinstance(body, ViolationFlag):
        names = [v.value if v is not None else "?" for v in (body.category, body.evidence, body.severity)]
        outcomes = ", ".join(o.value for o in body.outcomes) or "-"
        return [
            f"{names[0]}  {names[1]}  severity {names[2]}  observed {_day(body.observed_at)}  "
            f"expires {_day(body.expires_at)}  outcomes {outcomes}",
            _party_line(body.subject),
        ]
    target = f"{body.target.issuer}#{body.target.seq}" if body.target is not None else "?"
    reason = body.reason.value if body.reason is not None else "?"
    lines = [f"withdraws {target}  reason {reason}  effective {_day(body.effective_at)}"]
    return [*lines, f"note: {body.note}"] if body.note else lines


def _party_line(party: Any) -> str:
    country = f" ({party.address.country})" if party.address is not None and party.address.country else ""
    ids = ", ".join(f"{i.scheme}:{i.value}" for i in party.ids)
    return f"party {party.legal_name}{country}  ids {ids}"


def print_entries(views: Sequence[EntryView], party: PartyId, out: TextIO | None = None) -> None:
    stream = out if out is not None else sys.stdout
    if not views:
        stream.write(f"nothing known about {party.scheme}:{party.value}\n")
        return
    for view in views:
        state = "current" if view.current else f"not current: {view.status or 'no reason given'}"
        stream.write(f"{view.ref}  {view.kind}  {state}\n")
        if view.error:
            lines = [f"cannot decode: {view.error}"]
        elif view.body is None:
            lines = ["body withheld: this agency is outside the statement's audience"]
        else:
            lines = describe_body(view.body)
        via = f"via {view.received_from}" if view.received_from else "published at this gateway"
        check = "verified" if view.verified else "NOT verified"
        lines.append(f"issued {_time(view.issued_at) or '?'}  key {view.key_id[:16]}…  {check}  {via}")
        if view.audience:
            lines.append(f"audience {', '.join(view.audience)}")
        for line in lines:
            stream.write(f"    {line}\n")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "lookup",
        help="what the gateway knows about one party (Exchange.Lookup)",
        description="Show the designations and flags a gateway holds about one party, from every "
        "issuer, with provenance. --history adds superseded, withdrawn and expired statements.",
    )
    parser.add_argument(
        "party", metavar="SCHEME:VALUE", help="an identifier, e.g. ABN:51824753556 or PLATFORM:amazon:A2X9K"
    )
    parser.add_argument(
        "--history", action="store_true", help="also superseded, withdrawn and expired statements"
    )
    add_client_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        party = parse_identifier(args.party)
    except CellError as exc:
        print(f"borderx: SCHEME:VALUE: {exc}", file=sys.stderr)
        return 2
    try:
        response = call(
            args,
            lambda channel, timeout: lookup(
                exchange_pb2_grpc.ExchangeStub(channel), party, history=args.history, timeout=timeout
            ),
        )
    except grpc.RpcError as exc:
        return rpc.report(exc)
    views = [entry_view(e) for e in response.entries]
    if args.output == "json":
        json.dump([v.as_json() for v in views], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_entries(views, party)
    return 1 if any(v.error for v in views) else 0
