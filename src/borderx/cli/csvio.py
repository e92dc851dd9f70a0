"""CSV files of the command line: bulk imports (designations or flags) and screening batches.

This module owns the public column contract of those files and turns each row into a domain
value (``borderx.statements.bodies``) or into :class:`RowError` values that name the row and
the column. It is pure: it parses the text it is given (:func:`read_csv_text` is its one read
of a file) and knows nothing of gRPC. It also holds the cell parsers that ``borderx publish``
shares (times, identifiers, enums, ``ISSUER#SEQ``), so that a value means the same thing
typed in a spreadsheet or on a command line.

The contract (``borderx import --help`` and ``borderx screen --help`` repeat it):

- A header row is required. Columns are matched by name, exactly as spelt in
  :data:`DESIGNATION_COLUMNS`, :data:`FLAG_COLUMNS` and :data:`SCREENING_COLUMNS`, in any
  order; a missing required column, an unknown column or a repeated one refuses the whole file
  (:class:`CsvHeaderError`, exit 2). An import file's kind is told by its header: a
  ``programme`` column makes it designations, a ``category`` column flags.
- Rows are numbered like a spreadsheet: the header is row 1, the first data row row 2, and a
  quoted cell spanning several lines is still one row. Rows whose cells are all blank are
  skipped (and still counted, so later numbers match the spreadsheet).
- Cells are stripped of surrounding whitespace. Enum values are written as in DESIGN §4, with
  case folded (``certified`` reads as ``CERTIFIED``); so are programme and level names.
- ``identifiers`` is ``SCHEME:VALUE`` items joined by ``;`` and split on the FIRST colon only,
  so ``PLATFORM:amazon:A2X9K`` is scheme ``PLATFORM``, value ``amazon:A2X9K``. Each goes through
  :func:`borderx.parties.normalise_party_id`. ``outcomes`` and ``hs_codes`` are joined by ``;``.
- Times are ISO 8601. A date alone (``2026-03-01``) means 00:00:00 UTC of that day. A
  timestamp must carry its zone (``Z`` or an offset such as ``+10:00``): one without is
  refused, not guessed, because a spreadsheet's local time would become different instants on
  different machines (``bodies`` refuses naive datetimes for the same reason).
- Names and addresses (issue #13): an import file may add ``trading_names`` (joined by
  ``;``), ``address`` (one free-text cell: street, city, postcode), ``emails`` and
  ``phones`` (joined by ``;``). A flag's ``identifiers`` may be empty when ``country`` is
  given (a seller known by name). A screening file may add ``shipper_name``,
  ``shipper_address``, ``shipper_country``, ``shipper_email``, ``shipper_phone``,
  ``consignee_name``, ``consignee_address``, ``consignee_country``,
  ``consignee_identifiers`` and ``goods_description``; its ``identifiers`` may then be
  empty when a shipper or consignee name is given.
- ``declared_value`` is a decimal amount in major units (``129.95``), converted to the
  currency's minor units: 2 decimals, except the currencies in :data:`CURRENCY_DECIMALS`
  (``JPY`` has none, ``KWD`` three). More decimals than the currency has are refused, never
  rounded. ``hs_codes`` may be written with dots or spaces (``6109.10``); they are removed.

Messages never echo names or free text (they may be personal data) nor a ``US_IOR`` value
(``borderx.parties`` keeps that rule for identifiers); they echo dates, codes and amounts,
cut to a bounded length.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Final, TypeVar

from borderx.errors import ConfigError, InvalidArgument
from borderx.parties import normalise_party_id
from borderx.statements.bodies import (
    Address,
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Money,
    Outcome,
    Party,
    PartyId,
    Severity,
    StatementRef,
    ViolationFlag,
)
from borderx.statements.rules import validate_body

_E = TypeVar("_E", bound=enum.StrEnum)
_T = TypeVar("_T")


class CsvKind(enum.StrEnum):
    """What a CSV file holds."""

    DESIGNATIONS = "designations"
    FLAGS = "flags"
    SCREENING = "screening"


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns of one kind of file: required ones, then optional ones."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def all(self) -> tuple[str, ...]:
        return self.required + self.optional

    def spelt(self) -> str:
        """``a,b,c[,d]``: how the help text and error messages show the header."""
        return ",".join(self.required) + "".join(f"[,{c}]" for c in self.optional)


#: the public column contract of an import file of designations
DESIGNATION_COLUMNS: Final = Columns(
    required=(
        "programme",
        "member_id",
        "level",
        "status",
        "valid_from",
        "valid_until",
        "legal_name",
        "country",
        "identifiers",
    ),
    optional=("status_reason", "trading_names", "address", "emails", "phones"),
)
#: the public column contract of an import file of violation flags
FLAG_COLUMNS: Final = Columns(
    required=(
        "category",
        "evidence",
        "severity",
        "observed_at",
        "expires_at",
        "legal_name",
        "country",
        "identifiers",
        "summary",
    ),
    optional=("outcomes", "trading_names", "address", "emails", "phones"),
)
#: the public column contract of a screening file
SCREENING_COLUMNS: Final = Columns(
    required=("reference", "identifiers", "origin", "declared_value", "currency", "hs_codes"),
    optional=(
        "shipper_name",
        "shipper_address",
        "shipper_country",
        "shipper_email",
        "shipper_phone",
        "consignee_name",
        "consignee_address",
        "consignee_country",
        "consignee_identifiers",
        "goods_description",
    ),
)
COLUMNS: Final[Mapping[CsvKind, Columns]] = {
    CsvKind.DESIGNATIONS: DESIGNATION_COLUMNS,
    CsvKind.FLAGS: FLAG_COLUMNS,
    CsvKind.SCREENING: SCREENING_COLUMNS,
}
# The column that tells an import file's kind.
_KIND_MARKERS: Final = {"programme": CsvKind.DESIGNATIONS, "category": CsvKind.FLAGS}

#: ISO 4217 currencies whose minor unit is not 1/100 (code → decimals); every other has 2.
CURRENCY_DECIMALS: Final[Mapping[str, int]] = {
    # zero decimals
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # three decimals
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip

_INT64_MAX: Final = 2**63 - 1
_MAX_ECHO: Final = 40
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.*")
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_HS_CODE = re.compile(r"[0-9]{6,10}")
_HS_SEPARATORS = re.compile(r"[.\s]")
_STATEMENT_REF = re.compile(r"([A-Za-z0-9-]+)#([0-9]+)")
_IDS_INDEX = re.compile(r"\.ids\[([0-9]+)\]")
_OUTCOMES_INDEX = re.compile(r"^outcomes\[([0-9]+)\]")


# ---------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row (1-based, header = row 1) was refused, and in which column ("" = the whole row)."""

    row: int
    column: str
    message: str

    @property
    def reason(self) -> str:
        """``column: message``, the reason shown in summaries (the row number goes beside it)."""
        return f"{self.column}: {self.message}" if self.column else self.message

    def __str__(self) -> str:
        where = f"row {self.row}, column {self.column}" if self.column else f"row {self.row}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One row of an import file that parsed: its row number and the body it describes."""

    row: int
    body: Designation | ViolationFlag


@dataclass(frozen=True, slots=True)
class ImportFile:
    """An import file read: its kind, the rows that parsed, and the row errors, by row."""

    kind: CsvKind
    rows: tuple[ImportRow, ...]
    errors: tuple[RowError, ...]
    #: data rows in the file, blank rows not counted
    total: int

    def refused_rows(self) -> dict[int, str]:
        """Row number → the reasons it was refused, joined by ``; ``."""
        return _by_row(self.errors)


@dataclass(frozen=True, slots=True)
class Shipment:
    """One shipment to screen (the CLI's side of ``borderx.v1.Shipment``)."""

    reference: str
    shipper_ids: tuple[PartyId, ...]
    origin_country: str = ""
    declared_value: Money | None = None
    hs_codes: tuple[str, ...] = ()
    #: the manifest's parties by name, address and contacts (None when the file names none)
    shipper: Party | None = None
    consignee: Party | None = None
    goods_description: str = ""


@dataclass(frozen=True, slots=True)
class ScreeningRow:
    row: int
    shipment: Shipment


@dataclass(frozen=True, slots=True)
class ScreeningFile:
    rows: tuple[ScreeningRow, ...]
    errors: tuple[RowError, ...]
    total: int

    def refused_rows(self) -> dict[int, str]:
        return _by_row(self.errors)


def _by_row(errors: Sequence[RowError]) -> dict[int, str]:
    out: dict[int, list[str]] = {}
    for err in errors:
        out.setdefault(err.row, []).append(err.reason)
    return {row: "; ".join(reasons) for row, reasons in sorted(out.items())}


class CsvHeaderError(InvalidArgument):
    """The file as a whole cannot be read: no header, unknown or missing columns, bad encoding."""


class CellError(ValueError):
    """A cell (or a command-line value) that does not parse; the message says what is expected."""


# ---------------------------------------------------------------- cell parsers (shared with publish)


def shown(value: str) -> str:
    """``value`` quoted and cut to a bounded length, for an error message."""
    return repr(value[:_MAX_ECHO]) + ("…" if len(value) > _MAX_ECHO else "")


def parse_time(text: str) -> datetime:
    """An ISO 8601 date (00:00:00 UTC that day) or timestamp with a zone, as an aware UTC datetime."""
    value = text.strip()
    if _DATE.fullmatch(value):
        try:
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        except ValueError:
            raise CellError(f"{shown(value)} is not a calendar date (YYYY-MM-DD)") from None
    if not _TIMESTAMP.fullmatch(value):
        raise CellError(
            f"{shown(value)} is not an ISO 8601 date (2026-03-01) or timestamp (2026-03-01T09:30:00Z)"
        )
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CellError(
            f"{shown(value)} is not an ISO 8601 timestamp such as 2026-03-01T09:30:00Z or "
            "2026-03-01T09:30:00+10:00"
        ) from None
    if when.tzinfo is None or when.utcoffset() is None:
        # Stops a spreadsheet's local time becoming different instants on different machines.
        raise CellError(
            f"{shown(value)} has no time zone; add Z (UTC) or an offset such as +10:00, "
            "or give a date alone (00:00:00 UTC that day)"
        )
    return when.astimezone(UTC)


def parse_enum(enum_cls: type[_E], text: str) -> _E:
    """The member of ``enum_cls`` named ``text`` (case folded)."""
    value = text.strip().upper()
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise CellError(f"{shown(text.strip())} is not one of {allowed}") from None


def parse_enum_list(enum_cls: type[_E], text: str) -> tuple[_E, ...]:
    """``A;B;C`` → members of ``enum_cls``; empty items (a trailing ``;``) are ignored."""
    out: list[_E] = []
    for i, item in enumerate(_items(text)):
        try:
            out.append(parse_enum(enum_cls, item))
        except CellError as exc:
            raise CellError(f"item {i + 1}: {exc}") from None
    return tuple(out)


def split_identifier(text: str) -> tuple[str, str]:
    """``SCHEME:VALUE`` → ``(scheme, value)``, split on the first colon only."""
    scheme, sep, value = text.strip().partition(":")
    if not sep or not scheme.strip():
        # The value is not echoed: it may be an identifier of a person (a US_IOR in SSN form).
        raise CellError("is not SCHEME:VALUE (e.g. ABN:51824753556 or PLATFORM:amazon:A2X9K)")
    return scheme.strip(), value.strip()


def parse_identifier(text: str) -> PartyId:
    """One ``SCHEME:VALUE``, validated and normalised by ``borderx.parties``."""
    scheme, value = split_identifier(text)
    try:
        return normalise_party_id(scheme, value)
    except InvalidArgument as exc:
        raise CellError(bare_message(exc)) from None


def parse_identifiers(text: str, *, required: bool = True) -> tuple[PartyId, ...]:
    """``SCHEME:VALUE;SCHEME:VALUE…`` → normalised identifiers, each error naming its item."""
    items = _items(text)
    if required and not items:
        raise CellError("required: at least one SCHEME:VALUE, e.g. ABN:51824753556")
    out: list[PartyId] = []
    for i, item in enumerate(items):
        try:
            out.append(parse_identifier(item))
        except CellError as exc:
            raise CellError(f"identifier {i + 1}: {exc}") from None
    return tuple(out)


def parse_statement_ref(text: str) -> StatementRef:
    """``ISSUER#SEQ`` (e.g. ``US-CBP#12``) → a StatementRef."""
    match = _STATEMENT_REF.fullmatch(text.strip())
    if match is None or int(match.group(2)) < 1:
        raise CellError(f"{shown(text.strip())} is not ISSUER#SEQ, e.g. US-CBP#12")
    return StatementRef(issuer=match.group(1), seq=int(match.group(2)))


def parse_country(text: str) -> str:
    value = text.strip().upper()
    if not _COUNTRY.fullmatch(value):
        raise CellError(f"{shown(text.strip())} is not an ISO 3166-1 alpha-2 code (two letters, e.g. AU)")
    return value


def currency_decimals(currency: str) -> int:
    """How many decimals ``currency``'s minor unit has (ISO 4217; 2 unless listed otherwise)."""
    return CURRENCY_DECIMALS.get(currency, 2)


def to_minor_units(amount: str, currency: str) -> int:
    """``"129.95"`` in ``"USD"`` → ``12995``; ``"1500"`` in ``"JPY"`` → ``1500``."""
    value = amount.strip()
    if not _AMOUNT.fullmatch(value):
        raise CellError(
            f"{shown(value)} is not an amount: digits with an optional decimal point, e.g. 129.95 "
            "(no sign, currency symbol, thousands separator or exponent)"
        )
    decimals = currency_decimals(currency)
    places = len(value.partition(".")[2])
    if places > decimals:
        # Refused rather than rounded: the declared value is what the declarant said.
        raise CellError(f"{shown(value)} has {places} decimals; {currency} has {decimals}")
    minor = int(Decimal(value).scaleb(decimals))
    if minor > _INT64_MAX:
        raise CellError(f"{shown(value)} {currency} is too large")
    return minor


def parse_hs_codes(text: str) -> tuple[str, ...]:
    """``6109.10;620342`` → ``("610910", "620342")``: 6 to 10 digits each."""
    out: list[str] = []
    for i, item in enumerate(_items(text)):
        code = _HS_SEPARATORS.sub("", item)
        if not _HS_CODE.fullmatch(code):
            raise CellError(f"item {i + 1}: {shown(item)} is not an HS code: 6 to 10 digits")
        out.append(code)
    return tuple(out)


def bare_message(exc: InvalidArgument) -> str:
    """The message of ``exc`` without its ``field: `` prefix."""
    message = str(exc)
    prefix = f"{exc.field}: "
    return message[len(prefix) :] if exc.field and message.startswith(prefix) else message


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.split(";") if item.strip()]


# ---------------------------------------------------------------- records and headers


def read_csv_text(path: Path) -> str:
    """The text of ``path`` (UTF-8, with or without the byte-order mark spreadsheets write)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvHeaderError(
            f"{path}: byte {exc.start} is not UTF-8; export the sheet as 'CSV UTF-8'"
        ) from None


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """``(row number, cells)`` for every record, the header being row 1."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    row = 1
    try:
        for cells in reader:
            yield row, cells
            row += 1
    except csv.Error as exc:
        raise CsvHeaderError(f"row {row}: not valid CSV ({exc})") from None


def _header(cells: list[str]) -> list[str]:
    names = [c.strip() for c in cells]
    if len(names) == 1 and ";" in names[0]:
        raise CsvHeaderError(
            "the header row is one cell holding ';': the file looks separated by semicolons; "
            "export it with commas between cells (';' only joins items inside a cell)"
        )
    return names


def _check_columns(names: Sequence[str], kind: CsvKind) -> None:
    columns = COLUMNS[kind]
    problems: list[str] = []
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        problems.append(f"cell(s) {', '.join(map(str, blank))} of the header are empty")
    repeated = sorted({n for n in names if n and names.count(n) > 1})
    if repeated:
        problems.append(f"column(s) named twice: {', '.join(repeated)}")
    missing = [c for c in columns.required if c not in names]
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    unknown = [n for n in names if n and n not in columns.all]
    if unknown:
        problems.append(
            f"unknown column(s): {', '.join(shown(n) if not n.isidentifier() else n for n in unknown)}"
        )
    if problems:
        raise CsvHeaderError(
            f"header row of a {kind} file: {'; '.join(problems)}. Expected: {columns.spelt()}"
        )


def detect_kind(names: Sequence[str]) -> CsvKind:
    """The kind of an import file from its header: ``programme`` → designations, ``category`` → flags."""
    kinds = {kind for marker, kind in _KIND_MARKERS.items() if marker in names}
    if len(kinds) == 1:
        return kinds.pop()
    expected = f"designations: {DESIGNATION_COLUMNS.spelt()}\n  flags: {FLAG_COLUMNS.spelt()}"
    if kinds:
        raise CsvHeaderError(
            "the header row names both programme (designations) and category (flags); "
            f"a file holds one kind. Expected one of:\n  {expected}"
        )
    raise CsvHeaderError(
        "the header row names neither programme (a designations file) nor category (a flags file). "
        f"Expected one of:\n  {expected}"
    )


class _Row:
    """One data row being parsed: its cells by column, and the errors found so far."""

    def __init__(self, row: int, names: Sequence[str], cells: Sequence[str]) -> None:
        self.row = row
        self.names = list(names)
        self.errors: list[RowError] = []
        self.cells = {name: cells[i].strip() if i < len(cells) else "" for i, name in enumerate(names)}
        extra = [c for c in cells[len(names) :] if c.strip()]
        if extra:
            self.errors.append(
                RowError(row, "", f"has {len(names) + len(extra)} or more cells; the header has {len(names)}")
            )

    def text(self, column: str) -> str:
        return self.cells.get(column, "")

    def sorted_errors(self) -> list[RowError]:
        """The errors in the order of the file's columns (whole-row errors first)."""
        order = {name: i for i, name in enumerate(self.names)}
        return sorted(self.errors, key=lambda e: order.get(e.column, -1))

    def get(self, column: str, parse: Callable[[str], _T], default: _T, *, required: bool = False) -> _T:
        """``parse(cell)``; an empty cell gives ``default`` (or an error when ``required``)."""
        cell = self.text(column)
        if not cell:
            if required:
                self.errors.append(RowError(self.row, column, "required: the cell is empty"))
            return default
        try:
            return parse(cell)
        except CellError as exc:
            self.errors.append(RowError(self.row, column, str(exc)))
            return default

    def identifiers(self, *, required: bool = True, column: str = "identifiers") -> tuple[PartyId, ...]:
        if not self.text(column):
            if required:
                self.errors.append(
                    RowError(self.row, column, "required: at least one SCHEME:VALUE, e.g. ABN:51824753556")
                )
            return ()
        return self.get(column, parse_identifiers, ())

    def party(self, *, ids_required: bool = True) -> Party:
        country = self.get("country", parse_country, "")
        if not ids_required and not country and not self.text("identifiers"):
            self.errors.append(
                RowError(
                    self.row,
                    "identifiers",
                    "required: a SCHEME:VALUE, or the country of a seller known by name",
                )
            )
        ids = self.identifiers(required=ids_required)
        legal_name = self.text("legal_name")
        if not legal_name:
            self.errors.append(RowError(self.row, "legal_name", "required: the cell is empty"))
        return Party(
            legal_name=legal_name,
            trading_names=tuple(_items(self.text("trading_names"))),
            address=_address(self.text("address"), country),
            ids=ids,
            emails=tuple(_items(self.text("emails"))),
            phones=tuple(_items(self.text("phones"))),
        )

    def manifest_party(self, prefix: str, ids: tuple[PartyId, ...]) -> Party | None:
        """A screening row's shipper or consignee (``shipper_name`` …), None when it names none."""
        country = self.get(f"{prefix}_country", parse_country, "")
        name = self.text(f"{prefix}_name")
        address = _address(self.text(f"{prefix}_address"), country)
        emails = tuple(_items(self.text(f"{prefix}_email")))
        phones = tuple(_items(self.text(f"{prefix}_phone")))
        if not (name or address or emails or phones):
            return None
        return Party(legal_name=name, address=address, ids=ids, emails=emails, phones=phones)


def _address(text: str, country: str) -> Address | None:
    # one free-text cell, as manifests carry it; matching reads words, not fields
    if not text and not country:
        return None
    return Address(lines=(text,) if text else (), country=country)


def _blank(cells: Sequence[str]) -> bool:
    return not any(c.strip() for c in cells)


# ---------------------------------------------------------------- import files


def parse_import(text: str) -> ImportFile:
    """Read an import file (designations or flags, told by the header) into bodies and row errors.

    Raises :class:`CsvHeaderError` when the file as a whole cannot be read. Bodies are not yet
    checked against the business rules; :func:`validate_import` does that.
    """
    records = _records(text)
    first = next(records, None)
    if first is None or _blank(first[1]):
        raise CsvHeaderError(
            "the file is empty or its first row is blank; the header row is required. Expected one of:\n"
            f"  designations: {DESIGNATION_COLUMNS.spelt()}\n  flags: {FLAG_COLUMNS.spelt()}"
        )
    names = _header(first[1])
    kind = detect_kind(names)
    _check_columns(names, kind)
    parse_row = _designation_row if kind is CsvKind.DESIGNATIONS else _flag_row
    rows: list[ImportRow] = []
    errors: list[RowError] = []
    total = 0
    for number, cells in records:
        if _blank(cells):
            continue
        total += 1
        row = _Row(number, names, cells)
        body = parse_row(row)
        if row.errors:
            errors.extend(row.sorted_errors())
        else:
            rows.append(ImportRow(number, body))
    return ImportFile(kind=kind, rows=tuple(rows), errors=tuple(errors), total=total)


def _designation_row(row: _Row) -> Designation:
    programme = row.get("programme", lambda s: s.upper(), "", required=True)
    status = row.get("status", lambda s: parse_enum(DesignationStatus, s), None, required=True)
    return Designation(
        party=row.party(),
        programme=programme,
        member_id=row.text("member_id"),
        level=row.text("level").upper(),
        status=status,
        valid_from=row.get("valid_from", parse_time, None),
        valid_until=row.get("valid_until", parse_time, None),
        status_reason=row.text("status_reason"),
    )


def _flag_row(row: _Row) -> ViolationFlag:
    return ViolationFlag(
        subject=row.party(ids_required=False),
        category=row.get("category", lambda s: parse_enum(FlagCategory, s), None, required=True),
        evidence=row.get("evidence", lambda s: parse_enum(Evidence, s), None, required=True),
        severity=row.get("severity", lambda s: parse_enum(Severity, s), None, required=True),
        outcomes=row.get("outcomes", lambda s: parse_enum_list(Outcome, s), ()),
        observed_at=row.get("observed_at", parse_time, None, required=True),
        expires_at=row.get("expires_at", parse_time, None),
        summary=row.text("summary"),
    )


# ---------------------------------------------------------------- business rules, per row

_PARTY_COLUMNS: Final = (
    "legal_name",
    "country",
    "identifiers",
    "trading_names",
    "address",
    "emails",
    "phones",
)
# Body field path (as ``rules`` and the gateway name it) → the CSV column it came from.
_FIELD_COLUMNS: Final[Mapping[CsvKind, tuple[tuple[str, str], ...]]] = {
    CsvKind.DESIGNATIONS: (
        ("party.ids", "identifiers"),
        ("party.legal_name", "legal_name"),
        ("party.address.country", "country"),
        ("party.address", "address"),
        ("party.trading_names", "trading_names"),
        ("party.emails", "emails"),
        ("party.phones", "phones"),
        ("party", "identifiers"),
        *((c, c) for c in DESIGNATION_COLUMNS.all if c not in _PARTY_COLUMNS),
    ),
    CsvKind.FLAGS: (
        ("subject.ids", "identifiers"),
        ("subject.legal_name", "legal_name"),
        ("subject.address.country", "country"),
        ("subject.address", "address"),
        ("subject.trading_names", "trading_names"),
        ("subject.emails", "emails"),
        ("subject.phones", "phones"),
        ("subject", "identifiers"),
        *((c, c) for c in FLAG_COLUMNS.all if c not in _PARTY_COLUMNS),
    ),
}


def column_for_field(kind: CsvKind, field_path: str) -> str:
    """The CSV column a body field path (``party.ids[1].value``, ``flag.status``) came from; "" if none."""
    path = field_path
    for prefix in ("designation.", "flag."):
        if path.startswith(prefix):
            path = path[len(prefix) :]
    for prefix, column in _FIELD_COLUMNS.get(kind, ()):
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return column
    return ""


def row_error_for(kind: CsvKind, row: int, field_path: str, message: str) -> RowError:
    """A RowError for a refusal of field ``field_path`` (rules' or the gateway's), in CSV terms."""
    column = column_for_field(kind, field_path)
    ids = _IDS_INDEX.search(field_path)
    outcome = _OUTCOMES_INDEX.search(field_path.removeprefix("flag."))
    if column == "identifiers" and ids is not None:
        message = f"identifier {int(ids.group(1)) + 1}: {message}"
    elif column == "outcomes" and outcome is not None:
        message = f"item {int(outcome.group(1)) + 1}: {message}"
    elif not column and field_path:
        message = f"{field_path}: {message}"
    return RowError(row, column, message)


def validate_import(
    parsed: ImportFile, *, issuer: str, owners: Mapping[str, str] | None, now: datetime | None = None
) -> ImportFile:
    """Check every parsed row against the business rules as a statement of ``issuer``.

    ``owners`` is the directory's programme → owner map (None: ownership left to the gateway).

    Rows that pass keep their body with identifiers normalised; rows that fail move to the
    errors, named by row and column. The gateway checks again; its verdict is what counts.
    """
    rows: list[ImportRow] = []
    errors = list(parsed.errors)
    for item in parsed.rows:
        try:
            body = validate_body(item.body, issuer=issuer, owners=owners, now=now)
        except InvalidArgument as exc:
            errors.append(row_error_for(parsed.kind, item.row, exc.field, bare_message(exc)))
            continue
        if not isinstance(body, (Designation, ViolationFlag)):  # pragma: no cover - rules keep the type
            raise TypeError(f"validate_body returned a {type(body).__name__}")
        rows.append(replace(item, body=body))
    errors.sort(key=lambda e: e.row)
    return replace(parsed, rows=tuple(rows), errors=tuple(errors))


# ---------------------------------------------------------------- screening files


def parse_screening(text: str) -> ScreeningFile:
    """Read a screening file (``reference,identifiers,origin,declared_value,currency,hs_codes``)."""
    records = _records(text)
    first = next(records, None)
    if first is None or _blank(first[1]):
        raise CsvHeaderError(
            f"the file is empty or its first row is blank; the header row is required: {SCREENING_COLUMNS.spelt()}"
        )
    names = _header(first[1])
    _check_columns(names, CsvKind.SCREENING)
    rows: list[ScreeningRow] = []
    errors: list[RowError] = []
    total = 0
    for number, cells in records:
        if _blank(cells):
            continue
        total += 1
        row = _Row(number, names, cells)
        shipment = _shipment_row(row)
        if row.errors:
            errors.extend(row.sorted_errors())
        else:
            rows.append(ScreeningRow(number, shipment))
    return ScreeningFile(rows=tuple(rows), errors=tuple(errors), total=total)


def _shipment_row(row: _Row) -> Shipment:
    reference = row.get("reference", str, "", required=True)
    named = bool(row.text("shipper_name") or row.text("consignee_name"))
    if not named and not row.text("identifiers") and not row.text("consignee_identifiers"):
        row.errors.append(
            RowError(
                row.row,
                "identifiers",
                "required: at least one SCHEME:VALUE (e.g. ABN:51824753556), or a shipper_name or consignee_name",
            )
        )
    ids = row.identifiers(required=False)
    consignee_ids = row.identifiers(required=False, column="consignee_identifiers")
    origin = row.get("origin", parse_country, "")
    currency = row.get("currency", _parse_currency, "")
    amount = row.text("declared_value")
    declared: Money | None = None
    if amount and not currency and not row.text("currency"):
        row.errors.append(RowError(row.row, "currency", "required when declared_value is given"))
    elif currency and not amount:
        row.errors.append(RowError(row.row, "declared_value", "required when currency is given"))
    elif amount and currency:
        minor = row.get("declared_value", lambda s: to_minor_units(s, currency), None)
        declared = Money(currency, minor) if minor is not None else None
    no_codes: tuple[str, ...] = ()
    hs_codes = row.get("hs_codes", parse_hs_codes, no_codes)
    return Shipment(
        reference=reference,
        shipper_ids=ids,
        origin_country=origin,
        declared_value=declared,
        hs_codes=hs_codes,
        shipper=row.manifest_party("shipper", ()),
        consignee=row.manifest_party("consignee", consignee_ids)
        or (Party(legal_name="", ids=consignee_ids) if consignee_ids else None),
        goods_description=row.text("goods_description"),
    )


def _parse_currency(text: str) -> str:
    value = text.strip().upper()
    if not _CURRENCY.fullmatch(value):
        raise CellError(f"{shown(text.strip())} is not an ISO 4217 code (three letters, e.g. USD)")
    return value
