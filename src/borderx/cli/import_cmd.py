"""``borderx import FILE.csv``: bulk publish designations or flags from a spreadsheet export.

How refused rows are found without blocking valid ones: every row is parsed and checked
locally (``csvio``: identifiers normalised, business rules as a statement of the agency of the
client certificate); the rows that pass go to the gateway in batches. The gateway is
all-or-nothing per request, so when it refuses a batch with INVALID_ARGUMENT naming
``items[i]…``, that row is marked refused and the rest of the batch is sent again. Each
request carries an idempotency key made of ``--idempotency-prefix`` and a hash of its
content, so running the same import again replays the receipts instead of publishing twice.

With ``--atomic`` nothing is published unless every row is accepted: any local refusal stops
the import before the first call, and all rows go in one request, so a refusal by the
gateway publishes none of them.

Exit codes: 0 every row accepted; 1 some row refused; 2 the file or the flags are wrong
(header, encoding, credentials); 3 the gateway could not be reached or refused a request
for a reason other than a row (the summary still says what was published before).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import grpc

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.cli import rpc
from borderx.cli.client import add_client_flags, call
from borderx.cli.csvio import (
    DESIGNATION_COLUMNS,
    FLAG_COLUMNS,
    CsvKind,
    ImportFile,
    ImportRow,
    RowError,
    parse_import,
    read_csv_text,
    row_error_for,
    validate_import,
)
from borderx.cli.publish_cmd import (
    PublishStub,
    Receipt,
    check_prefix,
    draft_item,
    issuer_from_args,
    owners_from_args,
    receipts_of,
    refused_item,
    request_key,
)
from borderx.errors import InvalidArgument

DEFAULT_BATCH_SIZE = 500
DEFAULT_PREFIX = "import-"
#: at most this many accepted rows are listed one by one in the table output
_LIST_ACCEPTED = 25


# ---------------------------------------------------------------- progress


class Progress:
    """Progress on stderr: a bar redrawn in place on a terminal, else a line every ``every`` seconds."""

    def __init__(
        self,
        total: int,
        *,
        label: str,
        stream: TextIO | None = None,
        tty: bool | None = None,
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        width: int = 30,
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self.clock = clock
        self.width = width
        self._last: float | None = None
        self._drawn = False

    def update(self, done: int, note: str = "") -> None:
        extra = f" ({note})" if note else ""
        if self.tty:
            filled = self.width * done // self.total if self.total else self.width
            bar = "#" * filled + "." * (self.width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}{extra}\x1b[K")
            self._drawn = True
        else:
            now = self.clock()
            if done < self.total and self._last is not None and now - self._last < self.every:
                return
            self._last = now
            self.stream.write(f"{self.label}: {done}/{self.total} rows{extra}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()


# ---------------------------------------------------------------- publishing rows


@dataclass
class ImportOutcome:
    """What publishing the valid rows did."""

    #: (row, receipt) of every accepted row, in file order
    accepted: list[tuple[int, Receipt]] = field(default_factory=list)
    #: rows the gateway refused
    refused: list[RowError] = field(default_factory=list)
    #: accepted rows whose receipts were replayed (published by an earlier run)
    replayed: int = 0
    #: the error that stopped the import, if one did
    failure: grpc.RpcError | None = None
    #: the first row of the batch that was being sent when it stopped
    stopped_at_row: int | None = None


def batches(rows: Sequence[ImportRow], size: int) -> list[list[ImportRow]]:
    return [list(rows[i : i + size]) for i in range(0, len(rows), size)]


def publish_rows(
    stub: PublishStub,
    rows: Sequence[ImportRow],
    *,
    kind: CsvKind,
    batch_size: int,
    atomic: bool = False,
    prefix: str = DEFAULT_PREFIX,
    audience: Sequence[str] = (),
    timeout: float | None = None,
    progress: Progress | None = None,
) -> ImportOutcome:
    """Publish ``rows`` in batches; a row the gateway refuses is reported and the rest resent.

    With ``atomic`` all rows go in one request and the first refusal ends the import with
    nothing published. An RPC error that names no row stops the import; ``failure`` holds it.
    """
    outcome = ImportOutcome()
    done = 0
    for batch in [list(rows)] if atomic else batches(rows, batch_size):
        pending = list(batch)
        while pending:
            items = [draft_item(r.body, audience) for r in pending]
            key = _key(prefix, kind, items)
            try:
                response = stub.Publish(
                    exchange_pb2.PublishRequest(idempotency_key=key, items=items), timeout=timeout
                )
            except grpc.RpcError as exc:
                refusal = refused_item(exc, len(pending))
                # An audience the gateway refuses is the command's, not a row's: every row would fail.
                if refusal is None or refusal.field.startswith("audience"):
                    outcome.failure, outcome.stopped_at_row = exc, pending[0].row
                    return outcome
                row = pending.pop(refusal.index)
                outcome.refused.append(row_error_for(kind, row.row, refusal.field, refusal.message))
                if atomic:
                    return outcome
                done += 1
                continue
            receipts = receipts_of(response, len(pending))
            outcome.accepted.extend((r.row, receipt) for r, receipt in zip(pending, receipts, strict=True))
            if response.replayed:
                outcome.replayed += len(pending)
            done += len(pending)
            pending = []
        if progress is not None:
            progress.update(done, f"accepted {len(outcome.accepted)}, refused {len(outcome.refused)}")
    return outcome


def _key(prefix: str, kind: CsvKind, items: Sequence[Any]) -> str:
    return request_key(f"{prefix}{kind}-", items)


# ---------------------------------------------------------------- the command


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "import",
        help="bulk publish designations or flags from a CSV file",
        description="Bulk publish designations or violation flags from a CSV spreadsheet export,\n"
        "as statements of the agency of the client certificate. Refused rows are reported by\n"
        "row number and column and do not block valid ones unless --atomic.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "CSV columns (header row required; names exactly as here, any order):\n"
            f"  designations: {DESIGNATION_COLUMNS.spelt()}\n"
            f"  flags:        {FLAG_COLUMNS.spelt()}\n"
            "The kind is told by the header (programme or category). identifiers: SCHEME:VALUE\n"
            "joined by ';', split on the first colon (PLATFORM:amazon:A2X9K). outcomes: joined by ';'.\n"
            "Times: ISO 8601; a date alone is 00:00:00 UTC; a timestamp needs Z or an offset.\n"
            "Rows are numbered like a spreadsheet (header = row 1). Re-running an import is safe:\n"
            "each request's idempotency key is the prefix and a hash of its content.\n"
            "Exit: 0 all accepted, 1 a row refused, 2 bad file or flags, 3 gateway unreachable/refused."
        ),
    )
    parser.add_argument("file", type=Path, metavar="FILE.csv", help="the CSV file")
    parser.add_argument(
        "--atomic", action="store_true", help="publish every row or none (all rows in one request)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=DEFAULT_BATCH_SIZE,
        metavar="N",
        help=f"rows per request (default {DEFAULT_BATCH_SIZE}; the gateway's limit is 1000 by default)",
    )
    parser.add_argument(
        "--idempotency-prefix",
        type=check_prefix,
        default=DEFAULT_PREFIX,
        metavar="P",
        help=f"prefix of each request's idempotency key (default {DEFAULT_PREFIX!r}); "
        "a new prefix publishes the same content again",
    )
    parser.add_argument(
        "--audience",
        action="append",
        default=[],
        metavar="AGENCY",
        help="an agency that may read the bodies (repeatable; default: every member)",
    )
    add_client_flags(parser)
    parser.set_defaults(func=run)


def positive_int(text: str) -> int:
    """An argparse type: a whole number of 1 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run(args: argparse.Namespace) -> int:
    parsed = parse_import(read_csv_text(args.file))
    issuer = issuer_from_args(args)
    checked = validate_import(parsed, issuer=issuer, owners=owners_from_args(args), now=datetime.now(UTC))
    if args.atomic and len(checked.rows) > args.batch_size:
        raise InvalidArgument(
            f"--atomic publishes every row in one request, and {len(checked.rows)} rows are more than "
            f"--batch-size {args.batch_size}; raise --batch-size (up to the gateway's limit, 1000 by "
            "default) or split the file"
        )
    outcome = ImportOutcome()
    if checked.rows and not (args.atomic and checked.errors):
        progress = Progress(len(checked.rows), label=f"import {args.file.name}")
        try:
            outcome = call(
                args,
                lambda channel, timeout: publish_rows(
                    exchange_pb2_grpc.ExchangeStub(channel),
                    checked.rows,
                    kind=checked.kind,
                    batch_size=args.batch_size,
                    atomic=args.atomic,
                    prefix=args.idempotency_prefix,
                    audience=args.audience,
                    timeout=timeout,
                    progress=progress,
                ),
            )
        finally:
            progress.close()
    summary = summarise(checked, outcome, atomic=args.atomic)
    if args.output == "json":
        json.dump(summary.as_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print_summary(summary, source=args.file.name, issuer=issuer)
    if outcome.failure is not None:
        print(
            f"borderx: stopped at row {outcome.stopped_at_row}; running the same command again is safe "
            "(batches already published are replayed, not published twice)",
            file=sys.stderr,
        )
        return rpc.report(outcome.failure)
    return 1 if summary.refused else 0


# ---------------------------------------------------------------- summary


@dataclass(frozen=True)
class Summary:
    kind: CsvKind
    total: int
    accepted: list[tuple[int, Receipt]]
    #: row → reason (reasons of one row joined by "; ")
    refused: dict[int, str]
    replayed: int
    #: rows that passed locally but were not published (--atomic, or the import stopped)
    unpublished: int
    atomic: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": len(self.accepted),
            "refused": [{"row": row, "reason": reason} for row, reason in self.refused.items()],
            "statements": [{"row": row, "issuer": r.issuer, "seq": r.seq} for row, r in self.accepted],
        }


def summarise(checked: ImportFile, outcome: ImportOutcome, *, atomic: bool) -> Summary:
    refused = checked.refused_rows()
    for err in outcome.refused:
        refused[err.row] = "; ".join(x for x in (refused.get(err.row), err.reason) if x)
    accepted = sorted(outcome.accepted, key=lambda a: a[0])
    return Summary(
        kind=checked.kind,
        total=checked.total,
        accepted=accepted,
        refused=dict(sorted(refused.items())),
        replayed=outcome.replayed,
        unpublished=len(checked.rows) - len(accepted) - len(outcome.refused),
        atomic=atomic,
    )


def print_summary(summary: Summary, *, source: str, issuer: str, out: TextIO | None = None) -> None:
    stream = out if out is not None else sys.stdout

    def write(line: str) -> None:
        stream.write(line + "\n")

    write(
        f"import {source} ({summary.kind} as {issuer}): {len(summary.accepted)} accepted, "
        f"{len(summary.refused)} refused, of {summary.total} rows"
    )
    if summary.replayed:
        write(f"  {summary.replayed} of the accepted were published by an earlier run (receipts replayed)")
    if summary.unpublished:
        why = "--atomic: nothing was published" if summary.atomic else "the import stopped"
        write(f"  {summary.unpublished} valid rows were not published ({why})")
    if summary.refused:
        write("refused:")
        for row, reason in summary.refused.items():
            write(f"  row {row:<6} {reason}")
    if summary.accepted:
        write("accepted:")
        for row, receipt in summary.accepted[:_LIST_ACCEPTED]:
            write(f"  row {row:<6} {receipt.ref}  header {receipt.header_digest.hex()[:16]}…")
        if len(summary.accepted) > _LIST_ACCEPTED:
            write(f"  … and {len(summary.accepted) - _LIST_ACCEPTED} more (--output json lists every row)")
