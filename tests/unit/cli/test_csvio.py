"""CSV files of the CLI: the column contract, kind detection, row errors, amounts, the sample files."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from borderx.cli import csvio
from borderx.cli.csvio import CellError, CsvHeaderError, CsvKind, RowError
from borderx.cli.samples import sample_statements
from borderx.errors import ConfigError
from borderx.identity.devpki import DEV_PROGRAMMES
from borderx.statements.bodies import (
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Money,
    Outcome,
    PartyId,
    Severity,
    StatementRef,
    ViolationFlag,
)
from borderx.statements.rules import validate_body

#: programme → owner, as the dev directory lists them
OWNERS = {p: a for a, ps in DEV_PROGRAMMES.items() for p in ps}

DATA = Path(__file__).resolve().parents[2] / "data" / "csv"

D_HEADER = (
    "programme,member_id,level,status,valid_from,valid_until,legal_name,country,identifiers,status_reason"
)
D_ROW = "AU_ATT,ATT-000412,,CERTIFIED,2025-06-01,2028-05-31,Southern Cross Wool Exporters Pty Ltd,AU,ABN:51824753556,"
F_HEADER = "category,evidence,severity,observed_at,expires_at,legal_name,country,identifiers,summary,outcomes"
F_ROW = (
    "IPR_COUNTERFEIT,CONFIRMED,HIGH,2026-11-06T09:30:00Z,2027-11-06,Brightstar Trading,CN,"
    "PLATFORM:amazon:A2X9K;MID:CNSHEBRI1288SHE,Counterfeit handbags,SEIZURE;DESTRUCTION"
)
S_HEADER = "reference,identifiers,origin,declared_value,currency,hs_codes"
S_ROW = "SHP-1,PLATFORM:amazon:A2X9K,CN,18.99,USD,4202.21;851713"

# after every observation time in the sample files
NOW = datetime(2026, 11, 27, tzinfo=UTC)


def csv_text(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


def with_cell(header: str, row: str, column: str, value: str) -> str:
    """``row`` with the cell of ``column`` replaced by ``value`` (quoted if it needs it)."""
    names = header.split(",")
    cells = next(csv.reader([row]))
    cells[names.index(column)] = value
    return ",".join(f'"{c}"' if ("," in c or '"' in c or "\n" in c) else c for c in cells)


# ---------------------------------------------------------------- parsing each kind


def test_designations_parse_into_bodies() -> None:
    text = csv_text(
        D_HEADER,
        D_ROW,
        "CTPAT,CTPAT-6620114,ctpat_tier_2,suspended,2025-06-01T00:00:00+10:00,2028-05-31,Sonoran Home Goods LLC,us,"
        "US_IOR:200516-12345; PLATFORM:amazon:A1SONORAN77 ;,Annual validation overdue",
    )
    parsed = csvio.parse_import(text)
    assert parsed.kind is CsvKind.DESIGNATIONS
    assert parsed.errors == ()
    assert parsed.total == 2
    first, second = parsed.rows
    assert first.row == 2
    assert isinstance(first.body, Designation)
    assert first.body.programme == "AU_ATT"
    assert first.body.level == ""
    assert first.body.status is DesignationStatus.CERTIFIED
    assert first.body.valid_from == datetime(2025, 6, 1, tzinfo=UTC)
    assert first.body.party.address is not None
    assert first.body.party.address.country == "AU"
    assert first.body.party.ids == (PartyId("ABN", "51824753556"),)
    assert second.row == 3
    assert isinstance(second.body, Designation)
    assert second.body.level == "CTPAT_TIER_2"
    assert second.body.status is DesignationStatus.SUSPENDED
    assert second.body.valid_from == datetime(2025, 5, 31, 14, tzinfo=UTC)
    assert second.body.status_reason == "Annual validation overdue"
    # PLATFORM values hold a colon: split on the first one only; a trailing ';' is ignored
    assert second.body.party.ids == (
        PartyId("US_IOR", "200516-12345"),
        PartyId("PLATFORM", "amazon:A1SONORAN77"),
    )


def test_status_reason_column_is_optional() -> None:
    header = D_HEADER.removesuffix(",status_reason")
    parsed = csvio.parse_import(csv_text(header, D_ROW.removesuffix(",")))
    assert parsed.errors == ()
    assert parsed.rows[0].body == csvio.parse_import(csv_text(D_HEADER, D_ROW)).rows[0].body


def test_flags_parse_into_bodies() -> None:
    parsed = csvio.parse_import(csv_text(F_HEADER, F_ROW))
    assert parsed.kind is CsvKind.FLAGS
    assert parsed.errors == ()
    (row,) = parsed.rows
    body = row.body
    assert isinstance(body, ViolationFlag)
    assert body.category is FlagCategory.IPR_COUNTERFEIT
    assert body.evidence is Evidence.CONFIRMED
    assert body.severity is Severity.HIGH
    assert body.outcomes == (Outcome.SEIZURE, Outcome.DESTRUCTION)
    assert body.observed_at == datetime(2026, 11, 6, 9, 30, tzinfo=UTC)
    assert body.expires_at == datetime(2027, 11, 6, tzinfo=UTC)
    assert body.subject.ids == (PartyId("PLATFORM", "amazon:A2X9K"), PartyId("MID", "CNSHEBRI1288SHE"))
    assert body.summary == "Counterfeit handbags"


def test_outcomes_column_is_optional_and_may_be_empty() -> None:
    header = F_HEADER.removesuffix(",outcomes")
    parsed = csvio.parse_import(csv_text(header, F_ROW.rsplit(",", 1)[0]))
    assert parsed.errors == ()
    assert isinstance(parsed.rows[0].body, ViolationFlag)
    assert parsed.rows[0].body.outcomes == ()
    empty = csvio.parse_import(csv_text(F_HEADER, with_cell(F_HEADER, F_ROW, "outcomes", "")))
    assert empty.errors == ()


def test_columns_may_come_in_any_order_and_with_a_byte_order_mark(tmp_path: Path) -> None:
    names = D_HEADER.split(",")
    cells = D_ROW.split(",")
    order = list(reversed(range(len(names))))
    text = csv_text(",".join(names[i] for i in order), ",".join(cells[i] for i in order))
    path = tmp_path / "x.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    parsed = csvio.parse_import(csvio.read_csv_text(path))
    assert parsed.errors == ()
    assert parsed.rows[0].body == csvio.parse_import(csv_text(D_HEADER, D_ROW)).rows[0].body


# ---------------------------------------------------------------- header and kind


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (D_HEADER, CsvKind.DESIGNATIONS),
        (D_HEADER.removesuffix(",status_reason"), CsvKind.DESIGNATIONS),
        (F_HEADER, CsvKind.FLAGS),
        (F_HEADER.removesuffix(",outcomes"), CsvKind.FLAGS),
        (
            " programme , member_id,level,status,valid_from,valid_until,legal_name,country,identifiers",
            CsvKind.DESIGNATIONS,
        ),
    ],
)
def test_the_header_tells_the_kind(header: str, kind: CsvKind) -> None:
    assert csvio.parse_import(csv_text(header)).kind is kind


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (D_HEADER.replace("valid_until,", ""), r"designations file: missing column\(s\): valid_until\."),
        (
            D_HEADER + ",colour",
            r"unknown column\(s\): colour\. Expected: programme,member_id,.*\[,status_reason\]",
        ),
        (
            D_HEADER.replace("legal_name", "Legal Name"),
            r"missing column\(s\): legal_name; unknown column\(s\): 'Legal Name'",
        ),
        (D_HEADER + ",level", r"column\(s\) named twice: level"),
        (F_HEADER.replace("summary,", ""), r"flags file: missing column\(s\): summary"),
        (D_HEADER + ",category", r"names both programme \(designations\) and category \(flags\)"),
        ("reference,identifiers", r"(?s)names neither programme .* nor category .*designations: programme,"),
        (D_HEADER.replace(",", ";"), r"separated by semicolons"),
        ("", r"empty or its first row is blank"),
    ],
)
def test_header_problems_refuse_the_whole_file(header: str, match: str) -> None:
    with pytest.raises(CsvHeaderError, match=match):
        csvio.parse_import(csv_text(header, D_ROW))


def test_screening_header_is_checked() -> None:
    with pytest.raises(CsvHeaderError, match=r"screening file: missing column\(s\): currency"):
        csvio.parse_screening(csv_text(S_HEADER.replace(",currency", "")))


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(csv_text(D_HEADER, D_ROW.replace("Southern", "Süd")).encode("latin-1"))
    with pytest.raises(CsvHeaderError, match=r"is not UTF-8; export the sheet as 'CSV UTF-8'"):
        csvio.read_csv_text(path)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.csv: cannot read it"):
        csvio.read_csv_text(tmp_path / "nope.csv")


# ---------------------------------------------------------------- row errors


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("valid_from", "2026-02-30", r"'2026-02-30' is not a calendar date \(YYYY-MM-DD\)"),
        ("valid_from", "01/03/2026", r"'01/03/2026' is not an ISO 8601 date \(2026-03-01\) or timestamp"),
        (
            "valid_until",
            "2028-05-31T17:00:00",
            r"'2028-05-31T17:00:00' has no time zone; add Z \(UTC\) or an offset",
        ),
        ("valid_until", "2028-05-31T25:00:00Z", r"is not an ISO 8601 timestamp such as"),
        ("status", "ACTIVE", r"'ACTIVE' is not one of CERTIFIED, SUSPENDED, REVOKED"),
        ("status", "", r"required: the cell is empty"),
        ("programme", "", r"required: the cell is empty"),
        ("legal_name", "", r"required: the cell is empty"),
        ("country", "Australia", r"'Australia' is not an ISO 3166-1 alpha-2 code"),
        ("identifiers", "ABN:51824753557", r"identifier 1: ABN 51824753557 fails its mod-89 check"),
        (
            "identifiers",
            "ABN:51824753556;NZBN:9429041535135",
            r"identifier 2: NZBN 9429041535135 fails its GS1 mod-10",
        ),
        (
            "identifiers",
            "TFN:123456782",
            r"identifier 1: unknown identifier scheme TFN; known schemes: ABN, NZBN",
        ),
        ("identifiers", "51824753556", r"identifier 1: is not SCHEME:VALUE \(e\.g\. ABN:51824753556"),
        ("identifiers", "PLATFORM:amazon", r"identifier 1: PLATFORM amazon must be platform:seller-id"),
        ("identifiers", "", r"required: at least one SCHEME:VALUE, e\.g\. ABN:51824753556"),
        ("identifiers", " ; ;", r"required: at least one SCHEME:VALUE"),
    ],
)
def test_designation_row_errors_name_row_and_column(column: str, value: str, match: str) -> None:
    bad = with_cell(D_HEADER, D_ROW, column, value)
    parsed = csvio.parse_import(csv_text(D_HEADER, D_ROW, bad, D_ROW))
    assert [r.row for r in parsed.rows] == [2, 4]
    (err,) = parsed.errors
    assert (err.row, err.column) == (3, column)
    assert str(err).startswith(f"row 3, column {column}: ")
    assert re.search(match, str(err)), str(err)


def test_a_us_ior_value_is_never_echoed() -> None:
    bad = with_cell(D_HEADER, D_ROW, "identifiers", "US_IOR:123-45-6789")
    (err,) = csvio.parse_import(csv_text(D_HEADER, bad)).errors
    assert "6789" not in str(err)
    assert "SSN form" in err.message
    no_scheme = with_cell(D_HEADER, D_ROW, "identifiers", "123-45-6789")
    (err,) = csvio.parse_import(csv_text(D_HEADER, no_scheme)).errors
    assert "6789" not in str(err)


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("severity", "SEVERE", r"'SEVERE' is not one of LOW, MEDIUM, HIGH, CRITICAL"),
        ("category", "SMUGGLING", r"'SMUGGLING' is not one of IPR_COUNTERFEIT, UNDERVALUATION"),
        ("evidence", "", r"required: the cell is empty"),
        ("observed_at", "", r"required: the cell is empty"),
        ("observed_at", "yesterday", r"'yesterday' is not an ISO 8601 date"),
        ("expires_at", "2027-11-06T00:00", r"has no time zone"),
        ("outcomes", "SEIZURE;JAIL", r"item 2: 'JAIL' is not one of SEIZURE, DETENTION"),
        ("identifiers", "PLATFORM:amazon:", r"identifier 1: PLATFORM amazon: must be platform:seller-id"),
    ],
)
def test_flag_row_errors_name_row_and_column(column: str, value: str, match: str) -> None:
    parsed = csvio.parse_import(csv_text(F_HEADER, with_cell(F_HEADER, F_ROW, column, value)))
    (err,) = parsed.errors
    assert (err.row, err.column) == (2, column)
    assert re.search(match, str(err)), str(err)


def test_several_errors_of_one_row_come_in_column_order_and_join_in_the_summary() -> None:
    bad = "AU_ATT,ATT-1,,BOGUS,2025-13-01,2028-01-01,,AU,ABN:51824753557,"
    parsed = csvio.parse_import(csv_text(D_HEADER, bad))
    assert [e.column for e in parsed.errors] == ["status", "valid_from", "legal_name", "identifiers"]
    assert parsed.refused_rows() == {2: "; ".join(e.reason for e in parsed.errors)}


def test_rows_are_numbered_like_a_spreadsheet() -> None:
    multiline = with_cell(D_HEADER, D_ROW, "status_reason", "line one\nline two").replace(
        "CERTIFIED", "SUSPENDED"
    )
    text = csv_text(D_HEADER, ",,,,,,,,,", multiline, "", D_ROW, with_cell(D_HEADER, D_ROW, "status", "NOPE"))
    parsed = csvio.parse_import(text)
    # row 2 is blank (skipped but counted), row 3 spans two lines, row 4 is an empty line
    assert [r.row for r in parsed.rows] == [3, 5]
    assert [e.row for e in parsed.errors] == [6]
    assert parsed.total == 3


def test_a_row_with_more_cells_than_the_header_is_refused() -> None:
    parsed = csvio.parse_import(csv_text(D_HEADER, D_ROW + ",extra"))
    (err,) = parsed.errors
    assert (err.row, err.column) == (2, "")
    assert str(err) == "row 2: has 11 or more cells; the header has 10"


def test_short_rows_read_missing_trailing_cells_as_empty() -> None:
    parsed = csvio.parse_import(csv_text(D_HEADER, D_ROW.removesuffix(",")))
    assert parsed.errors == ()


def test_broken_quoting_is_refused_with_its_row() -> None:
    with pytest.raises(CsvHeaderError, match=r"row 3: not valid CSV"):
        csvio.parse_import(csv_text(D_HEADER, D_ROW, 'AU_ATT,"ATT-1"x,,CERTIFIED'))


# ---------------------------------------------------------------- business rules per row


def test_validation_maps_rule_refusals_to_columns() -> None:
    rows = [
        D_ROW,  # 2: fine
        D_ROW.replace("AU_ATT", "CTPAT"),  # 3: not this agency's programme
        D_ROW.replace("CERTIFIED", "SUSPENDED"),  # 4: no status reason
        with_cell(D_HEADER, D_ROW, "identifiers", "ABN:51824753556;ABN:51 824 753 556"),  # 5: same id twice
        with_cell(D_HEADER, D_ROW, "level", "GOLD"),  # 6: no levels in AU_ATT
        with_cell(D_HEADER, D_ROW, "valid_until", "2024-01-01"),  # 7: ends before it starts
    ]
    checked = csvio.validate_import(
        csvio.parse_import(csv_text(D_HEADER, *rows)), issuer="AU-ABF", owners=OWNERS, now=NOW
    )
    assert [r.row for r in checked.rows] == [2]
    assert [(e.row, e.column) for e in checked.errors] == [
        (3, "programme"),
        (4, "status_reason"),
        (5, "identifiers"),
        (6, "level"),
        (7, "valid_until"),
    ]
    reasons = checked.refused_rows()
    assert reasons[3] == "programme: only US-CBP may designate in CTPAT, not AU-ABF"
    assert reasons[4] == "status_reason: required when status is SUSPENDED"
    assert reasons[5].startswith("identifiers: identifier 2: the same identifier as party.ids[0]")


def test_validation_normalises_identifiers() -> None:
    row = with_cell(D_HEADER, D_ROW, "identifiers", "abn:51 824 753 556;platform:Amazon:A2X9K")
    checked = csvio.validate_import(
        csvio.parse_import(csv_text(D_HEADER, row)), issuer="AU-ABF", owners=OWNERS, now=NOW
    )
    assert isinstance(checked.rows[0].body, Designation)
    assert checked.rows[0].body.party.ids == (
        PartyId("ABN", "51824753556"),
        PartyId("PLATFORM", "amazon:A2X9K"),
    )


def test_flag_validation_maps_to_columns() -> None:
    rows = [
        with_cell(F_HEADER, F_ROW, "expires_at", "2026-01-01"),
        with_cell(F_HEADER, F_ROW, "outcomes", "SEIZURE;SEIZURE"),
        with_cell(F_HEADER, F_ROW, "observed_at", "2027-01-01T00:00:00Z"),
    ]
    checked = csvio.validate_import(
        csvio.parse_import(csv_text(F_HEADER, *rows)), issuer="NZ-CS", owners=OWNERS, now=NOW
    )
    assert [str(e) for e in checked.errors] == [
        "row 2, column expires_at: 2026-01-01T00:00:00+00:00 is not after observed_at 2026-11-06T09:30:00+00:00",
        "row 3, column outcomes: item 2: SEIZURE is listed twice",
        "row 4, column observed_at: 2027-01-01T00:00:00+00:00 is in the future (now 2026-11-27T00:00:00+00:00)",
    ]


@pytest.mark.parametrize(
    ("kind", "path", "column"),
    [
        (CsvKind.DESIGNATIONS, "party.ids[3].value", "identifiers"),
        (CsvKind.DESIGNATIONS, "designation.party.ids[0].scheme", "identifiers"),
        (CsvKind.DESIGNATIONS, "party.address.country", "country"),
        (CsvKind.DESIGNATIONS, "party.legal_name", "legal_name"),
        (CsvKind.DESIGNATIONS, "designation.status", "status"),
        (CsvKind.DESIGNATIONS, "status_reason", "status_reason"),
        (CsvKind.DESIGNATIONS, "supersedes.seq", ""),
        (CsvKind.FLAGS, "flag.subject.ids[0].value", "identifiers"),
        (CsvKind.FLAGS, "outcomes[1]", "outcomes"),
        (CsvKind.FLAGS, "observed_at", "observed_at"),
        (CsvKind.FLAGS, "shipments[0].hs_codes[0]", ""),
    ],
)
def test_column_for_field(kind: CsvKind, path: str, column: str) -> None:
    assert csvio.column_for_field(kind, path) == column


def test_row_error_for_a_gateway_field() -> None:
    err = csvio.row_error_for(CsvKind.DESIGNATIONS, 7, "designation.party.ids[1].value", "ABN 1 is bad")
    assert err == RowError(7, "identifiers", "identifier 2: ABN 1 is bad")
    other = csvio.row_error_for(CsvKind.DESIGNATIONS, 7, "designation.supersedes", "US-CBP#9 does not exist")
    assert str(other) == "row 7: designation.supersedes: US-CBP#9 does not exist"


# ---------------------------------------------------------------- cell parsers


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        (" 2026-03-01 ", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T09:30:00Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01 09:30Z", datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),
        ("2026-03-01T09:30:00.250+10:00", datetime(2026, 2, 28, 23, 30, 0, 250000, tzinfo=UTC)),
        ("2026-03-01T09:30:00-05:00", datetime(2026, 3, 1, 14, 30, tzinfo=timezone(timedelta(0)))),
    ],
)
def test_parse_time(text: str, when: datetime) -> None:
    parsed = csvio.parse_time(text)
    assert parsed == when
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("2026-03-01T09:30:00", "has no time zone"),
        ("2026-03-01T09:30", "has no time zone"),
        ("20260301", "is not an ISO 8601 date"),
        ("2026-W09", "is not an ISO 8601 date"),
        ("", "is not an ISO 8601 date"),
    ],
)
def test_parse_time_refuses(text: str, match: str) -> None:
    with pytest.raises(CellError, match=match):
        csvio.parse_time(text)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("129.95", "USD", 12995),
        ("129.9", "USD", 12990),
        ("129", "USD", 12900),
        (" 0.01 ", "EUR", 1),
        ("0", "GBP", 0),
        ("1500", "JPY", 1500),
        ("2450000", "JPY", 2450000),
        ("1.234", "KWD", 1234),
        ("1.5", "BHD", 1500),
        ("92233720368547758.07", "USD", 2**63 - 1),
    ],
)
def test_amounts_to_minor_units(amount: str, currency: str, minor: int) -> None:
    assert csvio.to_minor_units(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency", "match"),
    [
        ("129.955", "USD", r"'129\.955' has 3 decimals; USD has 2"),
        ("1.5", "JPY", r"'1\.5' has 1 decimals; JPY has 0"),
        ("-1", "USD", "is not an amount"),
        ("1,234.50", "USD", "is not an amount"),
        ("1e3", "USD", "is not an amount"),
        ("$12", "USD", "is not an amount"),
        ("92233720368547758.08", "USD", "is too large"),
    ],
)
def test_amounts_refused(amount: str, currency: str, match: str) -> None:
    with pytest.raises(CellError, match=match):
        csvio.to_minor_units(amount, currency)


def test_split_identifier_on_the_first_colon() -> None:
    assert csvio.split_identifier("PLATFORM:amazon:A2X9K") == ("PLATFORM", "amazon:A2X9K")
    assert csvio.split_identifier(" EORI : GB123456789000 ") == ("EORI", "GB123456789000")
    with pytest.raises(CellError, match="is not SCHEME:VALUE"):
        csvio.split_identifier(":51824753556")


def test_parse_statement_ref() -> None:
    assert csvio.parse_statement_ref("US-CBP#12") == StatementRef("US-CBP", 12)
    for bad in ("US-CBP", "US-CBP#0", "US-CBP#x", "#3"):
        with pytest.raises(CellError, match="is not ISSUER#SEQ"):
            csvio.parse_statement_ref(bad)


# ---------------------------------------------------------------- screening files


def test_screening_rows_parse() -> None:
    parsed = csvio.parse_screening(csv_text(S_HEADER, S_ROW, "SHP-2,NZBN:9429041535134,,,,"))
    assert parsed.errors == ()
    first, second = parsed.rows
    assert first.row == 2
    assert first.shipment == csvio.Shipment(
        reference="SHP-1",
        shipper_ids=(PartyId("PLATFORM", "amazon:A2X9K"),),
        origin_country="CN",
        declared_value=Money("USD", 1899),
        hs_codes=("420221", "851713"),
    )
    assert second.shipment.declared_value is None
    assert second.shipment.origin_country == ""


@pytest.mark.parametrize(
    ("column", "value", "error_column", "match"),
    [
        ("reference", "", "reference", "required"),
        ("identifiers", "", "identifiers", "required: at least one SCHEME:VALUE"),
        ("identifiers", "ABN:123", "identifiers", "identifier 1: ABN 123 has 3 digits"),
        ("origin", "CHN", "origin", "is not an ISO 3166-1 alpha-2 code"),
        ("currency", "", "currency", "required when declared_value is given"),
        ("declared_value", "", "declared_value", "required when currency is given"),
        ("currency", "US$", "currency", "is not an ISO 4217 code"),
        ("declared_value", "18.999", "declared_value", "has 3 decimals; USD has 2"),
        ("hs_codes", "4202", "hs_codes", r"item 1: '4202' is not an HS code: 6 to 10 digits"),
    ],
)
def test_screening_row_errors(column: str, value: str, error_column: str, match: str) -> None:
    parsed = csvio.parse_screening(csv_text(S_HEADER, S_ROW, with_cell(S_HEADER, S_ROW, column, value)))
    assert [r.row for r in parsed.rows] == [2]
    (err,) = parsed.errors
    assert (err.row, err.column) == (3, error_column)
    assert re.search(match, err.message), err.message


# ---------------------------------------------------------------- the sample files

ISSUERS = {
    "designations_ctpat.csv": "US-CBP",
    "designations_au_att.csv": "AU-ABF",
    "designations_nz_ses.csv": "NZ-CS",
    "designations_ca_pip.csv": "CA-CBSA",
    "designations_uk_aeo.csv": "GB-HMRC",
    "flags.csv": "AU-ABF",
}


@pytest.mark.parametrize("name", sorted(ISSUERS))
def test_sample_import_files_parse_and_validate_cleanly(name: str) -> None:
    parsed = csvio.parse_import(csvio.read_csv_text(DATA / name))
    checked = csvio.validate_import(parsed, issuer=ISSUERS[name], owners=OWNERS, now=NOW)
    assert checked.errors == ()
    assert len(checked.rows) == parsed.total


def test_sample_files_hold_ten_designations_across_five_programmes_and_eight_flags() -> None:
    designations = [
        r.body
        for name in ISSUERS
        if name != "flags.csv"
        for r in csvio.parse_import(csvio.read_csv_text(DATA / name)).rows
    ]
    assert len(designations) == 10
    assert {b.programme for b in designations if isinstance(b, Designation)} == {
        "CTPAT",
        "AU_ATT",
        "NZ_SES",
        "CA_PIP",
        "UK_AEO",
    }
    assert len(csvio.parse_import(csvio.read_csv_text(DATA / "flags.csv")).rows) == 8


def test_sample_screening_file_parses_cleanly() -> None:
    parsed = csvio.parse_screening(csvio.read_csv_text(DATA / "screening.csv"))
    assert parsed.errors == ()
    assert len(parsed.rows) == parsed.total >= 12
    jpy = [r.shipment.declared_value for r in parsed.rows if r.shipment.declared_value.currency == "JPY"]  # type: ignore[union-attr]
    assert jpy == [Money("JPY", 2450000)]


def test_sample_file_with_errors_reports_each_row() -> None:
    parsed = csvio.parse_import(csvio.read_csv_text(DATA / "designations_with_errors.csv"))
    checked = csvio.validate_import(parsed, issuer="US-CBP", owners=OWNERS, now=NOW)
    assert [r.row for r in checked.rows] == [2, 9]
    assert [(e.row, e.column) for e in checked.errors] == [
        (3, "valid_from"),
        (4, "status"),
        (5, "identifiers"),
        (6, "programme"),
        (7, "status_reason"),
        (8, "valid_from"),
    ]


def test_sample_files_and_demo_samples_describe_the_same_traders() -> None:
    def key(body: Designation | ViolationFlag) -> tuple[str, frozenset[PartyId]]:
        if isinstance(body, Designation):
            return body.programme + "/" + body.member_id, frozenset(body.party.ids)
        assert body.category is not None
        return body.category.value + "/" + body.subject.legal_name, frozenset(body.subject.ids)

    from_files = {
        key(r.body) for name in ISSUERS for r in csvio.parse_import(csvio.read_csv_text(DATA / name)).rows
    }
    assert from_files == {key(s.body) for s in sample_statements(NOW)}


def test_demo_samples_validate_as_statements_of_their_issuers() -> None:
    now = datetime.now(UTC)
    samples = sample_statements(now)
    assert len(samples) == 18
    for sample in samples:
        assert validate_body(sample.body, issuer=sample.issuer, owners=OWNERS, now=now) == sample.body


# ---------------------------------------------------------------- names, addresses, contacts (issue #13)

S_NAMES_HEADER = (
    S_HEADER + ",shipper_name,shipper_address,shipper_country,shipper_email,shipper_phone,consignee_name,"
    "consignee_address,consignee_country,consignee_identifiers,goods_description"
)


def test_screening_rows_may_name_the_parties_instead_of_identifiers() -> None:
    parsed = csvio.parse_screening(
        csv_text(
            S_NAMES_HEADER,
            'AWB1,,CN,,,,Shenzhen Hongda Trading Co Ltd,"12 Bao An Road, Shenzhen",CN,sales@hongda.cn,'
            "+8675512345678,Jane Citizen,1 George St,AU,PLATFORM:shop:jane,phone cases",
        )
    )
    assert parsed.errors == ()
    [row] = parsed.rows
    shipment = row.shipment
    assert shipment.shipper_ids == ()
    assert shipment.shipper is not None and shipment.shipper.legal_name == "Shenzhen Hongda Trading Co Ltd"
    assert shipment.shipper.address is not None and shipment.shipper.address.country == "CN"
    assert shipment.shipper.address.lines == ("12 Bao An Road, Shenzhen",)
    assert shipment.shipper.emails == ("sales@hongda.cn",) and shipment.shipper.phones == ("+8675512345678",)
    assert shipment.consignee is not None and shipment.consignee.ids == (PartyId("PLATFORM", "shop:jane"),)
    assert shipment.goods_description == "phone cases"
    # the old columns alone still read as before
    assert csvio.parse_screening(csv_text(S_HEADER, S_ROW)).rows[0].shipment.shipper is None


def test_a_screening_row_needs_an_identifier_or_a_name() -> None:
    parsed = csvio.parse_screening(csv_text(S_NAMES_HEADER, "AWB1,,CN,,,,,,CN,,,,,,,"))
    [error] = parsed.errors
    assert (error.row, error.column) == (2, "identifiers")
    assert "or a shipper_name or consignee_name" in error.message
    bad_country = csvio.parse_screening(csv_text(S_NAMES_HEADER, "AWB1,,CN,,,,X Ltd,,CHN,,,,,,,"))
    assert [e.column for e in bad_country.errors] == ["shipper_country"]


def test_flags_may_carry_names_addresses_and_contacts_and_no_identifier() -> None:
    header = F_HEADER + ",trading_names,address,emails,phones"
    row = (
        "IPR_COUNTERFEIT,CONFIRMED,HIGH,2026-11-06T09:30:00Z,,Yiwu Kaixin Gifts Co Ltd,CN,,fake watches,,"
        '"Kaixin Gifts;KX Gifts","88 Binhe Road, Yiwu",kx@kaixin.example,+86 579 8555 1234'
    )
    parsed = csvio.validate_import(
        csvio.parse_import(csv_text(header, row)), issuer="AU-ABF", owners=OWNERS, now=NOW
    )
    assert parsed.errors == ()
    body = parsed.rows[0].body
    assert isinstance(body, ViolationFlag)
    assert body.subject.ids == ()
    assert body.subject.trading_names == ("Kaixin Gifts", "KX Gifts")
    assert body.subject.phones == ("+8657985551234",)
    assert body.subject.address is not None and body.subject.address.lines == ("88 Binhe Road, Yiwu",)


def test_contact_refusals_name_their_column() -> None:
    header = F_HEADER + ",emails,phones"
    row = F_ROW + ",not-mail,"
    parsed = csvio.validate_import(
        csvio.parse_import(csv_text(header, row)), issuer="AU-ABF", owners=OWNERS, now=NOW
    )
    [error] = parsed.errors
    assert error.column == "emails" and "not an e-mail address" in error.message
    no_country = with_cell(F_HEADER, F_ROW, "identifiers", "").replace(",CN,", ",,")
    parsed = csvio.parse_import(csv_text(F_HEADER, no_country))
    assert [e.column for e in parsed.errors] == ["identifiers"]
    assert "or the country of a seller known by name" in parsed.errors[0].message
