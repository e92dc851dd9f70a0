"""Business rules: every refusal names its field and its rule; valid bodies come back normalised."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import pytest

from borderx.errors import InvalidArgument
from borderx.identity.devpki import DEV_PROGRAMMES
from borderx.statements import rules
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
    ShipmentRef,
    StatementRef,
    ViolationFlag,
    Withdrawal,
    WithdrawalReason,
)
from borderx.statements.rules import (
    DEFAULT_PROGRAMME_LEVELS,
    BodyLimits,
    check_status_transition,
    validate_party,
)

#: programme → owner as the dev directory lists them (ownership lives in the directory)
DEFAULT_PROGRAMME_OWNERS = MappingProxyType({p: a for a, ps in DEV_PROGRAMMES.items() for p in ps})


def validate_body(body: Any, **kwargs: Any) -> Any:
    """rules.validate_body with the dev directory's owners unless a test gives its own."""
    kwargs.setdefault("owners", DEFAULT_PROGRAMME_OWNERS)
    return rules.validate_body(body, **kwargs)


T0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CERTIFIED, SUSPENDED, REVOKED = (
    DesignationStatus.CERTIFIED,
    DesignationStatus.SUSPENDED,
    DesignationStatus.REVOKED,
)

PARTY = Party(
    legal_name="Southern Cross Trading Pty Ltd",
    trading_names=("SX Trading",),
    address=Address(lines=("1 George St",), city="Sydney", region="NSW", postal_code="2000", country="AU"),
    ids=(PartyId("ABN", "51 824 753 556"), PartyId("eori", "gb123456789000")),
)
NORMAL_IDS = (PartyId("ABN", "51824753556"), PartyId("EORI", "GB123456789000"))

DESIGNATION = Designation(
    party=PARTY,
    programme="AU_ATT",
    member_id="ATT-1001",
    status=CERTIFIED,
    valid_from=T0,
    valid_until=T0 + timedelta(days=3 * 365),
    consent_to_share=True,
)

FLAG = ViolationFlag(
    subject=PARTY,
    category=FlagCategory.UNDERVALUATION,
    evidence=Evidence.CONFIRMED,
    outcomes=(Outcome.PENALTY, Outcome.WARNING),
    severity=Severity.MEDIUM,
    observed_at=T0,
    expires_at=T0 + timedelta(days=365),
    shipments=(
        ShipmentRef(
            air_waybill="176-12345675",
            hs_codes=("610910", "6109100010"),
            declared_value=Money("AUD", 0),
            origin_country="CN",
        ),
    ),
    summary="declared at 10% of the invoice found in the parcel\nsecond line",
)

WITHDRAWAL = Withdrawal(target=StatementRef("AU-ABF", 3), reason=WithdrawalReason.ISSUED_IN_ERROR)


def refused(field: str, rule: str) -> Any:
    """pytest.raises for InvalidArgument at exactly ``field`` with ``rule`` in the message."""
    return pytest.raises(InvalidArgument, match=rf"^{re.escape(field)}: .*{rule}")


def designation(**changes: Any) -> Designation:
    return dataclasses.replace(DESIGNATION, **changes)


def flag(**changes: Any) -> ViolationFlag:
    return dataclasses.replace(FLAG, **changes)


def party(**changes: Any) -> Party:
    return dataclasses.replace(PARTY, **changes)


# ---------------------------------------------------------------- valid bodies


def test_valid_designation_comes_back_with_identifiers_normalised() -> None:
    result = validate_body(DESIGNATION, issuer="AU-ABF")
    assert isinstance(result, Designation)
    assert result.party.ids == NORMAL_IDS
    assert result == designation(party=party(ids=NORMAL_IDS))


def test_valid_flag_comes_back_with_identifiers_normalised() -> None:
    result = validate_body(FLAG, issuer="NZ-CS", now=T0)
    assert isinstance(result, ViolationFlag)
    assert result.subject.ids == NORMAL_IDS


def test_valid_withdrawal_is_returned_unchanged() -> None:
    assert validate_body(WITHDRAWAL, issuer="AU-ABF") == WITHDRAWAL


@pytest.mark.parametrize(
    ("programme", "owner", "level"),
    [
        ("CTPAT", "US-CBP", "CTPAT_TIER_3"),
        ("CTPAT", "US-CBP", ""),
        ("AU_ATT", "AU-ABF", ""),
        ("NZ_SES", "NZ-CS", ""),
        ("CA_PIP", "CA-CBSA", ""),
        ("UK_AEO", "GB-HMRC", "AEO_F"),
    ],
)
def test_each_programme_owner_designates_in_it(programme: str, owner: str, level: str) -> None:
    validate_body(designation(programme=programme, level=level), issuer=owner)


def test_ctpat_designation_by_cbp_may_carry_a_ctpat_account_number() -> None:
    body = designation(
        programme="CTPAT",
        level="CTPAT_TIER_2",
        party=party(ids=(PartyId("CTPAT", " CTP123 "), PartyId("US_IOR", "12-345678900"))),
    )
    result = validate_body(body, issuer="US-CBP")
    assert isinstance(result, Designation)
    assert result.party.ids == (PartyId("CTPAT", "CTP123"), PartyId("US_IOR", "12-345678900"))


def test_status_reason_is_optional_when_certified() -> None:
    validate_body(designation(status_reason=""), issuer="AU-ABF")


def test_valid_from_equal_to_valid_until_is_allowed() -> None:
    validate_body(designation(valid_until=T0), issuer="AU-ABF")


def test_owners_and_levels_are_parameters() -> None:
    owners = MappingProxyType({**DEFAULT_PROGRAMME_OWNERS, "JP_AEO": "JP-CUSTOMS"})
    levels = MappingProxyType({**DEFAULT_PROGRAMME_LEVELS, "JP_AEO": frozenset({"AEO_I", "AEO_E"})})
    body = designation(programme="JP_AEO", level="AEO_I")
    validate_body(body, issuer="JP-CUSTOMS", owners=owners, levels=levels)
    with refused("programme", "unknown programme 'JP_AEO'"):
        validate_body(body, issuer="JP-CUSTOMS")
    with refused("programme", "only AU-ABF may designate in CTPAT, not US-CBP"):
        validate_body(
            designation(programme="CTPAT"),
            issuer="US-CBP",
            owners={**DEFAULT_PROGRAMME_OWNERS, "CTPAT": "AU-ABF"},
        )


# ---------------------------------------------------------------- designation refusals


def test_only_the_owner_designates_in_a_programme() -> None:
    with refused("programme", "only US-CBP may designate in CTPAT, not AU-ABF"):
        validate_body(designation(programme="CTPAT", level="CTPAT_TIER_1"), issuer="AU-ABF")
    with refused("programme", "only AU-ABF may designate in AU_ATT, not NZ-CS"):
        validate_body(DESIGNATION, issuer="NZ-CS")


def test_unknown_and_missing_programme() -> None:
    with refused("programme", r"unknown programme 'XX_TT'; known programmes: AU_ATT, CA_PIP, CTPAT"):
        validate_body(designation(programme="XX_TT"), issuer="AU-ABF")
    with refused("programme", "required: one of AU_ATT, CA_PIP, CTPAT, NZ_SES, UK_AEO"):
        validate_body(designation(programme=""), issuer="AU-ABF")
    with refused("programme", "at most 128"):
        validate_body(designation(programme="P" * 129), issuer="AU-ABF")


def test_ctpat_account_number_only_in_cbp_designations() -> None:
    body = designation(party=party(ids=(PartyId("ABN", "51824753556"), PartyId("CTPAT", "CTP123"))))
    with refused(
        "party.ids[1].scheme",
        "a CTPAT account number may only appear in designations issued by US-CBP, not AU-ABF",
    ):
        validate_body(body, issuer="AU-ABF")
    owners = {k: v for k, v in DEFAULT_PROGRAMME_OWNERS.items() if k != "CTPAT"}
    with refused("party.ids[1].scheme", "none is configured"):
        validate_body(body, issuer="AU-ABF", owners=owners)


def test_ctpat_account_number_may_appear_in_flags() -> None:
    body = flag(subject=party(ids=(PartyId("CTPAT", "CTP123"),)))
    validate_body(body, issuer="AU-ABF")


@pytest.mark.parametrize(
    ("programme", "owner", "level", "rule"),
    [
        (
            "CTPAT",
            "US-CBP",
            "CTPAT_TIER_4",
            r"'CTPAT_TIER_4' is not a level of CTPAT; allowed: \(none\), CTPAT_TIER_1",
        ),
        ("CTPAT", "US-CBP", "AEO_F", "is not a level of CTPAT"),
        ("UK_AEO", "GB-HMRC", "", "required for UK_AEO: one of AEO_C, AEO_F, AEO_S"),
        ("UK_AEO", "GB-HMRC", "aeo_f", "'aeo_f' is not a level of UK_AEO"),
        ("AU_ATT", "AU-ABF", "TIER_1", r"'TIER_1' is not a level of AU_ATT; allowed: \(none\)"),
        ("NZ_SES", "NZ-CS", "GOLD", "is not a level of NZ_SES"),
        ("CA_PIP", "CA-CBSA", "X", "is not a level of CA_PIP"),
    ],
)
def test_level_must_be_in_the_programme_table(programme: str, owner: str, level: str, rule: str) -> None:
    with refused("level", rule):
        validate_body(designation(programme=programme, level=level), issuer=owner)


def test_status_is_required() -> None:
    with refused("status", "required: one of CERTIFIED, REVOKED, SUSPENDED"):
        validate_body(designation(status=None), issuer="AU-ABF")


def test_valid_until_must_not_precede_valid_from() -> None:
    with refused(
        "valid_until", "2026-02-28T09:30:00\\+00:00 is before valid_from 2026-03-01T09:30:00\\+00:00"
    ):
        validate_body(designation(valid_until=T0 - timedelta(days=1)), issuer="AU-ABF")


@pytest.mark.parametrize("status", [SUSPENDED, REVOKED])
def test_status_reason_required_unless_certified(status: DesignationStatus) -> None:
    with refused("status_reason", f"required when status is {status}"):
        validate_body(designation(status=status, status_reason="  "), issuer="AU-ABF")
    validate_body(designation(status=status, status_reason="audit failed"), issuer="AU-ABF")


def test_status_reason_and_member_id_are_bounded() -> None:
    with refused("status_reason", "is 2001 characters; at most 2000"):
        validate_body(designation(status=SUSPENDED, status_reason="r" * 2001), issuer="AU-ABF")
    with refused("member_id", "at most 128"):
        validate_body(designation(member_id="m" * 129), issuer="AU-ABF")


def test_supersedes_must_be_the_issuers_own_statement() -> None:
    with refused(
        "supersedes.issuer", "a designation may only supersede AU-ABF's own statements, not NZ-CS's"
    ):
        validate_body(designation(supersedes=StatementRef("NZ-CS", 4)), issuer="AU-ABF")
    with refused("supersedes.seq", "must be a seq from 1"):
        validate_body(designation(supersedes=StatementRef("AU-ABF", 0)), issuer="AU-ABF")
    with refused("supersedes.header_digest", "32-byte SHA-256 digest, got 31 bytes"):
        validate_body(designation(supersedes=StatementRef("AU-ABF", 4, b"\x00" * 31)), issuer="AU-ABF")
    validate_body(designation(supersedes=StatementRef("AU-ABF", 4, b"\x00" * 32)), issuer="AU-ABF")


# ---------------------------------------------------------------- party refusals (designation, flag subject)


@pytest.mark.parametrize(
    ("make", "root"), [(designation, "party"), (lambda **kw: flag(subject=kw["party"]), "subject")]
)
def test_party_refusals_name_the_path(make: Any, root: str) -> None:
    cases: list[tuple[Party, str, str]] = [
        (party(legal_name=""), f"{root}.legal_name", "required"),
        (party(legal_name="   "), f"{root}.legal_name", "must not be empty or blank"),
        (party(legal_name="N" * 513), f"{root}.legal_name", "is 513 characters; at most 512"),
        (party(legal_name="Evil\nCorp"), f"{root}.legal_name", "control"),
        (party(legal_name="Acme \u202egnp.exe"), f"{root}.legal_name", "bidirectional-override"),
        (party(trading_names=("",)), f"{root}.trading_names[0]", "required"),
        (party(trading_names=("t",) * 33), f"{root}.trading_names", "has 33 items; at most 32"),
        (party(ids=(), address=None), f"{root}.ids", "at least one identifier"),
        (party(ids=(PartyId("ABN", "51824753556"),) * 33), f"{root}.ids", "has 33 items; at most 32"),
        (
            party(ids=(PartyId("ABN", "51824753557"),)),
            f"{root}.ids[0].value",
            "ABN 51824753557 fails its mod-89 check",
        ),
        (party(ids=(PartyId("DUNS", "1"),)), f"{root}.ids[0].scheme", "unknown identifier scheme DUNS"),
        (
            party(ids=(PartyId("ABN", "51824753556"), PartyId("abn", "51 824 753 556"))),
            f"{root}.ids[1]",
            rf"the same identifier as {root}\.ids\[0\] once normalised",
        ),
        (
            party(address=Address(country="au")),
            f"{root}.address.country",
            "'au' is not an ISO 3166-1 alpha-2",
        ),
        (party(address=Address(country="AUS")), f"{root}.address.country", "not an ISO 3166-1 alpha-2"),
        (party(address=Address(lines=("l",) * 9)), f"{root}.address.lines", "has 9 items; at most 8"),
        (party(address=Address(lines=("x" * 257,))), f"{root}.address.lines[0]", "at most 256"),
        (party(address=Address(city="c" * 129)), f"{root}.address.city", "at most 128"),
        (party(address=Address(postal_code="\x00")), f"{root}.address.postal_code", "control"),
    ]
    for bad_party, field, rule in cases:
        with refused(field, rule):
            validate_body(make(party=bad_party), issuer="AU-ABF")


def test_party_messages_do_not_echo_names() -> None:
    secret = "Jane Citizen Sole Trader"
    with pytest.raises(InvalidArgument) as e:
        validate_party(party(legal_name=secret + "\x07"), field="party")
    assert secret not in str(e.value)


def test_validate_party_is_usable_alone() -> None:
    assert validate_party(PARTY, field="shipper").ids == NORMAL_IDS
    with refused("shipper.ids", "at least one identifier"):
        validate_party(party(ids=()), field="shipper")


def test_limits_are_a_parameter() -> None:
    tight = BodyLimits(max_ids=1)
    with refused("party.ids", "has 2 items; at most 1"):
        validate_body(DESIGNATION, issuer="AU-ABF", limits=tight)


# ---------------------------------------------------------------- flag refusals


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"category": None}, "category", "required: one of ADCVD_EVASION, DE_MINIMIS_SPLITTING"),
        ({"evidence": None}, "evidence", "required: one of ADJUDICATED, CONFIRMED, SUSPECTED"),
        ({"severity": None}, "severity", "required: one of CRITICAL, HIGH, LOW, MEDIUM"),
        ({"outcomes": (Outcome.SEIZURE, Outcome.SEIZURE)}, "outcomes[1]", "SEIZURE is listed twice"),
        ({"observed_at": None}, "observed_at", "required"),
        ({"expires_at": T0}, "expires_at", "is not after observed_at"),
        ({"expires_at": T0 - timedelta(seconds=1)}, "expires_at", "is not after observed_at"),
        ({"summary": "s" * 4001}, "summary", "is 4001 characters; at most 4000"),
        ({"summary": "bell\x07"}, "summary", "control"),
        ({"shipments": (ShipmentRef(),) * 101}, "shipments", "has 101 items; at most 100"),
        (
            {"shipments": (ShipmentRef(hs_codes=("61091",)),)},
            "shipments[0].hs_codes[0]",
            "'61091' is not an HS code",
        ),
        (
            {"shipments": (ShipmentRef(hs_codes=("61091000101",)),)},
            "shipments[0].hs_codes[0]",
            "6 to 10 digits",
        ),
        ({"shipments": (ShipmentRef(hs_codes=("6109.10",)),)}, "shipments[0].hs_codes[0]", "without dots"),
        ({"shipments": (ShipmentRef(hs_codes=("610910",) * 33),)}, "shipments[0].hs_codes", "at most 32"),
        (
            {"shipments": (ShipmentRef(), ShipmentRef(declared_value=Money("usd", 1)))},
            "shipments[1].declared_value.currency",
            "'usd' is not an ISO 4217 code",
        ),
        (
            {"shipments": (ShipmentRef(declared_value=Money("", 1)),)},
            "shipments[0].declared_value.currency",
            "not an ISO 4217 code",
        ),
        (
            {"shipments": (ShipmentRef(declared_value=Money("USD", -1)),)},
            "shipments[0].declared_value.minor_units",
            "-1 is negative",
        ),
        (
            {"shipments": (ShipmentRef(declared_value=Money("USD", 2**63)),)},
            "shipments[0].declared_value.minor_units",
            "does not fit in a signed 64-bit integer",
        ),
        (
            {"shipments": (ShipmentRef(origin_country="China"),)},
            "shipments[0].origin_country",
            "'China' is not an ISO",
        ),
        ({"shipments": (ShipmentRef(air_waybill="1" * 129),)}, "shipments[0].air_waybill", "at most 128"),
        ({"shipments": (ShipmentRef(tracking_number="1Z\n"),)}, "shipments[0].tracking_number", "control"),
    ],
)
def test_flag_refusals(changes: dict[str, Any], field: str, rule: str) -> None:
    with refused(field, rule):
        validate_body(flag(**changes), issuer="AU-ABF")


def test_flag_expiry_and_outcomes_are_optional() -> None:
    validate_body(flag(expires_at=None, outcomes=(), shipments=(), summary=""), issuer="AU-ABF")


def test_observation_in_the_future_is_refused_only_with_a_clock() -> None:
    body = flag(observed_at=T0 + timedelta(hours=1), expires_at=None)
    with refused(
        "observed_at", r"2026-03-01T10:30:00\+00:00 is in the future \(now 2026-03-01T09:30:00\+00:00\)"
    ):
        validate_body(body, issuer="AU-ABF", now=T0)
    validate_body(body, issuer="AU-ABF")  # a receiver re-checking without a clock
    validate_body(flag(observed_at=T0 + timedelta(minutes=4)), issuer="AU-ABF", now=T0)  # within skew


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        validate_body(FLAG, issuer="AU-ABF", now=datetime(2026, 1, 1))


# ---------------------------------------------------------------- withdrawal refusals


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (Withdrawal(target=None, reason=WithdrawalReason.ISSUED_IN_ERROR), "target", "required"),
        (
            Withdrawal(target=StatementRef("US-CBP", 3), reason=WithdrawalReason.ISSUED_IN_ERROR),
            "target.issuer",
            "a withdrawal may only target AU-ABF's own statements, not US-CBP's",
        ),
        (
            Withdrawal(target=StatementRef("", 3), reason=WithdrawalReason.ISSUED_IN_ERROR),
            "target.issuer",
            "required",
        ),
        (
            Withdrawal(target=StatementRef("AU-ABF", 0), reason=WithdrawalReason.ISSUED_IN_ERROR),
            "target.seq",
            "must be a seq from 1 to 2\\^64-1, got 0",
        ),
        (
            Withdrawal(target=StatementRef("AU-ABF", 2**64), reason=WithdrawalReason.ISSUED_IN_ERROR),
            "target.seq",
            "must be a seq from 1",
        ),
        (
            Withdrawal(target=StatementRef("AU-ABF", 1, b"x"), reason=WithdrawalReason.ISSUED_IN_ERROR),
            "target.header_digest",
            "got 1 bytes",
        ),
        (
            Withdrawal(target=StatementRef("AU-ABF", 1)),
            "reason",
            "required: one of CONSENT_WITHDRAWN, EXPIRED_EARLY",
        ),
        (
            Withdrawal(target=StatementRef("AU-ABF", 1), reason=WithdrawalReason.SUPERSEDED, note="n" * 2001),
            "note",
            "at most 2000",
        ),
    ],
)
def test_withdrawal_refusals(body: Withdrawal, field: str, rule: str) -> None:
    with refused(field, rule):
        validate_body(body, issuer="AU-ABF")


def test_foreign_issuer_in_a_message_is_cut() -> None:
    body = Withdrawal(target=StatementRef("X" * 5000, 1), reason=WithdrawalReason.SUPERSEDED)
    with pytest.raises(InvalidArgument) as e:
        validate_body(body, issuer="AU-ABF")
    assert len(str(e.value)) < 200


def test_validate_body_refuses_a_foreign_object() -> None:
    with pytest.raises(TypeError, match="not a statement body"):
        validate_body(PARTY, issuer="AU-ABF")  # type: ignore[arg-type]


# ---------------------------------------------------------------- status transitions

ALLOWED = [
    (CERTIFIED, CERTIFIED),
    (CERTIFIED, SUSPENDED),
    (CERTIFIED, REVOKED),
    (SUSPENDED, SUSPENDED),
    (SUSPENDED, CERTIFIED),
    (SUSPENDED, REVOKED),
    (REVOKED, REVOKED),
]


@pytest.mark.parametrize(("previous", "new"), ALLOWED)
def test_allowed_status_moves(previous: DesignationStatus, new: DesignationStatus) -> None:
    check_status_transition(previous, new)


@pytest.mark.parametrize("new", [CERTIFIED, SUSPENDED])
def test_revoked_is_final(new: DesignationStatus) -> None:
    with refused("status", f"a REVOKED designation cannot become {new}: REVOKED is final"):
        check_status_transition(REVOKED, new)
    with refused("items[2].status", "REVOKED is final"):
        check_status_transition(REVOKED, new, field="items[2].status")


# ---------------------------------------------------------------- names and contacts (issue #13)


def test_a_flag_on_a_seller_known_only_by_name_and_country_is_valid() -> None:
    subject = Party(
        legal_name="SHENZHEN HONGDA TRADING CO LTD",
        address=Address(city="Shenzhen", country="CN"),
        emails=(" Sales@HongDa.cn ",),
        phones=("0755 1234 5678", "+86 755 1234 5678"),
    )
    result = validate_body(dataclasses.replace(FLAG, subject=subject), issuer="AU-ABF")
    assert isinstance(result, ViolationFlag)
    assert result.subject.ids == ()
    assert result.subject.emails == ("sales@hongda.cn",)
    # read in the address country, and the same number twice is kept once
    assert result.subject.phones == ("+8675512345678",)


def test_a_flag_without_identifier_needs_the_country() -> None:
    subject = Party(legal_name="Hongda Trading", address=Address(city="Shenzhen"))
    with refused("subject.ids", "or an address country beside the legal name"):
        validate_body(dataclasses.replace(FLAG, subject=subject), issuer="AU-ABF")


def test_a_designation_still_needs_an_identifier() -> None:
    with refused("party.ids", "at least one identifier"):
        validate_body(dataclasses.replace(DESIGNATION, party=party(ids=())), issuer="AU-ABF")


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"emails": ("not-an-email",)}, "party.emails[0]", "not an e-mail address"),
        ({"emails": ("a@b",)}, "party.emails[0]", "not an e-mail address"),
        ({"emails": ("x" * 300 + "@a.com",)}, "party.emails[0]", "at most 254"),
        ({"emails": ("a@b.cn",) * 17}, "party.emails", "has 17 items; at most 16"),
        ({"phones": ("12",)}, "party.phones[0]", "not a valid phone number"),
        ({"phones": ("call me",)}, "party.phones[0]", "not a phone number"),
        ({"phones": ("+61 2 9999 99999999",)}, "party.phones[0]", "not a"),
    ],
)
def test_contact_refusals_name_the_field(changes: dict[str, Any], field: str, rule: str) -> None:
    with refused(field, rule):
        validate_body(dataclasses.replace(DESIGNATION, party=party(**changes)), issuer="AU-ABF")
