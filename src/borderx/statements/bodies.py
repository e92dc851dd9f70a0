"""The domain model of statement bodies (DESIGN §4): designations, violation flags, withdrawals.

This module owns the Python shape of a body and nothing else: no protobuf (``body_codec``
is the one place that converts to and from the wire), no validation of business rules
(``rules``), no identifier checks (``borderx.parties``).

Invariants kept here:

- every class is a frozen, slotted dataclass whose fields mirror the proto message of the
  same name field by field, so a body is a value: hashable, comparable, safe to share;
- repeated fields are tuples, never lists;
- enums are ``StrEnum`` whose values are the names in DESIGN §4 (``"CERTIFIED"``,
  ``"IPR_COUNTERFEIT"`` …), and an enum field that was not set is ``None`` — the proto's
  ``*_UNSPECIFIED`` has no member here;
- an optional message field (``Party.address``, ``Designation.supersedes``,
  ``ShipmentRef.declared_value``, ``Withdrawal.target``) is ``None`` when unset;
- timestamps are timezone-aware ``datetime`` in UTC, ``None`` when unset. A naive datetime is
  refused at construction (it would be read as local time by one host and UTC by another),
  and an aware one in another zone is converted to UTC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime


class BodyType(enum.StrEnum):
    """Which body a statement header announces (``header.body_type``)."""

    DESIGNATION = "designation"
    FLAG = "flag"
    WITHDRAWAL = "withdrawal"


class DesignationStatus(enum.StrEnum):
    """Status of a known-shipper designation. Moves: CERTIFIED ⇄ SUSPENDED → REVOKED (final)."""

    CERTIFIED = "CERTIFIED"
    SUSPENDED = "SUSPENDED"
    REVOKED = "REVOKED"


class FlagCategory(enum.StrEnum):
    """What kind of violation a flag reports."""

    IPR_COUNTERFEIT = "IPR_COUNTERFEIT"
    UNDERVALUATION = "UNDERVALUATION"
    MISCLASSIFICATION = "MISCLASSIFICATION"
    MISDECLARATION = "MISDECLARATION"
    ORIGIN_FRAUD = "ORIGIN_FRAUD"
    ADCVD_EVASION = "ADCVD_EVASION"
    DE_MINIMIS_SPLITTING = "DE_MINIMIS_SPLITTING"
    PROHIBITED_RESTRICTED = "PROHIBITED_RESTRICTED"
    NARCOTICS = "NARCOTICS"
    FORCED_LABOUR = "FORCED_LABOUR"
    SECURITY_BREACH = "SECURITY_BREACH"


class Evidence(enum.StrEnum):
    """How firmly the issuer stands behind a flag."""

    SUSPECTED = "SUSPECTED"
    CONFIRMED = "CONFIRMED"
    ADJUDICATED = "ADJUDICATED"


class Outcome(enum.StrEnum):
    """What the issuer did about the violation."""

    SEIZURE = "SEIZURE"
    DETENTION = "DETENTION"
    PENALTY = "PENALTY"
    WARNING = "WARNING"
    REFERRAL = "REFERRAL"
    PROGRAMME_SUSPENSION = "PROGRAMME_SUSPENSION"
    FORFEITURE = "FORFEITURE"
    PROSECUTION = "PROSECUTION"
    RE_EXPORT = "RE_EXPORT"
    DESTRUCTION = "DESTRUCTION"


class Severity(enum.StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class WithdrawalReason(enum.StrEnum):
    ISSUED_IN_ERROR = "ISSUED_IN_ERROR"
    OVERTURNED_ON_APPEAL = "OVERTURNED_ON_APPEAL"
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
    EXPIRED_EARLY = "EXPIRED_EARLY"
    SUPERSEDED = "SUPERSEDED"


def _utc(owner: object, name: str, value: datetime | None) -> None:
    """Hold the timestamp invariant on ``owner.name``: aware, in UTC, or None."""
    if value is None:
        return
    if value.tzinfo is None or value.utcoffset() is None:
        # Stops a naive datetime from meaning different instants on different hosts.
        raise ValueError(f"{type(owner).__name__}.{name} must be timezone-aware, got naive {value!r}")
    if value.tzinfo is not UTC:
        object.__setattr__(owner, name, value.astimezone(UTC))


# ---------------------------------------------------------------- parties


@dataclass(frozen=True, slots=True)
class PartyId:
    """One identifier of a party: ``scheme`` (ABN, EORI, …) and ``value`` (normalised by the gateway)."""

    scheme: str
    value: str


@dataclass(frozen=True, slots=True)
class Address:
    lines: tuple[str, ...] = ()
    city: str = ""
    region: str = ""
    postal_code: str = ""
    #: ISO 3166-1 alpha-2, or "" when not given
    country: str = ""


@dataclass(frozen=True, slots=True)
class Party:
    legal_name: str
    trading_names: tuple[str, ...] = ()
    address: Address | None = None
    ids: tuple[PartyId, ...] = ()
    #: normalised lower-case e-mail addresses (``parties.contacts``)
    emails: tuple[str, ...] = ()
    #: normalised E.164 phone numbers (``parties.contacts``)
    phones: tuple[str, ...] = ()


# ---------------------------------------------------------------- references


@dataclass(frozen=True, slots=True)
class StatementRef:
    """A reference to one statement of one issuer; ``header_digest`` optionally pins its header."""

    issuer: str
    seq: int
    header_digest: bytes = b""


# ---------------------------------------------------------------- bodies


@dataclass(frozen=True, slots=True)
class Designation:
    """A known-shipper designation: ``party`` is a trusted trader in ``programme``."""

    party: Party
    programme: str
    member_id: str = ""
    level: str = ""
    status: DesignationStatus | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    status_reason: str = ""
    consent_to_share: bool = False
    supersedes: StatementRef | None = None

    def __post_init__(self) -> None:
        _utc(self, "valid_from", self.valid_from)
        _utc(self, "valid_until", self.valid_until)


@dataclass(frozen=True, slots=True)
class Money:
    #: ISO 4217 code, e.g. "USD"
    currency: str
    #: amount in the currency's minor unit (cents)
    minor_units: int


@dataclass(frozen=True, slots=True)
class ShipmentRef:
    air_waybill: str = ""
    house_bill: str = ""
    tracking_number: str = ""
    hs_codes: tuple[str, ...] = ()
    declared_value: Money | None = None
    #: ISO 3166-1 alpha-2, or "" when not given
    origin_country: str = ""


@dataclass(frozen=True, slots=True)
class ViolationFlag:
    """A violation flag: the issuer caught ``subject`` doing ``category``."""

    subject: Party
    category: FlagCategory | None = None
    evidence: Evidence | None = None
    outcomes: tuple[Outcome, ...] = ()
    severity: Severity | None = None
    observed_at: datetime | None = None
    expires_at: datetime | None = None
    shipments: tuple[ShipmentRef, ...] = ()
    summary: str = ""

    def __post_init__(self) -> None:
        _utc(self, "observed_at", self.observed_at)
        _utc(self, "expires_at", self.expires_at)


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """Withdraws an earlier statement of the same issuer. Nothing is deleted: history stays."""

    target: StatementRef | None
    reason: WithdrawalReason | None = None
    effective_at: datetime | None = None
    note: str = ""

    def __post_init__(self) -> None:
        _utc(self, "effective_at", self.effective_at)


Body = Designation | ViolationFlag | Withdrawal


def body_type_of(body: Body) -> BodyType:
    """The header ``body_type`` that announces ``body``."""
    if isinstance(body, Designation):
        return BodyType.DESIGNATION
    if isinstance(body, ViolationFlag):
        return BodyType.FLAG
    if isinstance(body, Withdrawal):
        return BodyType.WITHDRAWAL
    # Unreachable for well-typed callers; stops a foreign object being signed under a guessed type.
    raise TypeError(f"not a statement body: {type(body).__name__}")
