"""Business rules on statement bodies (DESIGN §4), checked before a body is signed.

This module owns the question "may ``issuer`` say this?": which fields are required, which
values are allowed, who may designate in which programme, which status moves are allowed,
and how large any field may be. It imports no protobuf; it works on ``bodies`` dataclasses.

Invariants kept here:

- every refusal is an :class:`~borderx.errors.InvalidArgument` whose ``field`` is the path of
  the offending field relative to the body (``party.ids[2].value``,
  ``shipments[0].hs_codes[1]``) and whose message names the rule that failed;
- :func:`validate_body` returns the body with every party identifier in its normal form
  (``borderx.parties``): that, not what the caller typed, is what the gateway signs and stores;
- every string and every repeated field is bounded (:class:`BodyLimits`), so input of any
  size gets a clear error instead of being carried, signed and replicated;
- messages never echo names, addresses or free text (they may be personal data); they give
  lengths, counts, codes and agency ids;
- the rules depend on no clock unless the caller passes ``now``: a receiver that re-checks a
  peer's body gets the same answer whenever it does so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeVar

from borderx.errors import InvalidArgument
from borderx.errors import quote as _quote
from borderx.parties import normalise_party_id
from borderx.parties.contacts import normalise_email, normalise_phone
from borderx.statements.bodies import (
    Address,
    Body,
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Party,
    PartyId,
    Severity,
    ShipmentRef,
    StatementRef,
    ViolationFlag,
    Withdrawal,
    WithdrawalReason,
)

#: the form of a programme name; which agency owns which programme is in the directory
#: (``Directory.programme_owners()``), so a new programme is a signed directory change
PROGRAMME_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")

#: programme → the levels a designation in it may carry ("" = no level). A programme missing
#: from the table has no levels. CTPAT tiers apply to importers; other CTPAT partners
#: (carriers, brokers, exporters …) have none. A UK AEO authorisation is always one of
#: AEO_C (customs simplifications), AEO_S (security and safety) or AEO_F (both). Australian
#: Trusted Trader, the NZ Secure Exports Scheme and Partners in Protection have no tiers.
DEFAULT_PROGRAMME_LEVELS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "CTPAT": frozenset({"", "CTPAT_TIER_1", "CTPAT_TIER_2", "CTPAT_TIER_3"}),
        "UK_AEO": frozenset({"AEO_C", "AEO_S", "AEO_F"}),
        "AU_ATT": frozenset({""}),
        "NZ_SES": frozenset({""}),
        "CA_PIP": frozenset({""}),
    }
)

#: the programme whose owner alone may put CTPAT account numbers in designations
CTPAT_PROGRAMME = "CTPAT"


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """Upper bounds on a body's strings (in characters) and repeated fields (in items)."""

    max_name_length: int = 512
    max_trading_names: int = 32
    max_ids: int = 32
    #: e-mail addresses, and phone numbers, per party
    max_contacts: int = 16
    max_address_lines: int = 8
    max_address_line_length: int = 256
    #: programme, member id, level, city, region, postal code, bill and tracking numbers
    max_short_text_length: int = 128
    #: status_reason, withdrawal note
    max_reason_length: int = 2000
    max_summary_length: int = 4000
    max_shipments: int = 100
    max_hs_codes: int = 32
    #: how far in the future (by ``now``) an observation time may lie, for clock skew
    max_clock_skew: timedelta = timedelta(minutes=5)


DEFAULT_LIMITS = BodyLimits()

_UINT64_MAX = 2**64 - 1
_INT64_MAX = 2**63 - 1
_DIGEST_SIZE = 32
_T = TypeVar("_T")

_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_HS_CODE = re.compile(r"[0-9]{6,10}")
# C0/C1 control characters and Unicode line/paragraph separators; tab and newline are allowed
# in multi-line text only.
_CONTROL_SINGLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_MULTI = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
# Bidirectional embeddings, overrides and isolates: they make text display other than it reads.
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")

_ALLOWED_MOVES: Mapping[DesignationStatus, frozenset[DesignationStatus]] = MappingProxyType(
    {
        DesignationStatus.CERTIFIED: frozenset(
            {DesignationStatus.CERTIFIED, DesignationStatus.SUSPENDED, DesignationStatus.REVOKED}
        ),
        DesignationStatus.SUSPENDED: frozenset(
            {DesignationStatus.SUSPENDED, DesignationStatus.CERTIFIED, DesignationStatus.REVOKED}
        ),
        # REVOKED is final: only a re-statement of the revocation (e.g. a corrected reason).
        DesignationStatus.REVOKED: frozenset({DesignationStatus.REVOKED}),
    }
)


# ---------------------------------------------------------------- public


def validate_body(
    body: Body,
    *,
    issuer: str,
    owners: Mapping[str, str] | None,
    levels: Mapping[str, frozenset[str]] = DEFAULT_PROGRAMME_LEVELS,
    limits: BodyLimits = DEFAULT_LIMITS,
    now: datetime | None = None,
) -> Body:
    """Check ``body`` as a statement of ``issuer`` and return it with identifiers normalised.

    ``owners`` maps programme → owning agency: the directory's ``programme_owners()``, the
    one source of who may designate where. ``None`` is for a client-side pre-check that has
    no directory at hand: programme names are then checked for form only, and the gateway
    decides ownership. ``levels`` maps programme → allowed levels. ``now`` (timezone-aware) turns on the checks that
    depend on the clock (an observation in the future): pass it when publishing, leave it
    out when re-checking a body whose issuer already signed it.

    Raises :class:`InvalidArgument` naming the field and the rule.
    """
    if now is not None and now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now!r}")
    if isinstance(body, Designation):
        return _designation(body, issuer=issuer, owners=owners, levels=levels, limits=limits)
    if isinstance(body, ViolationFlag):
        return _flag(body, limits=limits, now=now)
    if isinstance(body, Withdrawal):
        return _withdrawal(body, issuer=issuer, limits=limits)
    raise TypeError(f"not a statement body: {type(body).__name__}")


@dataclass(frozen=True, eq=False)
class BodyCheck:
    """Proof that :func:`validate_body` returned ``body`` itself for these arguments.

    The rules are pure functions of the body (a frozen dataclass) and the arguments, so a
    second check of the same object with equal arguments must give the same answer: Publish
    validates a draft before signing it (for the refusal's field path), and admission then
    reuses this record instead of running every rule again (:meth:`covers`). Made only by
    :func:`validate_body_checked`.
    """

    body: Body
    issuer: str
    owners: Mapping[str, str] | None
    levels: Mapping[str, frozenset[str]]
    limits: BodyLimits
    now: datetime | None

    def covers(
        self,
        body: Body,
        *,
        issuer: str,
        owners: Mapping[str, str] | None,
        levels: Mapping[str, frozenset[str]],
        limits: BodyLimits,
        now: datetime | None,
    ) -> bool:
        """Whether ``validate_body(body, …)`` with these arguments is known to return ``body``."""
        # identity, not equality, for the body: an equal body may differ in what the rules
        # read (a timestamp's offset), and only this very object was checked
        return (
            body is self.body
            and issuer == self.issuer
            and owners == self.owners
            and levels == self.levels
            and limits == self.limits
            and now == self.now
        )


def validate_body_checked(
    body: Body,
    *,
    issuer: str,
    owners: Mapping[str, str] | None,
    levels: Mapping[str, frozenset[str]] = DEFAULT_PROGRAMME_LEVELS,
    limits: BodyLimits = DEFAULT_LIMITS,
    now: datetime | None = None,
) -> tuple[Body, BodyCheck | None]:
    """:func:`validate_body`, and the :class:`BodyCheck` that says so when nothing was normalised."""
    valid = validate_body(body, issuer=issuer, owners=owners, levels=levels, limits=limits, now=now)
    if valid is not body:
        return valid, None
    return valid, BodyCheck(body, issuer, owners, levels, limits, now)


def validate_party(
    party: Party, *, field: str, limits: BodyLimits = DEFAULT_LIMITS, require_id: bool = True
) -> Party:
    """Check a party at path ``field`` and return it with identifiers and contacts normalised.

    With ``require_id`` (designations) the party needs an identifier; without it (a flag's
    subject) an identifier **or** an address country beside the legal name: many
    e-commerce sellers are known only by name, address and contacts, and screening
    matches them by name (issue #13).
    """
    _text(party.legal_name, f"{field}.legal_name", max_length=limits.max_name_length, required=True)
    country = party.address.country if party.address is not None else ""
    if not party.ids and (require_id or not country):
        # A designation must prove identity (only an identifier can earn EXPEDITE); a flag
        # on a name alone needs its country, or it would resemble every namesake worldwide.
        _checked_party(party, field=field, limits=limits)  # a malformed part is named first
        need = (
            "at least one identifier (scheme and value, e.g. ABN 51824753556) is required"
            if require_id
            else "at least one identifier (e.g. ABN 51824753556), or an address country beside the "
            "legal name, is required"
        )
        raise InvalidArgument(need, field=f"{field}.ids")
    return _checked_party(party, field=field, limits=limits)


def validate_manifest_party(party: Party, *, field: str, limits: BodyLimits = DEFAULT_LIMITS) -> Party:
    """A manifest's party (``Screen``): the forms of a statement's party, nothing required.

    A manifest carries what it carries (a name, an e-mail, an id …); what it carries must
    still be well formed, and comes back normalised so that it matches what was signed.
    """
    return _checked_party(party, field=field, limits=limits)


def _checked_party(party: Party, *, field: str, limits: BodyLimits) -> Party:
    _text(party.legal_name, f"{field}.legal_name", max_length=limits.max_name_length)
    _count(party.trading_names, f"{field}.trading_names", limits.max_trading_names)
    for i, name in enumerate(party.trading_names):
        _text(name, f"{field}.trading_names[{i}]", max_length=limits.max_name_length, required=True)
    if party.address is not None:
        _address(party.address, f"{field}.address", limits)
    country = party.address.country if party.address is not None else ""
    _count(party.ids, f"{field}.ids", limits.max_ids)
    normalised: list[PartyId] = []
    first_at: dict[PartyId, int] = {}
    for i, party_id in enumerate(party.ids):
        normal = normalise_party_id(party_id.scheme, party_id.value, field=f"{field}.ids[{i}]")
        if normal in first_at:
            # One identifier twice (perhaps spelt two ways) would count twice when matching.
            raise InvalidArgument(
                f"the same identifier as {field}.ids[{first_at[normal]}] once normalised",
                field=f"{field}.ids[{i}]",
            )
        first_at[normal] = i
        normalised.append(normal)
    _count(party.emails, f"{field}.emails", limits.max_contacts)
    _count(party.phones, f"{field}.phones", limits.max_contacts)
    emails = tuple(
        dict.fromkeys(normalise_email(e, field=f"{field}.emails[{i}]") for i, e in enumerate(party.emails))
    )
    phones = tuple(
        dict.fromkeys(
            normalise_phone(p, field=f"{field}.phones[{i}]", country=country)
            for i, p in enumerate(party.phones)
        )
    )
    return _with(party, ids=tuple(normalised), emails=emails, phones=phones)


def check_status_transition(
    previous: DesignationStatus, new: DesignationStatus, *, field: str = "status"
) -> None:
    """Refuse a status move that DESIGN §4 does not allow: CERTIFIED ⇄ SUSPENDED → REVOKED (final).

    The same status again is allowed (a renewal, or a re-statement with a corrected reason);
    CERTIFIED may be revoked without a suspension first.
    """
    if new not in _ALLOWED_MOVES[previous]:
        # Stops a revoked trader being quietly restored by a superseding designation.
        raise InvalidArgument(
            f"a {previous} designation cannot become {new}: REVOKED is final "
            "(allowed moves: CERTIFIED ⇄ SUSPENDED → REVOKED)",
            field=field,
        )


# ---------------------------------------------------------------- bodies


def _designation(
    body: Designation,
    *,
    issuer: str,
    owners: Mapping[str, str] | None,
    levels: Mapping[str, frozenset[str]],
    limits: BodyLimits,
) -> Designation:
    party = validate_party(body.party, field="party", limits=limits)

    programme = body.programme
    _text(programme, "programme", max_length=limits.max_short_text_length)
    if not programme:
        raise InvalidArgument(f"required: one of {_listing(owners or levels)}", field="programme")
    if owners is None:
        if not PROGRAMME_PATTERN.fullmatch(programme):
            raise InvalidArgument(
                f"{_quote(programme)} is not a programme name like AU_ATT", field="programme"
            )
        return _designation_rest(
            body, party, issuer=issuer, programme=programme, levels=levels, limits=limits
        )
    owner = owners.get(programme)
    if owner is None:
        raise InvalidArgument(
            f"unknown programme {_quote(programme)}; known programmes: {_listing(owners)}", field="programme"
        )
    if owner != issuer:
        # Stops one agency vouching for traders in a programme it does not run.
        raise InvalidArgument(f"only {owner} may designate in {programme}, not {issuer}", field="programme")

    ctpat_owner = owners.get(CTPAT_PROGRAMME)
    for i, party_id in enumerate(party.ids):
        if party_id.scheme == "CTPAT" and issuer != ctpat_owner:
            # Stops another agency asserting CTPAT membership through an account number.
            by = ctpat_owner if ctpat_owner is not None else "the owner of CTPAT (none is configured)"
            raise InvalidArgument(
                f"a CTPAT account number may only appear in designations issued by {by}, not {issuer}",
                field=f"party.ids[{i}].scheme",
            )
    return _designation_rest(body, party, issuer=issuer, programme=programme, levels=levels, limits=limits)


def _designation_rest(
    body: Designation,
    party: Party,
    *,
    issuer: str,
    programme: str,
    levels: Mapping[str, frozenset[str]],
    limits: BodyLimits,
) -> Designation:
    _text(body.member_id, "member_id", max_length=limits.max_short_text_length)

    _text(body.level, "level", max_length=limits.max_short_text_length)
    allowed_levels = levels.get(programme, frozenset({""}))
    if body.level not in allowed_levels:
        allowed = _listing(allowed_levels, empty="(none)")
        if not body.level:
            raise InvalidArgument(f"required for {programme}: one of {allowed}", field="level")
        raise InvalidArgument(
            f"{_quote(body.level)} is not a level of {programme}; allowed: {allowed}", field="level"
        )

    if body.status is None:
        raise InvalidArgument(f"required: one of {_listing(DesignationStatus)}", field="status")

    if body.valid_from is not None and body.valid_until is not None and body.valid_from > body.valid_until:
        raise InvalidArgument(
            f"{body.valid_until.isoformat()} is before valid_from {body.valid_from.isoformat()}",
            field="valid_until",
        )

    _text(body.status_reason, "status_reason", max_length=limits.max_reason_length, multiline=True)
    if body.status is not DesignationStatus.CERTIFIED and not body.status_reason.strip():
        raise InvalidArgument(f"required when status is {body.status}", field="status_reason")

    if body.supersedes is not None:
        _ref(body.supersedes, "supersedes", issuer=issuer, rule="a designation may only supersede")

    return _with(body, party=party)


def _flag(body: ViolationFlag, *, limits: BodyLimits, now: datetime | None) -> ViolationFlag:
    # Any member may flag any party: there is no issuer rule for flags.
    subject = validate_party(body.subject, field="subject", limits=limits, require_id=False)

    if body.category is None:
        raise InvalidArgument(f"required: one of {_listing(FlagCategory)}", field="category")
    if body.evidence is None:
        raise InvalidArgument(f"required: one of {_listing(Evidence)}", field="evidence")
    if body.severity is None:
        raise InvalidArgument(f"required: one of {_listing(Severity)}", field="severity")
    seen: set[str] = set()
    for i, outcome in enumerate(body.outcomes):
        if outcome in seen:
            raise InvalidArgument(f"{outcome} is listed twice", field=f"outcomes[{i}]")
        seen.add(outcome)

    if body.observed_at is None:
        # A flag without a time cannot be aged or expired by screening policy.
        raise InvalidArgument("required: when the violation was observed", field="observed_at")
    if body.expires_at is not None and body.expires_at <= body.observed_at:
        raise InvalidArgument(
            f"{body.expires_at.isoformat()} is not after observed_at {body.observed_at.isoformat()}",
            field="expires_at",
        )
    if now is not None and body.observed_at > now + limits.max_clock_skew:
        raise InvalidArgument(
            f"{body.observed_at.isoformat()} is in the future (now {now.isoformat()})", field="observed_at"
        )

    _text(body.summary, "summary", max_length=limits.max_summary_length, multiline=True)
    _count(body.shipments, "shipments", limits.max_shipments)
    for i, shipment in enumerate(body.shipments):
        _shipment(shipment, f"shipments[{i}]", limits)

    return _with(body, subject=subject)


def _withdrawal(body: Withdrawal, *, issuer: str, limits: BodyLimits) -> Withdrawal:
    if body.target is None:
        raise InvalidArgument("required: the issuer and seq of the statement withdrawn", field="target")
    _ref(body.target, "target", issuer=issuer, rule="a withdrawal may only target")
    if body.reason is None:
        raise InvalidArgument(f"required: one of {_listing(WithdrawalReason)}", field="reason")
    _text(body.note, "note", max_length=limits.max_reason_length, multiline=True)
    return body


# ---------------------------------------------------------------- parts


def _address(address: Address, field: str, limits: BodyLimits) -> None:
    _count(address.lines, f"{field}.lines", limits.max_address_lines)
    for i, line in enumerate(address.lines):
        _text(line, f"{field}.lines[{i}]", max_length=limits.max_address_line_length)
    for name in ("city", "region", "postal_code"):
        _text(getattr(address, name), f"{field}.{name}", max_length=limits.max_short_text_length)
    if address.country:
        _country(address.country, f"{field}.country")


def _shipment(shipment: ShipmentRef, field: str, limits: BodyLimits) -> None:
    for name in ("air_waybill", "house_bill", "tracking_number"):
        _text(getattr(shipment, name), f"{field}.{name}", max_length=limits.max_short_text_length)
    _count(shipment.hs_codes, f"{field}.hs_codes", limits.max_hs_codes)
    for i, code in enumerate(shipment.hs_codes):
        if not _HS_CODE.fullmatch(code):
            raise InvalidArgument(
                f"{_quote(code)} is not an HS code: 6 to 10 digits, without dots or spaces",
                field=f"{field}.hs_codes[{i}]",
            )
    if shipment.declared_value is not None:
        money = shipment.declared_value
        if not _CURRENCY.fullmatch(money.currency):
            raise InvalidArgument(
                f"{_quote(money.currency)} is not an ISO 4217 code (three upper-case letters, e.g. USD)",
                field=f"{field}.declared_value.currency",
            )
        if money.minor_units < 0:
            raise InvalidArgument(
                f"{money.minor_units} is negative; a declared value is zero or more",
                field=f"{field}.declared_value.minor_units",
            )
        if money.minor_units > _INT64_MAX:
            raise InvalidArgument(
                f"{money.minor_units} does not fit in a signed 64-bit integer",
                field=f"{field}.declared_value.minor_units",
            )
    if shipment.origin_country:
        _country(shipment.origin_country, f"{field}.origin_country")


def _ref(ref: StatementRef, field: str, *, issuer: str, rule: str) -> None:
    if not ref.issuer:
        raise InvalidArgument(f"required: {rule} {issuer}'s own statements", field=f"{field}.issuer")
    if ref.issuer != issuer:
        # Stops one agency withdrawing or replacing what another agency said.
        raise InvalidArgument(
            f"{rule} {issuer}'s own statements, not {_quote(ref.issuer, plain=True)}'s",
            field=f"{field}.issuer",
        )
    if not 1 <= ref.seq <= _UINT64_MAX:
        raise InvalidArgument(f"must be a seq from 1 to 2^64-1, got {ref.seq}", field=f"{field}.seq")
    if len(ref.header_digest) not in (0, _DIGEST_SIZE):
        raise InvalidArgument(
            f"must be empty or a {_DIGEST_SIZE}-byte SHA-256 digest, got {len(ref.header_digest)} bytes",
            field=f"{field}.header_digest",
        )


def _country(code: str, field: str) -> None:
    if not _COUNTRY.fullmatch(code):
        raise InvalidArgument(
            f"{_quote(code)} is not an ISO 3166-1 alpha-2 code (two upper-case letters, e.g. AU)", field=field
        )


def _text(
    value: str, field: str, *, max_length: int, required: bool = False, multiline: bool = False
) -> None:
    # Length first: bounds the work done on huge input.
    if len(value) > max_length:
        raise InvalidArgument(f"is {len(value)} characters; at most {max_length} are accepted", field=field)
    if required and not value.strip():
        raise InvalidArgument("required: must not be empty or blank", field=field)
    # Stops log injection (newlines, escape sequences) and text that displays other than it reads.
    if (_CONTROL_MULTI if multiline else _CONTROL_SINGLE).search(value) or _BIDI_CONTROL.search(value):
        raise InvalidArgument("contains control or bidirectional-override characters", field=field)


#: the free-text rule, public for the other doors that take text (Screen's shipment fields)
check_text = _text


def _with(obj: _T, **changes: Any) -> _T:
    """``obj`` with ``changes``; ``obj`` itself when they change nothing.

    A body that is already in normal form (every body a receiving gateway admits) comes
    back as the same object, so admission's ``validated != body`` is an identity check
    and no copy is made per statement (``dataclasses.replace`` costs more than the rules).
    """
    for name, value in changes.items():
        if getattr(obj, name) != value:
            return replace(obj, **changes)  # type: ignore[type-var]
    return obj


def _count(items: tuple[object, ...], field: str, maximum: int) -> None:
    if len(items) > maximum:
        raise InvalidArgument(f"has {len(items)} items; at most {maximum} are accepted", field=field)


def _listing(values: Iterable[str], *, empty: str = "") -> str:
    return ", ".join(sorted((v or empty) for v in values))
