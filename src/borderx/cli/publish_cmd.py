"""``borderx publish designation|flag|withdrawal``: one statement by hand (Exchange.Publish).

Also the Publish plumbing that ``borderx import`` shares: who the issuer is (the agency of
the client certificate), drafts as ``PublishItem``s, the idempotency key of a request (a
prefix and a hash of its content, so a repeated command replays instead of publishing
twice), the receipts of a response, and which item a refusal names (``items[3]…``).

The body is checked locally with ``borderx.statements.rules`` first, so a mistake is
reported against the option that carries it (``--id: identifier 1: ABN … fails its mod-89
check``) without a round trip; the gateway checks again and its verdict is what counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import grpc
from cryptography import x509

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.cli import rpc
from borderx.cli.client import add_client_flags, call
from borderx.cli.csvio import (
    CellError,
    bare_message,
    parse_country,
    parse_enum,
    parse_identifier,
    parse_statement_ref,
    parse_time,
)
from borderx.errors import BorderxError, ConfigError, InvalidArgument
from borderx.identity.principal import parse_spiffe_id
from borderx.identity.verifier import spiffe_ids_of
from borderx.statements.bodies import (
    Address,
    Body,
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Outcome,
    Party,
    PartyId,
    Severity,
    ViolationFlag,
    Withdrawal,
    WithdrawalReason,
    body_type_of,
)
from borderx.statements.body_codec import designation_to_proto, flag_to_proto, withdrawal_to_proto
from borderx.statements.encoding import decode_header
from borderx.statements.rules import validate_body

T = TypeVar("T")

#: the gateway refuses longer idempotency keys
MAX_IDEMPOTENCY_KEY = 256
#: longest ``--idempotency-prefix``; the rest of the key is the kind and a 64-digit hash
MAX_IDEMPOTENCY_PREFIX = 160

_PRINTABLE = re.compile(r"[\x21-\x7e]*")


class PublishStub(Protocol):
    """What the CLI needs of ``ExchangeStub``: a fake with this method stands in for it in tests."""

    def Publish(self, request: Any, *, timeout: float | None = ...) -> Any:  # noqa: N802 - the RPC's name
        ...


# ---------------------------------------------------------------- issuer, drafts, keys, receipts


def owners_from_args(args: argparse.Namespace) -> Mapping[str, str] | None:
    """Programme owners for the local pre-check: the ``--pki`` directory's, when there is one.

    Without a directory at hand the pre-check skips ownership; the gateway, which holds the
    signed directory, decides it either way.
    """
    from borderx.directory.model import Directory  # noqa: PLC0415

    path = args.pki / "directory.json" if args.pki is not None else None
    if path is None or not path.is_file():
        return None
    return Directory.load(path).programme_owners()


def issuer_from_args(args: argparse.Namespace) -> str:
    """The agency the gateway will sign for: ``--agency`` with ``--pki``, else the SPIFFE ID of ``--cert``."""
    if args.pki is not None:
        if not args.agency:
            raise ConfigError("--pki needs --agency (whose credentials to use)")
        return str(args.agency)
    if args.cert is None:
        raise ConfigError("give either --pki DIR --agency ID, or all of --ca, --cert and --key")
    try:
        pem = args.cert.read_bytes()
    except OSError as exc:
        raise ConfigError(f"--cert {args.cert}: cannot read it ({exc.strerror})") from exc
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ConfigError(f"--cert {args.cert}: not a PEM certificate") from None
    ids = spiffe_ids_of(cert)
    if len(ids) != 1:
        raise ConfigError(
            f"--cert {args.cert}: carries {len(ids)} SPIFFE IDs in its URI SAN; exactly one names the agency"
        )
    try:
        return parse_spiffe_id(ids[0]).agency
    except BorderxError as exc:
        raise ConfigError(f"--cert {args.cert}: {exc}") from None


def draft_item(body: Body, audience: Sequence[str] = ()) -> Any:
    """A ``PublishItem`` holding a draft of ``body`` for ``audience`` (empty = every member)."""
    draft = exchange_pb2.Draft(audience=list(audience))
    if isinstance(body, Designation):
        draft.designation.CopyFrom(designation_to_proto(body))
    elif isinstance(body, ViolationFlag):
        draft.flag.CopyFrom(flag_to_proto(body))
    elif isinstance(body, Withdrawal):
        draft.withdrawal.CopyFrom(withdrawal_to_proto(body))
    else:  # pragma: no cover - Body is a closed union
        raise TypeError(f"not a statement body: {type(body).__name__}")
    return exchange_pb2.PublishItem(draft=draft)


def request_key(prefix: str, items: Sequence[Any]) -> str:
    """``prefix`` + SHA-256 of the items: the same content gives the same key, so a retry replays."""
    content = exchange_pb2.PublishRequest(items=list(items)).SerializeToString(deterministic=True)
    return prefix + hashlib.sha256(content).hexdigest()


def check_prefix(text: str) -> str:
    """An argparse type for ``--idempotency-prefix``: printable ASCII without spaces, bounded."""
    if len(text) > MAX_IDEMPOTENCY_PREFIX or not _PRINTABLE.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_IDEMPOTENCY_PREFIX} printable ASCII characters without spaces"
        )
    return text


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the gateway signed: the statement's issuer, seq and header digest (SHA-256 of the header)."""

    issuer: str
    seq: int
    header_digest: bytes

    @property
    def ref(self) -> str:
        return f"{self.issuer}#{self.seq}"


def receipts_of(response: Any, expected: int) -> list[Receipt]:
    """The receipts of a ``PublishResponse`` that answers ``expected`` items, in request order."""
    statements = list(response.statements)
    if len(statements) != expected:
        raise BorderxError(f"the gateway returned {len(statements)} receipts for {expected} statements")
    receipts = []
    for statement in statements:
        header_bytes = bytes(statement.header)
        header = decode_header(header_bytes)
        receipts.append(Receipt(header.issuer, header.seq, hashlib.sha256(header_bytes).digest()))
    return receipts


@dataclass(frozen=True, slots=True)
class ItemRefusal:
    """The gateway refused item ``index`` of a request; ``field`` is the path inside the draft."""

    index: int
    field: str
    message: str


def refused_item(exc: grpc.RpcError, count: int) -> ItemRefusal | None:
    """The item an INVALID_ARGUMENT refusal names, read from its google.rpc field violations."""
    found = rpc.refused_index(exc, "items", count)
    if found is None:
        return None
    inside = found.field
    for kind in ("draft", "envelope"):
        if inside == kind or inside.startswith(kind + "."):
            inside = inside[len(kind) :].removeprefix(".")
    return ItemRefusal(found.index, inside, found.message)


def publish_one(stub: PublishStub, body: Body, *, audience: Sequence[str], key: str, timeout: float) -> Any:
    """Publish one draft; return the ``PublishResponse``."""
    item = draft_item(body, audience)
    request = exchange_pb2.PublishRequest(
        idempotency_key=key or request_key("publish-", [item]), items=[item]
    )
    return stub.Publish(request, timeout=timeout)


# ---------------------------------------------------------------- the command


def _arg(parse: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse ``type`` from a cell parser: its CellError becomes a usage error."""

    def convert(text: str) -> T:
        try:
            return parse(text)
        except CellError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


def _enum_arg(enum_cls: Any) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        return parse_enum(enum_cls, text)

    convert.__name__ = enum_cls.__name__
    return _arg(convert)


def _names(enum_cls: Any) -> str:
    return "|".join(m.value for m in enum_cls)


def _common(parser: argparse.ArgumentParser) -> None:
    add_client_flags(parser)
    parser.add_argument(
        "--audience",
        action="append",
        default=[],
        metavar="AGENCY",
        help="an agency that may read the body (repeatable; default: every member)",
    )
    parser.add_argument(
        "--idempotency-key",
        default="",
        metavar="KEY",
        help="idempotency key (default: 'publish-' and a hash of the statement, so repeating "
        "the command replays the first receipt instead of publishing twice)",
    )


def _party_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--legal-name", required=True, metavar="NAME", help="the party's legal name")
    parser.add_argument(
        "--country", type=_arg(parse_country), metavar="CC", help="ISO 3166-1 alpha-2, e.g. AU"
    )
    parser.add_argument(
        "--id",
        dest="ids",
        action="append",
        required=True,
        type=_arg(parse_identifier),
        metavar="SCHEME:VALUE",
        help="an identifier, e.g. ABN:51824753556 or PLATFORM:amazon:A2X9K (repeatable; split on the first colon)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = sub.add_parser(
        "publish",
        help="publish one designation, flag or withdrawal (Exchange.Publish)",
        description="Publish one statement by hand. The gateway signs it for the agency of the client "
        "certificate and returns the receipt. Times are ISO 8601: a date alone is 00:00:00 UTC, a "
        "timestamp needs Z or an offset.",
    )
    kinds = publish.add_subparsers(dest="kind", metavar="KIND", required=True)

    designation = kinds.add_parser(
        "designation",
        help="a known-shipper designation",
        description="Publish a known-shipper designation in a programme the agency owns.",
    )
    _common(designation)
    designation.add_argument(
        "--programme", required=True, type=str.upper, help="CTPAT, AU_ATT, NZ_SES, CA_PIP, UK_AEO, …"
    )
    designation.add_argument(
        "--member-id", default="", metavar="ID", help="the trader's number in the programme"
    )
    designation.add_argument(
        "--level", default="", type=str.upper, help="e.g. CTPAT_TIER_2, AEO_F (empty for none)"
    )
    designation.add_argument(
        "--status", required=True, type=_enum_arg(DesignationStatus), metavar=_names(DesignationStatus)
    )
    designation.add_argument("--valid-from", type=_arg(parse_time), metavar="TIME")
    designation.add_argument("--valid-until", type=_arg(parse_time), metavar="TIME")
    _party_options(designation)
    designation.add_argument("--status-reason", default="", metavar="TEXT", help="required unless CERTIFIED")
    designation.add_argument(
        "--supersedes",
        type=_arg(parse_statement_ref),
        metavar="ISSUER#SEQ",
        help="the designation this replaces",
    )
    designation.add_argument("--consent", action="store_true", help="the trader consented to sharing")
    designation.set_defaults(func=run, build=designation_from_args)

    flag = kinds.add_parser(
        "flag", help="a violation flag", description="Publish a violation flag against a party."
    )
    _common(flag)
    flag.add_argument(
        "--category",
        required=True,
        type=_enum_arg(FlagCategory),
        metavar="CATEGORY",
        help=_names(FlagCategory),
    )
    flag.add_argument("--evidence", required=True, type=_enum_arg(Evidence), metavar=_names(Evidence))
    flag.add_argument("--severity", required=True, type=_enum_arg(Severity), metavar=_names(Severity))
    flag.add_argument("--observed-at", required=True, type=_arg(parse_time), metavar="TIME")
    flag.add_argument("--expires-at", type=_arg(parse_time), metavar="TIME")
    _party_options(flag)
    flag.add_argument("--summary", default="", metavar="TEXT")
    flag.add_argument(
        "--outcome",
        dest="outcomes",
        action="append",
        default=[],
        type=_enum_arg(Outcome),
        metavar="OUTCOME",
        help=f"repeatable: {_names(Outcome)}",
    )
    flag.set_defaults(func=run, build=flag_from_args)

    withdrawal = kinds.add_parser(
        "withdrawal",
        help="withdraw an earlier statement of the same agency",
        description="Withdraw an earlier statement of the same agency. Nothing is deleted: history stays.",
    )
    _common(withdrawal)
    # A positional: --target is the gateway address among the client flags.
    withdrawal.add_argument(
        "statement",
        type=_arg(parse_statement_ref),
        metavar="ISSUER#SEQ",
        help="the statement withdrawn, e.g. US-CBP#12",
    )
    withdrawal.add_argument(
        "--reason", required=True, type=_enum_arg(WithdrawalReason), metavar=_names(WithdrawalReason)
    )
    withdrawal.add_argument("--note", default="", metavar="TEXT")
    withdrawal.add_argument("--effective-at", type=_arg(parse_time), metavar="TIME")
    withdrawal.set_defaults(func=run, build=withdrawal_from_args)


def _party(args: argparse.Namespace) -> Party:
    ids: list[PartyId] = list(args.ids)
    return Party(
        legal_name=args.legal_name,
        address=Address(country=args.country) if args.country else None,
        ids=tuple(ids),
    )


def designation_from_args(args: argparse.Namespace) -> Designation:
    return Designation(
        party=_party(args),
        programme=args.programme,
        member_id=args.member_id,
        level=args.level,
        status=args.status,
        valid_from=args.valid_from,
        valid_until=args.valid_until,
        status_reason=args.status_reason,
        consent_to_share=bool(args.consent),
        supersedes=args.supersedes,
    )


def flag_from_args(args: argparse.Namespace) -> ViolationFlag:
    return ViolationFlag(
        subject=_party(args),
        category=args.category,
        evidence=args.evidence,
        severity=args.severity,
        outcomes=tuple(args.outcomes),
        observed_at=args.observed_at,
        expires_at=args.expires_at,
        summary=args.summary,
    )


def withdrawal_from_args(args: argparse.Namespace) -> Withdrawal:
    return Withdrawal(
        target=args.statement, reason=args.reason, effective_at=args.effective_at, note=args.note
    )


_OPTION_FOR = {
    "ids": "--id",
    "legal_name": "--legal-name",
    "address": "--country",
    "outcomes": "--outcome",
    "target": "ISSUER#SEQ",
}


def option_for_field(field_path: str) -> str:
    """The option that carries a body field (``party.ids[0].value`` → ``--id``, ``status_reason`` → ``--status-reason``)."""
    parts = re.split(r"[.\[]", field_path)
    for prefix in ("designation", "flag", "withdrawal"):
        if parts and parts[0] == prefix:
            parts = parts[1:]
    if parts and parts[0] in ("party", "subject"):
        parts = parts[1:] or ["ids"]
    if not parts or not parts[0]:
        return ""
    return _OPTION_FOR.get(parts[0], "--" + parts[0].replace("_", "-"))


def explain(field_path: str, message: str) -> str:
    """A refusal in terms of options: ``--id: identifier 1: ABN … fails its mod-89 check``."""
    option = option_for_field(field_path)
    ids = re.search(r"\.ids\[([0-9]+)\]", field_path)
    if option == "--id" and ids is not None:
        message = f"identifier {int(ids.group(1)) + 1}: {message}"
    return f"{option}: {message}" if option else (f"{field_path}: {message}" if field_path else message)


def run(args: argparse.Namespace) -> int:
    body: Body = args.build(args)
    issuer = issuer_from_args(args)
    try:
        body = validate_body(body, issuer=issuer, owners=owners_from_args(args), now=datetime.now(UTC))
    except InvalidArgument as exc:
        raise InvalidArgument(explain(exc.field, bare_message(exc))) from None
    try:
        response = call(
            args,
            lambda channel, timeout: publish_one(
                exchange_pb2_grpc.ExchangeStub(channel),
                body,
                audience=args.audience,
                key=args.idempotency_key,
                timeout=timeout,
            ),
        )
    except grpc.RpcError as exc:
        refusal = refused_item(exc, 1)
        return rpc.report(exc, message=explain(refusal.field, refusal.message) if refusal else None)
    (receipt,) = receipts_of(response, 1)
    print_receipt(
        receipt, kind=body_type_of(body).value, replayed=bool(response.replayed), output=args.output
    )
    return 0


def print_receipt(receipt: Receipt, *, kind: str, replayed: bool, output: str) -> None:
    if output == "json":
        data = {
            "issuer": receipt.issuer,
            "seq": receipt.seq,
            "kind": kind,
            "header_digest": receipt.header_digest.hex(),
            "replayed": replayed,
        }
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    verb = "already published (same idempotency key; receipt replayed)" if replayed else "published"
    print(f"{verb} {kind} {receipt.ref}  header {receipt.header_digest.hex()[:16]}…")
