"""The import, screen, lookup and publish commands: argparse wiring, and their RPC logic against fakes.

The fakes stand in for ``ExchangeStub``: ``FakeExchange.Publish`` behaves like the gateway
(all or nothing per request, INVALID_ARGUMENT naming ``items[i]…``, idempotent on the key)
and signs real envelopes, so receipts are decoded as they would be from a gateway.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc, statement_pb2
from borderx.cli import csvio, import_cmd, lookup_cmd, publish_cmd, screen_cmd, search_cmd
from borderx.cli.csvio import CsvHeaderError, CsvKind, ImportRow, RowError
from borderx.cli.import_cmd import Progress, publish_rows
from borderx.errors import ConfigError, InvalidArgument
from borderx.identity.devpki import DEV_PROGRAMMES, issue_certificate, make_ca, pem_cert
from borderx.server.status import status_of
from borderx.statements.bodies import (
    Address,
    BodyType,
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Outcome,
    Party,
    PartyId,
    Severity,
    StatementRef,
    ViolationFlag,
    Withdrawal,
    WithdrawalReason,
)
from borderx.statements.body_codec import encode_body, flag_from_proto
from borderx.statements.encoding import envelope_to_proto
from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.signing import Signer, sign_statement

DATA = Path(__file__).resolve().parents[2] / "data" / "csv"
MODULES = (import_cmd, screen_cmd, lookup_cmd, publish_cmd, search_cmd)
CLIENT = ["--pki", "/nonexistent/pki", "--agency", "US-CBP"]
T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)

D_HEADER = "programme,member_id,level,status,valid_from,valid_until,legal_name,country,identifiers"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="borderx")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in MODULES:
        module.register(sub)
    return parser


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(list(argv))


# ---------------------------------------------------------------- fakes


class FakeRpcError(grpc.RpcError):  # type: ignore[misc]
    """What a stub raises: an RpcError with the grpc.Call accessors.

    An INVALID_ARGUMENT whose details read ``path: message`` carries the google.rpc
    BadRequest the gateway would send for it, built by the server's own code.
    """

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._code, self._details = code, details
        self._trailers: tuple[tuple[str, bytes], ...] = ()
        path, sep, message = details.partition(": ")
        if code == grpc.StatusCode.INVALID_ARGUMENT and sep and " " not in path:
            status = status_of(InvalidArgument(message, field=path))
            assert status.details == details
            self._trailers = tuple(status.trailing_metadata)

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, bytes], ...]:
        return self._trailers


class FakeExchange:
    """A gateway in miniature: signs drafts of ``issuer``, all or nothing per request, idempotent.

    ``refuse(item) -> str | None`` returns the field and message of a refusal (relative to the
    draft, e.g. ``designation.party.ids[0].value: …``); ``fail_on`` makes call N (1-based)
    raise ``failure`` instead.
    """

    def __init__(
        self,
        *,
        issuer: str = "US-CBP",
        refuse: Callable[[Any], str | None] | None = None,
        fail_on: int | None = None,
        failure: grpc.RpcError | None = None,
    ) -> None:
        self.issuer = issuer
        self.refuse = refuse or (lambda item: None)
        self.fail_on, self.failure = fail_on, failure
        self.signer = Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"fake").digest()))
        self.seq, self.prev = 0, GENESIS_DIGEST
        self.requests: list[Any] = []
        self.timeouts: list[float | None] = []
        self.published: list[Any] = []
        self.receipts: dict[str, list[Any]] = {}

    def Publish(self, request: Any, *, timeout: float | None = None) -> Any:
        self.requests.append(request)
        self.timeouts.append(timeout)
        if self.fail_on == len(self.requests) and self.failure is not None:
            raise self.failure
        if request.idempotency_key in self.receipts:
            return exchange_pb2.PublishResponse(
                statements=self.receipts[request.idempotency_key], replayed=True
            )
        for i, item in enumerate(request.items):
            reason = self.refuse(item)
            if reason is not None:
                raise FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, f"items[{i}].draft.{reason}")
        statements = [self._sign(item) for item in request.items]
        self.receipts[request.idempotency_key] = statements
        self.published.extend(request.items)
        return exchange_pb2.PublishResponse(statements=statements, replayed=False)

    def _sign(self, item: Any) -> Any:
        kind = item.draft.WhichOneof("body")
        body = getattr(item.draft, kind).SerializeToString(deterministic=True)
        self.seq += 1
        env = sign_statement(
            self.signer,
            issuer=self.issuer,
            seq=self.seq,
            prev_digest=self.prev,
            issued_at=T0,
            audience=tuple(item.draft.audience),
            body_type="flag" if kind == "flag" else kind,
            body=body,
        )
        self.prev = env.digest
        return envelope_to_proto(env)


def designation_rows(*member_ids: str) -> list[ImportRow]:
    lines = [D_HEADER] + [
        f"CTPAT,{m},CTPAT_TIER_2,CERTIFIED,2026-01-01,2029-01-01,Trader {m},US,US_IOR:95-123456700"
        for m in member_ids
    ]
    parsed = csvio.parse_import("\n".join(lines) + "\n")
    assert parsed.errors == ()
    return list(parsed.rows)


def refuse_member(member_id: str, reason: str) -> Callable[[Any], str | None]:
    return lambda item: reason if item.draft.designation.member_id == member_id else None


def quiet() -> Progress:
    return Progress(1, label="t", stream=io.StringIO(), tty=False)


# ---------------------------------------------------------------- argparse wiring


@pytest.mark.parametrize(
    "argv",
    [
        ["import", "--help"],
        ["screen", "--help"],
        ["lookup", "--help"],
        ["search", "--help"],
        ["publish", "--help"],
        ["publish", "designation", "--help"],
        ["publish", "flag", "--help"],
        ["publish", "withdrawal", "--help"],
    ],
)
def test_every_command_has_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--output" in out or argv == ["publish", "--help"]


def test_import_help_spells_the_column_contract(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse("import", "--help")
    out = capsys.readouterr().out
    assert (
        "programme,member_id,level,status,valid_from,valid_until,legal_name,country,identifiers[,status_reason]"
        in out
    )
    assert (
        "category,evidence,severity,observed_at,expires_at,legal_name,country,identifiers,summary[,outcomes]"
        in out
    )


def test_import_flags_and_defaults() -> None:
    args = parse("import", "x.csv", *CLIENT)
    assert (args.file, args.atomic, args.batch_size, args.idempotency_prefix) == (
        Path("x.csv"),
        False,
        500,
        "import-",
    )
    assert (args.role, args.output, args.timeout, args.audience) == ("operator", "table", 30.0, [])
    assert args.func is import_cmd.run
    args = parse(
        "import", "x.csv", "--atomic", "--batch-size", "20", "--idempotency-prefix", "nightly-2026-11-27-",
        "--audience", "NZ-CS", "--output", "json", "--role", "service", *CLIENT,
    )  # fmt: skip
    assert (args.atomic, args.batch_size, args.idempotency_prefix, args.audience) == (
        True, 20, "nightly-2026-11-27-", ["NZ-CS"],
    )  # fmt: skip
    assert (args.output, args.role) == ("json", "service")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["import", "x.csv", "--batch-size", "0"], "must be 1 or more"),
        (["import", "x.csv", "--batch-size", "many"], "'many' is not a whole number"),
        (
            ["import", "x.csv", "--idempotency-prefix", "has space"],
            "printable ASCII characters without spaces",
        ),
        (["import"], "the following arguments are required: FILE.csv"),
        (["screen", "x.csv", "--batch-size", "-3"], "must be 1 or more"),
        (["lookup"], "the following arguments are required: SCHEME:VALUE"),
        (["publish"], "the following arguments are required: KIND"),
        (
            ["publish", "designation", "--programme", "CTPAT", "--status", "CERTIFIED", "--legal-name", "X"],
            "--id",
        ),
        (
            [
                "publish",
                "designation",
                "--programme",
                "CTPAT",
                "--status",
                "ACTIVE",
                "--legal-name",
                "X",
                "--id",
                "ABN:51824753556",
            ],
            "'ACTIVE' is not one of CERTIFIED, SUSPENDED, REVOKED",
        ),
        (
            [
                "publish",
                "designation",
                "--programme",
                "AU_ATT",
                "--status",
                "CERTIFIED",
                "--legal-name",
                "X",
                "--id",
                "ABN:51824753557",
            ],
            "ABN 51824753557 fails its mod-89 check",
        ),
        (
            [
                "publish",
                "designation",
                "--programme",
                "AU_ATT",
                "--status",
                "CERTIFIED",
                "--legal-name",
                "X",
                "--id",
                "ABN:51824753556",
                "--valid-from",
                "2026-01-01T00:00",
            ],
            "has no time zone",
        ),
        (["publish", "withdrawal", "US-CBP", "--reason", "ISSUED_IN_ERROR"], "is not ISSUER#SEQ"),
        (["publish", "flag", "--category", "IPR_COUNTERFEIT"], "required"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_screen_and_lookup_flags() -> None:
    args = parse("screen", "ship.csv", "--batch-size", "250", "--output", "json", *CLIENT)
    assert (args.file, args.batch_size, args.output, args.func) == (
        Path("ship.csv"),
        250,
        "json",
        screen_cmd.run,
    )
    assert parse("screen", "ship.csv", *CLIENT).batch_size == 1000
    args = parse("lookup", "PLATFORM:amazon:A2X9K", "--history", *CLIENT)
    assert (args.party, args.history, args.func) == ("PLATFORM:amazon:A2X9K", True, lookup_cmd.run)


def test_publish_designation_options_build_the_body() -> None:
    args = parse(
        "publish", "designation", "--programme", "ctpat", "--member-id", "CTPAT-5512870", "--level", "ctpat_tier_3",
        "--status", "suspended", "--valid-from", "2025-06-01", "--valid-until", "2028-05-31T23:59:59-05:00",
        "--legal-name", "Great Lakes Precision Parts Inc.", "--country", "us", "--id", "US_IOR:95-123456700",
        "--id", "PLATFORM:amazon:A1GREAT", "--status-reason", "Validation overdue", "--supersedes", "US-CBP#4",
        "--audience", "NZ-CS", "--audience", "CA-CBSA", "--consent", *CLIENT,
    )  # fmt: skip
    body = args.build(args)
    assert body == Designation(
        party=Party(
            legal_name="Great Lakes Precision Parts Inc.",
            address=Address(country="US"),
            ids=(PartyId("US_IOR", "95-123456700"), PartyId("PLATFORM", "amazon:A1GREAT")),
        ),
        programme="CTPAT",
        member_id="CTPAT-5512870",
        level="CTPAT_TIER_3",
        status=DesignationStatus.SUSPENDED,
        valid_from=datetime(2025, 6, 1, tzinfo=UTC),
        valid_until=datetime(2028, 6, 1, 4, 59, 59, tzinfo=UTC),
        status_reason="Validation overdue",
        consent_to_share=True,
        supersedes=StatementRef("US-CBP", 4),
    )
    assert args.audience == ["NZ-CS", "CA-CBSA"]


def test_publish_flag_and_withdrawal_options_build_the_body() -> None:
    args = parse(
        "publish", "flag", "--category", "ipr_counterfeit", "--evidence", "CONFIRMED", "--severity", "HIGH",
        "--observed-at", "2026-11-06T09:30:00Z", "--legal-name", "Brightstar", "--id", "PLATFORM:amazon:A2X9K",
        "--summary", "Counterfeit handbags", "--outcome", "SEIZURE", "--outcome", "destruction", *CLIENT,
    )  # fmt: skip
    assert args.build(args) == ViolationFlag(
        subject=Party(legal_name="Brightstar", ids=(PartyId("PLATFORM", "amazon:A2X9K"),)),
        category=FlagCategory.IPR_COUNTERFEIT,
        evidence=Evidence.CONFIRMED,
        severity=Severity.HIGH,
        outcomes=(Outcome.SEIZURE, Outcome.DESTRUCTION),
        observed_at=datetime(2026, 11, 6, 9, 30, tzinfo=UTC),
        summary="Counterfeit handbags",
    )
    args = parse(
        "publish", "withdrawal", "US-CBP#12", "--reason", "ISSUED_IN_ERROR", "--note", "duplicate", *CLIENT
    )
    assert args.build(args) == Withdrawal(
        target=StatementRef("US-CBP", 12), reason=WithdrawalReason.ISSUED_IN_ERROR, note="duplicate"
    )
    assert args.target is None  # --target stays the gateway address


@pytest.mark.parametrize(
    ("path", "explained"),
    [
        ("party.ids[1].value", "--id: identifier 2: bad"),
        ("designation.party.legal_name", "--legal-name: bad"),
        ("party.address.country", "--country: bad"),
        ("status_reason", "--status-reason: bad"),
        ("designation.status", "--status: bad"),
        ("flag.subject.ids[0].scheme", "--id: identifier 1: bad"),
        ("outcomes[1]", "--outcome: bad"),
        ("withdrawal.target", "ISSUER#SEQ: bad"),
        ("supersedes.issuer", "--supersedes: bad"),
        ("", "bad"),
    ],
)
def test_refusals_are_explained_in_terms_of_options(path: str, explained: str) -> None:
    assert publish_cmd.explain(path, "bad") == explained


# ---------------------------------------------------------------- issuer from the client certificate


def test_issuer_is_the_agency_with_pki() -> None:
    assert publish_cmd.issuer_from_args(parse("lookup", "ABN:51824753556", *CLIENT)) == "US-CBP"
    with pytest.raises(ConfigError, match="--pki needs --agency"):
        publish_cmd.issuer_from_args(parse("lookup", "ABN:51824753556", "--pki", "x"))


def test_issuer_is_read_from_the_spiffe_id_of_the_certificate(tmp_path: Path) -> None:
    ca = make_ca("NZ-CS test CA")
    good, _ = issue_certificate(
        ca, common_name="svc", uris=["spiffe://border5.test/agency/NZ-CS/service/risk-engine"]
    )
    none, _ = issue_certificate(ca, common_name="plain")
    (tmp_path / "good.pem").write_bytes(pem_cert(good))
    (tmp_path / "none.pem").write_bytes(pem_cert(none))
    (tmp_path / "junk.pem").write_bytes(b"not a certificate")

    def args(cert: str) -> argparse.Namespace:
        return parse(
            "lookup", "ABN:51824753556", "--ca", "ca.pem", "--cert", str(tmp_path / cert), "--key", "k"
        )

    assert publish_cmd.issuer_from_args(args("good.pem")) == "NZ-CS"
    with pytest.raises(ConfigError, match=r"carries 0 SPIFFE IDs in its URI SAN"):
        publish_cmd.issuer_from_args(args("none.pem"))
    with pytest.raises(ConfigError, match=r"not a PEM certificate"):
        publish_cmd.issuer_from_args(args("junk.pem"))
    with pytest.raises(ConfigError, match=r"cannot read it"):
        publish_cmd.issuer_from_args(args("missing.pem"))
    with pytest.raises(ConfigError, match=r"give either --pki DIR --agency ID"):
        publish_cmd.issuer_from_args(parse("lookup", "ABN:51824753556"))


# ---------------------------------------------------------------- which item a refusal names


@pytest.mark.parametrize(
    ("details", "count", "expected"),
    [
        (
            "items[3].draft.designation.party.ids[0].value: ABN 1 is bad",
            5,
            publish_cmd.ItemRefusal(3, "designation.party.ids[0].value", "ABN 1 is bad"),
        ),
        (
            "items[0].draft.status: unknown DesignationStatus value 9",
            1,
            publish_cmd.ItemRefusal(0, "status", "unknown DesignationStatus value 9"),
        ),
        (
            "items[1]: needs a draft or an envelope",
            2,
            publish_cmd.ItemRefusal(1, "", "needs a draft or an envelope"),
        ),
        (
            "items[0].draft: needs one of designation, flag or withdrawal",
            1,
            publish_cmd.ItemRefusal(0, "", "needs one of designation, flag or withdrawal"),
        ),
        ("items[5].draft.designation.level: bad", 5, None),  # no such item in this request
        ("idempotency_key: is longer than 256 characters", 5, None),
        ("items: is empty; send at least one draft or envelope", 5, None),
    ],
)
def test_refused_item(details: str, count: int, expected: publish_cmd.ItemRefusal | None) -> None:
    exc = FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, details)
    assert publish_cmd.refused_item(exc, count) == expected


def test_an_item_is_named_by_the_details_not_by_the_message_text() -> None:
    exc = FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "items[0].draft.level: bad")
    exc._trailers = ()  # an older gateway: the same text, no google.rpc details
    assert publish_cmd.refused_item(exc, 1) is None


def test_only_invalid_argument_names_an_item() -> None:
    exc = FakeRpcError(grpc.StatusCode.PERMISSION_DENIED, "items[0].draft.designation.programme: no")
    assert publish_cmd.refused_item(exc, 1) is None


# ---------------------------------------------------------------- import: publishing rows


def test_rows_are_published_in_batches_with_receipts_per_row() -> None:
    stub = FakeExchange()
    stream = io.StringIO()
    progress = Progress(5, label="import x.csv", stream=stream, tty=False, every=0)
    rows = designation_rows("M1", "M2", "M3", "M4", "M5")
    outcome = publish_rows(
        stub, rows, kind=CsvKind.DESIGNATIONS, batch_size=2, timeout=7.0, progress=progress
    )
    assert [len(r.items) for r in stub.requests] == [2, 2, 1]
    assert stub.timeouts == [7.0, 7.0, 7.0]
    assert [(row, r.issuer, r.seq) for row, r in outcome.accepted] == [
        (2 + i, "US-CBP", 1 + i) for i in range(5)
    ]
    assert outcome.refused == [] and outcome.failure is None
    keys = [r.idempotency_key for r in stub.requests]
    assert len(set(keys)) == 3
    assert all(
        k.startswith("import-designations-") and len(k) == len("import-designations-") + 64 for k in keys
    )
    assert stream.getvalue().splitlines() == [
        "import x.csv: 2/5 rows (accepted 2, refused 0)",
        "import x.csv: 4/5 rows (accepted 4, refused 0)",
        "import x.csv: 5/5 rows (accepted 5, refused 0)",
    ]


@pytest.mark.parametrize(
    ("reason", "column", "message"),
    [
        (
            "designation.party.ids[0].value: US_IOR value is not an importer of record number",
            "identifiers",
            "identifier 1: US_IOR value is not an importer of record number",
        ),
        (
            "designation.status: a REVOKED designation cannot become CERTIFIED",
            "status",
            "a REVOKED designation cannot become CERTIFIED",
        ),
        (
            "designation.supersedes: US-CBP#99 does not exist",
            "",
            "designation.supersedes: US-CBP#99 does not exist",
        ),
    ],
)
def test_a_row_the_gateway_refuses_is_reported_and_the_rest_published(
    reason: str, column: str, message: str
) -> None:
    stub = FakeExchange(refuse=refuse_member("M3", reason))
    rows = designation_rows("M1", "M2", "M3", "M4", "M5", "M6")
    outcome = publish_rows(stub, rows, kind=CsvKind.DESIGNATIONS, batch_size=4, progress=quiet())
    assert outcome.refused == [RowError(4, column, message)]
    assert [row for row, _ in outcome.accepted] == [2, 3, 5, 6, 7]
    assert [r.seq for _, r in outcome.accepted] == [1, 2, 3, 4, 5]
    # batch 1 was refused as a whole, resent without row 4, then batch 2 went through
    assert [[i.draft.designation.member_id for i in r.items] for r in stub.requests] == [
        ["M1", "M2", "M3", "M4"],
        ["M1", "M2", "M4"],
        ["M5", "M6"],
    ]
    assert [i.draft.designation.member_id for i in stub.published] == ["M1", "M2", "M4", "M5", "M6"]


def test_several_refused_rows_in_one_batch() -> None:
    bad = {"M1", "M4"}

    def refuse(item: Any) -> str | None:
        return "designation.level: not a level of CTPAT" if item.draft.designation.member_id in bad else None

    stub = FakeExchange(refuse=refuse)
    outcome = publish_rows(
        stub, designation_rows("M1", "M2", "M3", "M4"), kind=CsvKind.DESIGNATIONS, batch_size=10
    )
    assert [(e.row, e.column) for e in outcome.refused] == [(2, "level"), (5, "level")]
    assert [row for row, _ in outcome.accepted] == [3, 4]
    assert len(stub.requests) == 3


def test_a_batch_of_only_refused_rows_publishes_nothing_and_moves_on() -> None:
    stub = FakeExchange(refuse=refuse_member("M1", "designation.level: no"))
    outcome = publish_rows(stub, designation_rows("M1", "M2"), kind=CsvKind.DESIGNATIONS, batch_size=1)
    assert [e.row for e in outcome.refused] == [2]
    assert [row for row, _ in outcome.accepted] == [3]


def test_atomic_publishes_nothing_when_the_gateway_refuses_a_row() -> None:
    stub = FakeExchange(refuse=refuse_member("M3", "designation.level: not a level of CTPAT"))
    rows = designation_rows("M1", "M2", "M3", "M4", "M5")
    outcome = publish_rows(stub, rows, kind=CsvKind.DESIGNATIONS, batch_size=2, atomic=True)
    assert outcome.accepted == []
    assert outcome.refused == [RowError(4, "level", "not a level of CTPAT")]
    assert len(stub.requests) == 1
    assert len(stub.requests[0].items) == 5  # one request: every row or none
    assert stub.published == []


def test_atomic_publishes_every_row_in_one_request() -> None:
    stub = FakeExchange()
    outcome = publish_rows(
        stub, designation_rows("M1", "M2", "M3"), kind=CsvKind.DESIGNATIONS, batch_size=1, atomic=True
    )
    assert [row for row, _ in outcome.accepted] == [2, 3, 4]
    assert len(stub.requests) == 1


def test_running_the_same_import_again_replays_instead_of_publishing_twice() -> None:
    stub = FakeExchange(refuse=refuse_member("M2", "designation.level: no"))
    rows = designation_rows("M1", "M2", "M3", "M4")
    first = publish_rows(stub, rows, kind=CsvKind.DESIGNATIONS, batch_size=2)
    second = publish_rows(stub, rows, kind=CsvKind.DESIGNATIONS, batch_size=2)
    assert [(row, r.seq) for row, r in second.accepted] == [(row, r.seq) for row, r in first.accepted]
    assert (first.replayed, second.replayed) == (0, 3)
    assert [e.row for e in second.refused] == [3]
    assert stub.seq == 3  # nothing was signed twice
    other_prefix = publish_rows(stub, rows[:1], kind=CsvKind.DESIGNATIONS, batch_size=2, prefix="again-")
    assert other_prefix.replayed == 0 and stub.seq == 4


def test_an_error_that_names_no_row_stops_the_import() -> None:
    unavailable = FakeRpcError(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses")
    stub = FakeExchange(fail_on=2, failure=unavailable)
    outcome = publish_rows(
        stub, designation_rows("M1", "M2", "M3", "M4"), kind=CsvKind.DESIGNATIONS, batch_size=2
    )
    assert outcome.failure is unavailable
    assert outcome.stopped_at_row == 4
    assert [row for row, _ in outcome.accepted] == [2, 3]


def test_a_refused_audience_stops_the_import_instead_of_refusing_every_row() -> None:
    stub = FakeExchange(refuse=lambda item: "audience[0]: 'XX-FOO' is not a member of border5.test")
    rows = designation_rows("M1", "M2", "M3")
    outcome = publish_rows(stub, rows, kind=CsvKind.DESIGNATIONS, batch_size=10, audience=["XX-FOO"])
    assert outcome.failure is not None and outcome.refused == [] and len(stub.requests) == 1
    assert list(stub.requests[0].items[0].draft.audience) == ["XX-FOO"]


def test_invalid_argument_about_the_request_stops_the_import() -> None:
    bad_key = FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "idempotency_key: is longer than 256 characters")
    stub = FakeExchange(fail_on=1, failure=bad_key)
    outcome = publish_rows(stub, designation_rows("M1"), kind=CsvKind.DESIGNATIONS, batch_size=2)
    assert outcome.failure is bad_key and outcome.accepted == [] and outcome.refused == []


def test_a_short_response_is_an_error() -> None:
    class Short(FakeExchange):
        def Publish(self, request: Any, *, timeout: float | None = None) -> Any:
            response = super().Publish(request, timeout=timeout)
            del response.statements[-1]
            return response

    with pytest.raises(Exception, match=r"the gateway returned 1 receipts for 2 statements"):
        publish_rows(Short(), designation_rows("M1", "M2"), kind=CsvKind.DESIGNATIONS, batch_size=2)


def test_progress_on_a_terminal_redraws_one_line() -> None:
    stream = io.StringIO()
    progress = Progress(4, label="import", stream=stream, tty=True, width=4)
    progress.update(2, "accepted 2")
    progress.update(4, "accepted 4")
    progress.close()
    assert (
        stream.getvalue() == "\rimport [##..] 2/4 (accepted 2)\x1b[K\rimport [####] 4/4 (accepted 4)\x1b[K\n"
    )


def test_progress_lines_are_periodic_off_a_terminal() -> None:
    stream, now = io.StringIO(), [0.0]
    progress = Progress(10, label="import", stream=stream, tty=False, every=5.0, clock=lambda: now[0])
    for done, at in [(2, 0.0), (4, 1.0), (6, 6.0), (8, 7.0), (10, 8.0)]:
        now[0] = at
        progress.update(done)
    assert stream.getvalue().splitlines() == ["import: 2/10 rows", "import: 6/10 rows", "import: 10/10 rows"]


# ---------------------------------------------------------------- import: the whole command


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> FakeExchange:
    """Route the commands' channel and stub to a FakeExchange (no network, no credentials)."""
    stub = FakeExchange()
    for module in (import_cmd, publish_cmd, screen_cmd, lookup_cmd):
        monkeypatch.setattr(module, "call", lambda args, fn: fn(None, float(args.timeout)))
    monkeypatch.setattr(exchange_pb2_grpc, "ExchangeStub", lambda channel: stub)
    # CLIENT's --pki folder does not exist: give the pre-check the dev directory's owners
    owners = {p: a for a, ps in DEV_PROGRAMMES.items() for p in ps}
    monkeypatch.setattr(publish_cmd, "owners_from_args", lambda args: owners)
    monkeypatch.setattr(import_cmd, "owners_from_args", lambda args: owners)
    return stub


def run(*argv: str) -> int:
    args = parse(*argv)
    return int(args.func(args))


def test_import_reports_refused_rows_and_publishes_the_rest(
    gateway: FakeExchange, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("import", str(DATA / "designations_with_errors.csv"), "--output", "json", *CLIENT)
    assert code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["accepted"] == 2
    assert [r["row"] for r in out["refused"]] == [3, 4, 5, 6, 7, 8]
    assert out["refused"][2] == {
        "row": 5,
        "reason": "identifiers: identifier 1: ABN 51824753557 fails its mod-89 check",
    }
    assert out["refused"][3] == {
        "row": 6,
        "reason": "programme: only AU-ABF may designate in AU_ATT, not US-CBP",
    }
    assert out["statements"] == [
        {"row": 2, "issuer": "US-CBP", "seq": 1},
        {"row": 9, "issuer": "US-CBP", "seq": 2},
    ]


def test_import_table_summary(gateway: FakeExchange, capsys: pytest.CaptureFixture[str]) -> None:
    gateway.refuse = refuse_member(
        "CTPAT-6620114", "designation.status: a REVOKED designation cannot become SUSPENDED"
    )
    assert run("import", str(DATA / "designations_ctpat.csv"), *CLIENT) == 1
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0] == "import designations_ctpat.csv (designations as US-CBP): 1 accepted, 1 refused, of 2 rows"
    )
    assert out[1:3] == ["refused:", "  row 3      status: a REVOKED designation cannot become SUSPENDED"]
    assert out[3] == "accepted:"
    assert out[4].startswith("  row 2      US-CBP#1  header ")


def test_import_of_a_clean_file_exits_0(gateway: FakeExchange, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("import", str(DATA / "flags.csv"), "--output", "json", *CLIENT) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["accepted"], out["refused"]) == (8, [])
    assert {i.draft.WhichOneof("body") for i in gateway.published} == {"flag"}
    first = flag_from_proto(gateway.published[0].draft.flag)
    assert first.subject.ids[0] == PartyId("PLATFORM", "amazon:A2X9K")


def test_atomic_import_with_a_bad_row_sends_nothing(
    gateway: FakeExchange, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("import", str(DATA / "designations_with_errors.csv"), "--atomic", *CLIENT) == 1
    assert gateway.requests == []
    out = capsys.readouterr().out
    assert "0 accepted, 6 refused, of 8 rows" in out
    assert "2 valid rows were not published (--atomic: nothing was published)" in out


def test_atomic_import_larger_than_a_batch_is_a_usage_error(gateway: FakeExchange) -> None:
    with pytest.raises(InvalidArgument, match=r"--atomic publishes every row in one request, and 2 rows"):
        run("import", str(DATA / "designations_ctpat.csv"), "--atomic", "--batch-size", "1", *CLIENT)


def test_import_of_a_file_with_a_bad_header_is_a_usage_error(gateway: FakeExchange, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("programme,member,level\n")
    with pytest.raises(CsvHeaderError, match=r"missing column\(s\): member_id"):
        run("import", str(path), *CLIENT)
    assert isinstance(CsvHeaderError("x"), InvalidArgument)  # borderx.cli.main maps it to exit 2


def test_import_stopped_by_the_gateway_exits_3_after_the_summary(
    gateway: FakeExchange, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.fail_on, gateway.failure = 2, FakeRpcError(grpc.StatusCode.UNAVAILABLE, "connection refused")
    assert run("import", str(DATA / "flags.csv"), "--batch-size", "5", *CLIENT) == 3
    captured = capsys.readouterr()
    assert "5 accepted, 0 refused, of 8 rows" in captured.out
    assert "3 valid rows were not published (the import stopped)" in captured.out
    assert "stopped at row 7; running the same command again is safe" in captured.err
    assert "UNAVAILABLE: connection refused" in captured.err


# ---------------------------------------------------------------- publish


def test_publish_prints_the_receipt(gateway: FakeExchange, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "publish", "designation", "--programme", "CTPAT", "--level", "CTPAT_TIER_2", "--status", "CERTIFIED",
        "--legal-name", "Great Lakes", "--id", "US_IOR:95-123456700", *CLIENT,
    ]  # fmt: skip
    assert run(*argv, "--output", "json") == 0
    receipt = json.loads(capsys.readouterr().out)
    assert (receipt["issuer"], receipt["seq"], receipt["kind"], receipt["replayed"]) == (
        "US-CBP",
        1,
        "designation",
        False,
    )
    assert len(receipt["header_digest"]) == 64
    assert gateway.requests[0].idempotency_key.startswith("publish-")
    # the same command again replays the receipt
    assert run(*argv) == 0
    assert capsys.readouterr().out.startswith(
        "already published (same idempotency key; receipt replayed) designation US-CBP#1"
    )
    assert gateway.seq == 1


def test_publish_checks_the_body_locally_first(gateway: FakeExchange) -> None:
    argv = [
        "publish", "designation", "--programme", "CTPAT", "--status", "SUSPENDED", "--legal-name", "X",
        "--id", "US_IOR:95-123456700", *CLIENT,
    ]  # fmt: skip
    with pytest.raises(InvalidArgument, match=r"^--status-reason: required when status is SUSPENDED$"):
        run(*argv)
    with pytest.raises(
        InvalidArgument, match=r"^--programme: only AU-ABF may designate in AU_ATT, not US-CBP$"
    ):
        run(*[a if a != "CTPAT" else "AU_ATT" for a in argv], "--status-reason", "r")
    assert gateway.requests == []


def test_publish_refused_by_the_gateway_exits_3_naming_the_option(
    gateway: FakeExchange, capsys: pytest.CaptureFixture[str]
) -> None:
    gateway.refuse = lambda item: "withdrawal.target: US-CBP#12 does not exist"
    assert run("publish", "withdrawal", "US-CBP#12", "--reason", "ISSUED_IN_ERROR", *CLIENT) == 3
    assert capsys.readouterr().err == "borderx: INVALID_ARGUMENT: ISSUER#SEQ: US-CBP#12 does not exist\n"


# ---------------------------------------------------------------- screen


class FakeScreen:
    """Answers each shipment: HOLD when a shipper id is flagged, else EXPEDITE when designated, else STANDARD."""

    def __init__(self, *, refuse_index: int | None = None) -> None:
        self.requests: list[Any] = []
        self.refuse_index = refuse_index

    def Screen(self, request: Any, *, timeout: float | None = None) -> Any:
        self.requests.append(request)
        if self.refuse_index is not None:
            raise FakeRpcError(
                grpc.StatusCode.INVALID_ARGUMENT, f"shipments[{self.refuse_index}].shipper_ids[0].value: bad"
            )
        results = []
        for shipment in request.shipments:
            ids = {(i.scheme, i.value) for i in shipment.shipper_ids}
            result = exchange_pb2.ScreeningResult(reference=shipment.reference)
            if ("PLATFORM", "amazon:A2X9K") in ids:
                match = result.flags.add(action=exchange_pb2.HOLD)
                match.provenance.issuer, match.provenance.seq = "US-CBP", 11
                match.flag.category, match.flag.evidence = (
                    statement_pb2.IPR_COUNTERFEIT,
                    statement_pb2.CONFIRMED,
                )
                match.flag.severity = statement_pb2.HIGH
                result.recommendation = exchange_pb2.HOLD
                result.reasons.append("confirmed IPR_COUNTERFEIT flag by US-CBP#11")
            elif ("ABN", "51824753556") in ids:
                held = result.designations.add(recognised=True)
                held.provenance.issuer, held.provenance.seq = "AU-ABF", 3
                held.designation.programme = "AU_ATT"
                held.designation.status = statement_pb2.CERTIFIED
                result.recommendation = exchange_pb2.EXPEDITE
                result.reasons.append("recognised AU_ATT designation by AU-ABF#3")
            else:
                result.recommendation = exchange_pb2.STANDARD
            results.append(result)
        return exchange_pb2.ScreenResponse(results=results)


def screening_rows() -> list[csvio.ScreeningRow]:
    return list(csvio.parse_screening(csvio.read_csv_text(DATA / "screening.csv")).rows)


def test_screen_rows_in_batches_in_file_order() -> None:
    stub = FakeScreen()
    rows = screening_rows()
    results = screen_cmd.screen_rows(stub, rows, batch_size=5, timeout=3.0)
    assert [len(r.shipments) for r in stub.requests] == [5, 5, 3]
    assert [row.row for row, _ in results] == [r.row for r in rows]
    first = stub.requests[0].shipments[0]
    assert first.declared_value.currency == "USD" and first.declared_value.minor_units == 482000
    views = {v["reference"]: v for v in (screen_cmd.result_view(row, res) for row, res in results)}
    assert views["SHP-2026-0008"]["recommendation"] == "HOLD"
    assert views["SHP-2026-0008"]["flags"] == [
        {
            "issuer": "US-CBP",
            "seq": 11,
            "category": "IPR_COUNTERFEIT",
            "evidence": "CONFIRMED",
            "severity": "HIGH",
            "action": "HOLD",
        }
    ]
    assert views["SHP-2026-0002"]["designations"][0]["recognised"] is True
    assert views["SHP-2026-0011"] == {
        "row": 12, "reference": "SHP-2026-0011", "recommendation": "STANDARD", "designations": [], "flags": [], "reasons": []
    }  # fmt: skip


def test_screen_refusal_names_the_row() -> None:
    with pytest.raises(screen_cmd.ScreenFailed) as failed:
        screen_cmd.screen_rows(FakeScreen(refuse_index=2), screening_rows(), batch_size=100)
    assert failed.value.row == 4


def test_screen_command_table_and_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stub = FakeScreen()
    monkeypatch.setattr(screen_cmd, "call", lambda args, fn: fn(None, 1.0))
    monkeypatch.setattr(exchange_pb2_grpc, "ExchangeStub", lambda channel: stub)
    assert run("screen", str(DATA / "screening.csv"), "--output", "json", *CLIENT) == 0
    views = json.loads(capsys.readouterr().out)
    assert len(views) == 13
    assert {"reference", "recommendation", "designations", "flags", "reasons"} <= set(views[0])
    assert run("screen", str(DATA / "screening.csv"), *CLIENT) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ROW", "REFERENCE", "RECOMMENDATION", "DESIGNATIONS", "FLAGS", "REASON"]
    assert len(lines) == 14
    hold = next(line for line in lines if "SHP-2026-0008" in line)
    assert "HOLD" in hold and "IPR_COUNTERFEIT/CONFIRMED US-CBP#11 → HOLD" in hold
    assert hold.endswith("confirmed IPR_COUNTERFEIT flag by US-CBP#11")


def test_screen_command_reports_unreadable_rows_and_screens_the_rest(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stub = FakeScreen()
    monkeypatch.setattr(screen_cmd, "call", lambda args, fn: fn(None, 1.0))
    monkeypatch.setattr(exchange_pb2_grpc, "ExchangeStub", lambda channel: stub)
    path = tmp_path / "s.csv"
    path.write_text(
        "reference,identifiers,origin,declared_value,currency,hs_codes\n"
        "A,ABN:51824753556,AU,1.00,AUD,510111\n"
        "B,ABN:51824753557,AU,1.00,AUD,510111\n"
    )
    assert run("screen", str(path), "--output", "json", *CLIENT) == 1
    captured = capsys.readouterr()
    assert [v["reference"] for v in json.loads(captured.out)] == ["A"]
    assert (
        "s.csv: row 3, column identifiers: identifier 1: ABN 51824753557 fails its mod-89 check"
        in captured.err
    )


# ---------------------------------------------------------------- lookup


def lookup_entry(
    body: Any, *, kind: str, seq: int, audience: tuple[str, ...] = (), redact: bool = False
) -> Any:
    signer = Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"lookup").digest()))
    env = sign_statement(
        signer,
        issuer="AU-ABF",
        seq=seq,
        prev_digest=GENESIS_DIGEST if seq == 1 else bytes(32 * [1]),
        issued_at=T0,
        audience=audience,
        body_type=kind,
        body=encode_body(body),
    )
    if redact:
        env = env.redact()
    entry = exchange_pb2.LookupEntry(envelope=envelope_to_proto(env), current=True, status="current")
    entry.provenance.issuer, entry.provenance.seq = "AU-ABF", seq
    entry.provenance.issued_at.FromDatetime(T0)
    entry.provenance.key_id, entry.provenance.verified = signer.key_id, True
    entry.provenance.received_from = "AU-ABF"
    entry.provenance.header_digest = env.digest
    return entry


class FakeLookup:
    def __init__(self, entries: list[Any]) -> None:
        self.entries = entries
        self.requests: list[Any] = []

    def Lookup(self, request: Any, *, timeout: float | None = None) -> Any:
        self.requests.append(request)
        return exchange_pb2.LookupResponse(entries=self.entries)


def test_lookup_decodes_each_entry(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    designation = Designation(
        party=Party(
            "Southern Cross Wool Exporters Pty Ltd",
            address=Address(country="AU"),
            ids=(PartyId("ABN", "51824753556"),),
        ),
        programme="AU_ATT",
        member_id="ATT-000412",
        status=DesignationStatus.CERTIFIED,
        valid_from=datetime(2025, 6, 1, tzinfo=UTC),
        valid_until=datetime(2028, 5, 31, tzinfo=UTC),
    )
    flag = ViolationFlag(
        subject=Party("Southern Cross", ids=(PartyId("ABN", "51824753556"),)),
        category=FlagCategory.UNDERVALUATION,
        evidence=Evidence.SUSPECTED,
        severity=Severity.MEDIUM,
        observed_at=T0,
    )
    withdrawn = lookup_entry(flag, kind=BodyType.FLAG.value, seq=2)
    withdrawn.current, withdrawn.status = False, "withdrawn by AU-ABF#3"
    stub = FakeLookup(
        [
            lookup_entry(designation, kind="designation", seq=1),
            withdrawn,
            lookup_entry(flag, kind="flag", seq=4, audience=("NZ-CS",), redact=True),
        ]
    )
    monkeypatch.setattr(lookup_cmd, "call", lambda args, fn: fn(None, 1.0))
    monkeypatch.setattr(exchange_pb2_grpc, "ExchangeStub", lambda channel: stub)

    assert run("lookup", "abn:51 824 753 556", "--history", *CLIENT) == 0
    request = stub.requests[0]
    assert (request.id.scheme, request.id.value, request.include_history) == ("ABN", "51824753556", True)
    out = capsys.readouterr().out
    assert (
        "AU-ABF#1  designation  current\n    AU_ATT  CERTIFIED  member ATT-000412  valid 2025-06-01 .. 2028-05-31\n"
        in out
    )
    assert "    party Southern Cross Wool Exporters Pty Ltd (AU)  ids ABN:51824753556\n" in out
    assert (
        "AU-ABF#2  flag  not current: withdrawn by AU-ABF#3\n    UNDERVALUATION  SUSPECTED  severity MEDIUM"
        in out
    )
    assert (
        "AU-ABF#4  flag  current\n    body withheld: this agency is outside the statement's audience\n" in out
    )
    assert "issued 2026-11-02T09:30:00Z  key " in out and "verified  via AU-ABF" in out

    assert run("lookup", "ABN:51824753556", "--output", "json", *CLIENT) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["issuer"], e["seq"], e["kind"], e["current"], e["redacted"]) for e in entries] == [
        ("AU-ABF", 1, "designation", True, False),
        ("AU-ABF", 2, "flag", False, False),
        ("AU-ABF", 4, "flag", True, True),
    ]
    assert entries[0]["body"]["programme"] == "AU_ATT"
    assert entries[0]["body"]["status"] == "CERTIFIED"
    assert entries[1]["body"]["category"] == "UNDERVALUATION"
    assert entries[2]["body"] is None and entries[2]["audience"] == ["NZ-CS"]
    assert entries[0]["provenance"]["issued_at"] == "2026-11-02T09:30:00Z"


def test_lookup_keeps_an_undecodable_entry_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = exchange_pb2.LookupEntry(
        envelope=statement_pb2.SignedStatement(header=b"\xff\x00junk", body=b"x")
    )
    broken.provenance.issuer, broken.provenance.seq = "GB-HMRC", 9
    stub = FakeLookup([broken])
    monkeypatch.setattr(lookup_cmd, "call", lambda args, fn: fn(None, 1.0))
    monkeypatch.setattr(exchange_pb2_grpc, "ExchangeStub", lambda channel: stub)
    assert run("lookup", "EORI:GB123456789000", *CLIENT) == 1
    out = capsys.readouterr().out
    assert out.startswith("GB-HMRC#9  ?  not current")
    assert "cannot decode: " in out


def test_lookup_of_a_bad_identifier_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("lookup", "ABN:123", *CLIENT) == 2
    assert capsys.readouterr().err == "borderx: SCHEME:VALUE: ABN 123 has 3 digits; an ABN is 11 digits\n"


def test_lookup_of_nothing(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(lookup_cmd, "call", lambda args, fn: fn(None, 1.0))
    monkeypatch.setattr(exchange_pb2_grpc, "ExchangeStub", lambda channel: FakeLookup([]))
    assert run("lookup", "PLATFORM:amazon:NOBODY", *CLIENT) == 0
    assert capsys.readouterr().out == "nothing known about PLATFORM:amazon:NOBODY\n"


def test_withdrawal_body_type_matches() -> None:
    # the fake gateway signs withdrawals too (kind name = body type name)
    stub = FakeExchange()
    body = Withdrawal(target=StatementRef("US-CBP", 1), reason=WithdrawalReason.ISSUED_IN_ERROR)
    response = publish_cmd.publish_one(stub, body, audience=(), key="", timeout=1.0)
    (receipt,) = publish_cmd.receipts_of(response, 1)
    assert (receipt.issuer, receipt.seq) == ("US-CBP", 1)


def test_search_asks_the_gateway_with_name_country_and_limit() -> None:
    from borderx._proto.borderx.v1 import exchange_pb2
    from borderx.cli.search_cmd import candidate_view, print_candidates, search

    class FakeStub:
        def __init__(self) -> None:
            self.requests: list[object] = []

        def Search(self, request: object, *, timeout: float | None = None) -> object:
            self.requests.append(request)
            candidate = exchange_pb2.SearchCandidate(
                match=exchange_pb2.Match(basis="NAME", score=0.93, party="query", evidence=["name 0.93"])
            )
            candidate.party.legal_name = "Hongda Trading"
            candidate.party.address.country = "CN"
            return exchange_pb2.SearchResponse(candidates=[candidate])

    stub = FakeStub()
    response = search(stub, "hongda", country="CN", limit=3, timeout=5)
    assert stub.requests == [exchange_pb2.SearchRequest(name="hongda", country="CN", limit=3)]
    view = candidate_view(response.candidates[0])
    assert view["match"] == {"basis": "NAME", "score": 0.93, "party": "query", "evidence": ["name 0.93"]}
    assert view["party"]["legal_name"] == "Hongda Trading" and view["entries"] == []
    out = io.StringIO()
    print_candidates(response, "hongda", out)
    assert out.getvalue().startswith("0.93  Hongda Trading (CN)")
    empty = io.StringIO()
    print_candidates(exchange_pb2.SearchResponse(), "nobody", empty)
    assert "no party held resembles 'nobody'" in empty.getvalue()


@pytest.mark.parametrize(("argv", "message"), [(["search", "x", "--limit", "0"], "must be 1 or more")])
def test_search_flags_are_checked(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
    assert message in capsys.readouterr().err
