"""``borderx screen FILE.csv``: screen a batch of shipments (Exchange.Screen).

The file's columns are ``reference,identifiers,origin,declared_value,currency,hs_codes``
plus the optional shipper/consignee name, address, country, e-mail, phone, consignee
identifiers and goods description (``csvio``). Rows that do not parse are reported by row and column on stderr and left out;
the rest go to the gateway in batches of ``--batch-size`` and come back in request order.
Table output is one line per shipment; ``--output json`` is a list with one object per
shipment. A HOLD is a finding, not a failure: the exit code is 0 when every row was
screened, 1 when some row could not be read, 3 when the gateway refused or was unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

import grpc

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc, statement_pb2
from borderx.cli import rpc
from borderx.cli.client import add_client_flags, call
from borderx.cli.csvio import SCREENING_COLUMNS, ScreeningRow, Shipment, parse_screening, read_csv_text
from borderx.cli.import_cmd import Progress, positive_int
from borderx.errors import BorderxError
from borderx.statements.body_codec import party_to_proto

DEFAULT_BATCH_SIZE = 1000


class ScreenStub(Protocol):
    """What the CLI needs of ``ExchangeStub``: a fake with this method stands in for it in tests."""

    def Screen(self, request: Any, *, timeout: float | None = ...) -> Any:  # noqa: N802 - the RPC's name
        ...


class ScreenFailed(Exception):
    """The gateway refused a batch; ``row`` is the file row its message names, if it names one."""

    def __init__(self, error: grpc.RpcError, row: int | None) -> None:
        super().__init__(rpc.failure_of(error).message)
        self.error = error
        self.row = row


def shipment_to_proto(shipment: Shipment) -> Any:
    msg = exchange_pb2.Shipment(
        reference=shipment.reference,
        shipper_ids=[statement_pb2.PartyId(scheme=i.scheme, value=i.value) for i in shipment.shipper_ids],
        origin_country=shipment.origin_country,
        hs_codes=list(shipment.hs_codes),
        goods_description=shipment.goods_description,
    )
    if shipment.shipper is not None:
        msg.shipper.CopyFrom(party_to_proto(shipment.shipper))
    if shipment.consignee is not None:
        msg.consignee.CopyFrom(party_to_proto(shipment.consignee))
    if shipment.declared_value is not None:
        msg.declared_value.CopyFrom(
            statement_pb2.Money(
                currency=shipment.declared_value.currency, minor_units=shipment.declared_value.minor_units
            )
        )
    return msg


def screen_rows(
    stub: ScreenStub,
    rows: Sequence[ScreeningRow],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> list[tuple[ScreeningRow, Any]]:
    """``(row, ScreeningResult)`` for every row, in file order. Raises ScreenFailed on a refused batch."""
    out: list[tuple[ScreeningRow, Any]] = []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        request = exchange_pb2.ScreenRequest(shipments=[shipment_to_proto(r.shipment) for r in batch])
        try:
            response = stub.Screen(request, timeout=timeout)
        except grpc.RpcError as exc:
            raise ScreenFailed(exc, _row_named(exc, batch)) from None
        results = list(response.results)
        if len(results) != len(batch):
            raise BorderxError(f"the gateway returned {len(results)} results for {len(batch)} shipments")
        for row, result in zip(batch, results, strict=True):
            if result.reference != row.shipment.reference:
                raise BorderxError(
                    f"row {row.row}: the gateway answered for reference {result.reference!r}, "
                    f"not {row.shipment.reference!r}"
                )
            out.append((row, result))
        if progress is not None:
            progress.update(len(out))
    return out


def _row_named(exc: grpc.RpcError, batch: Sequence[ScreeningRow]) -> int | None:
    refusal = rpc.refused_index(exc, "shipments", len(batch))
    return None if refusal is None else batch[refusal.index].row


# ---------------------------------------------------------------- views


def _recommendation(number: int) -> str:
    name: str = exchange_pb2.Recommendation.Name(number)
    return name


def _enum_name(enum_type: Any, number: int) -> str:
    try:
        name: str = enum_type.Name(number)
    except ValueError:
        return str(number)
    return name


def match_view(match: Any) -> dict[str, Any]:
    """A ``borderx.v1.Match`` as plain data: basis, score, party, evidence."""
    return {
        "basis": match.basis,
        "score": round(float(match.score), 4),
        "party": match.party,
        "evidence": list(match.evidence),
    }


def _match_brief(item: dict[str, Any]) -> str:
    match = item.get("match")
    return f" [{match['basis']} {match['score']:.2f}]" if match else ""


def result_view(row: ScreeningRow, result: Any) -> dict[str, Any]:
    """One shipment's result as plain data (what ``--output json`` prints)."""
    return {
        "row": row.row,
        "reference": result.reference,
        "recommendation": _recommendation(result.recommendation),
        "designations": [
            {
                "issuer": d.provenance.issuer,
                "seq": int(d.provenance.seq),
                "programme": d.designation.programme,
                "level": d.designation.level,
                "status": _enum_name(statement_pb2.DesignationStatus, d.designation.status),
                "recognised": bool(d.recognised),
                **({"match": match_view(d.match)} if d.HasField("match") else {}),
            }
            for d in result.designations
        ],
        "flags": [
            {
                "issuer": f.provenance.issuer,
                "seq": int(f.provenance.seq),
                "category": _enum_name(statement_pb2.FlagCategory, f.flag.category),
                "evidence": _enum_name(statement_pb2.Evidence, f.flag.evidence),
                "severity": _enum_name(statement_pb2.Severity, f.flag.severity),
                "action": _recommendation(f.action),
                **({"match": match_view(f.match)} if f.HasField("match") else {}),
            }
            for f in result.flags
        ],
        "reasons": list(result.reasons),
    }


def _brief_designations(view: dict[str, Any]) -> str:
    parts = []
    for d in view["designations"]:
        what = f"{d['programme']}/{d['level']}" if d["level"] else d["programme"]
        mark = "recognised" if d["recognised"] else "not recognised"
        parts.append(f"{what} {d['issuer']}#{d['seq']} ({mark}){_match_brief(d)}")
    return ", ".join(parts) or "-"


def _brief_flags(view: dict[str, Any]) -> str:
    parts = [
        f"{f['category']}/{f['evidence']} {f['issuer']}#{f['seq']} → {f['action']}{_match_brief(f)}"
        for f in view["flags"]
    ]
    return ", ".join(parts) or "-"


def print_table(views: Sequence[dict[str, Any]], out: TextIO | None = None) -> None:
    stream = out if out is not None else sys.stdout
    header = ("ROW", "REFERENCE", "RECOMMENDATION", "DESIGNATIONS", "FLAGS", "REASON")
    lines = [
        (
            str(v["row"]),
            v["reference"],
            v["recommendation"],
            _brief_designations(v),
            _brief_flags(v),
            v["reasons"][0] if v["reasons"] else "-",
        )
        for v in views
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header) - 1)]
    for line in [header, *lines]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(line[:-1])]
        stream.write("  ".join([*cells, line[-1]]) + "\n")


# ---------------------------------------------------------------- the command


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "screen",
        help="screen shipments from a CSV file (Exchange.Screen)",
        description="Screen a batch of shipments against everything the gateway holds: matching\n"
        "designations, active flags, a recommendation (EXPEDITE, STANDARD, EXAMINE, HOLD) and reasons.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            f"CSV columns (header row required): {SCREENING_COLUMNS.spelt()}\n"
            "identifiers: the shipper's SCHEME:VALUE joined by ';'; hs_codes: joined by ';';\n"
            "declared_value: a decimal amount (129.95) in the currency's major unit.\n"
            "Exit: 0 every row screened, 1 a row could not be read, 2 bad file or flags,\n"
            "3 gateway unreachable/refused."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE.csv", help="the CSV file")
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"shipments per request (default {DEFAULT_BATCH_SIZE}; the gateway's limit is 10000 by default)",
    )
    add_client_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    parsed = parse_screening(read_csv_text(args.file))
    for err in parsed.errors:
        print(f"borderx: {args.file.name}: {err}", file=sys.stderr)
    results: list[tuple[ScreeningRow, Any]] = []
    if parsed.rows:
        progress = Progress(len(parsed.rows), label=f"screen {args.file.name}")
        try:
            results = call(
                args,
                lambda channel, timeout: screen_rows(
                    exchange_pb2_grpc.ExchangeStub(channel),
                    parsed.rows,
                    batch_size=args.batch_size,
                    timeout=timeout,
                    progress=progress,
                ),
            )
        except ScreenFailed as exc:
            if exc.row is not None:
                print(f"borderx: the gateway refused row {exc.row} of {args.file.name}:", file=sys.stderr)
            return rpc.report(exc.error)
        except grpc.RpcError as exc:
            return rpc.report(exc)
        finally:
            progress.close()
    views = [result_view(row, result) for row, result in results]
    if args.output == "json":
        json.dump(views, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_table(views)
    if parsed.errors:
        refused = len(parsed.refused_rows())
        print(
            f"borderx: {refused} of {parsed.total} rows could not be read and were not screened",
            file=sys.stderr,
        )
        return 1
    return 0
