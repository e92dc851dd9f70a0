"""Sample designations and flags for the demo federation (``make demo`` publishes them).

Ten designations, two in each founding agency's programme, and eight violation flags, about
fictitious traders with identifiers that pass their schemes' checks. They make the
screening scenarios of issue #4 visible at once: a recognised and an unrecognised programme
(no US–AU arrangement), a suspended designation, a designated shipper with a confirmed
counterfeit flag from a partner, e-commerce sellers known only by platform account, a flag
whose body is withheld from agencies outside its audience. ``tests/data/csv/*.csv`` hold the
same parties (with fixed dates), and ``screening.csv`` screens shipments from them.

Dates are relative to ``now``, so the samples are current whenever the demo runs:
designations run from about a year ago to two years ahead, flags were observed weeks ago
and expire in a year. Every body passes ``rules.validate_body`` as a statement of its issuer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from borderx.statements.bodies import (
    Address,
    Body,
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
    ViolationFlag,
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One statement to publish: who issues it, the body, and its audience (empty = every member)."""

    issuer: str
    body: Designation | ViolationFlag
    audience: tuple[str, ...] = ()


def _party(name: str, country: str, *ids: tuple[str, str]) -> Party:
    return Party(legal_name=name, address=Address(country=country), ids=tuple(PartyId(s, v) for s, v in ids))


# ---------------------------------------------------------------- parties (fictitious)

GREAT_LAKES = _party(
    "Great Lakes Precision Parts Inc.", "US", ("US_IOR", "95-123456700"), ("CTPAT", "CTP-5512870")
)
SONORAN = _party(
    "Sonoran Home Goods LLC", "US", ("US_IOR", "200516-12345"), ("PLATFORM", "amazon:A1SONORAN77")
)
SOUTHERN_CROSS = _party("Southern Cross Wool Exporters Pty Ltd", "AU", ("ABN", "51824753556"))
HARBOURLINE = _party(
    "Harbourline Wines Pty Ltd", "AU", ("ABN", "18123456789"), ("PLATFORM", "ebay:harbourline-wines")
)
KOWHAI = _party("Kōwhai Dairy Exports Limited", "NZ", ("NZBN", "9429041535134"))
AOTEAROA_KIWI = _party("Aotearoa Kiwifruit Packers Limited", "NZ", ("NZBN", "9429031234566"))
MAPLE_RIDGE = _party("Maple Ridge Logistics Inc.", "CA", ("CA_BN", "123026635"))
LAURENTIAN = _party(
    "Laurentian Outdoor Apparel Ltée", "CA", ("CA_BN", "876543216"), ("CA_BN15", "876543216RM0001")
)
THAMES_VALLEY = _party("Thames Valley Instruments Ltd", "GB", ("EORI", "GB123456789000"))
PENNINE = _party("Pennine Textiles plc", "GB", ("EORI", "GB987654321000"), ("EORI", "XI987654321000"))

BRIGHTSTAR = _party(
    "Shenzhen Brightstar Trading Co., Ltd.", "CN", ("PLATFORM", "amazon:A2X9K"), ("MID", "CNSHEBRI1288SHE")
)
GOLDEN_HARBOUR = _party("Golden Harbour E-Commerce Ltd", "HK", ("PLATFORM", "aliexpress:GH-55128"))
QUICKSHIP = _party(
    "QuickShip Fulfilment Ltd", "GB", ("PLATFORM", "shopee:qs-fulfil-88"), ("EORI", "GB999999999001")
)
MEKONG_STEEL = _party("Mekong Steel Fabrication JSC", "VN", ("MID", "VNMEKSTE45HAN"))
NORTHWEST_COTTON = _party("Northwest Cotton Textile Co.", "CN", ("MID", "CNNORCOT88URU"))
PACIFIC_RIM = _party("Pacific Rim Novelty Imports", "NZ", ("PLATFORM", "etsy:pacificrimnovelty"))


def _midnight(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def sample_statements(now: datetime | None = None) -> list[Sample]:
    """The demo's statements, designations first, in the order they are best published."""
    today = _midnight(now or datetime.now(UTC))
    since, until = today - timedelta(days=400), today + timedelta(days=730)

    def designation(
        party: Party,
        programme: str,
        member_id: str,
        level: str = "",
        *,
        status: str = "CERTIFIED",
        reason: str = "",
    ) -> Designation:
        return Designation(
            party=party,
            programme=programme,
            member_id=member_id,
            level=level,
            status=DesignationStatus(status),
            valid_from=since,
            valid_until=until,
            status_reason=reason,
            consent_to_share=True,
        )

    def flag(
        party: Party,
        category: FlagCategory,
        evidence: Evidence,
        severity: Severity,
        *,
        outcomes: tuple[Outcome, ...],
        summary: str,
        days_ago: int,
        shipments: tuple[ShipmentRef, ...] = (),
    ) -> ViolationFlag:
        observed = today - timedelta(days=days_ago) + timedelta(hours=9, minutes=30)
        return ViolationFlag(
            subject=party,
            category=category,
            evidence=evidence,
            outcomes=outcomes,
            severity=severity,
            observed_at=observed,
            expires_at=observed + timedelta(days=365),
            shipments=shipments,
            summary=summary,
        )

    return [
        # ------------------------------------------------------------ designations
        Sample("US-CBP", designation(GREAT_LAKES, "CTPAT", "CTPAT-5512870", "CTPAT_TIER_3")),
        Sample(
            "US-CBP",
            designation(
                SONORAN,
                "CTPAT",
                "CTPAT-6620114",
                "CTPAT_TIER_2",
                status="SUSPENDED",
                reason="Annual validation overdue; security profile not updated since the last review",
            ),
        ),
        Sample("AU-ABF", designation(SOUTHERN_CROSS, "AU_ATT", "ATT-000412")),
        Sample("AU-ABF", designation(HARBOURLINE, "AU_ATT", "ATT-000977")),
        Sample("NZ-CS", designation(KOWHAI, "NZ_SES", "SES-20417")),
        Sample("NZ-CS", designation(AOTEAROA_KIWI, "NZ_SES", "SES-18832")),
        Sample("CA-CBSA", designation(MAPLE_RIDGE, "CA_PIP", "PIP-7781")),
        Sample("CA-CBSA", designation(LAURENTIAN, "CA_PIP", "PIP-9154")),
        Sample("GB-HMRC", designation(THAMES_VALLEY, "UK_AEO", "GBAEOF00123456", "AEO_F")),
        Sample("GB-HMRC", designation(PENNINE, "UK_AEO", "GBAEOS00654321", "AEO_S")),
        # ------------------------------------------------------------ flags
        Sample(
            "US-CBP",
            flag(
                BRIGHTSTAR,
                FlagCategory.IPR_COUNTERFEIT,
                Evidence.CONFIRMED,
                Severity.HIGH,
                outcomes=(Outcome.SEIZURE, Outcome.DESTRUCTION),
                summary="Counterfeit branded handbags in low-value parcels; rights holder confirmed",
                days_ago=21,
                shipments=(
                    ShipmentRef(
                        air_waybill="176-12345675",
                        hs_codes=("420221",),
                        declared_value=Money("USD", 1899),
                        origin_country="CN",
                    ),
                ),
            ),
        ),
        Sample(
            "AU-ABF",
            flag(
                GOLDEN_HARBOUR,
                FlagCategory.UNDERVALUATION,
                Evidence.SUSPECTED,
                Severity.MEDIUM,
                outcomes=(Outcome.REFERRAL,),
                summary="Declared values of consumer electronics far below marketplace prices",
                days_ago=35,
            ),
        ),
        Sample(
            "GB-HMRC",
            flag(
                QUICKSHIP,
                FlagCategory.DE_MINIMIS_SPLITTING,
                Evidence.CONFIRMED,
                Severity.MEDIUM,
                outcomes=(Outcome.PENALTY,),
                summary="Single orders split across several parcels to stay under the low-value threshold",
                days_ago=14,
            ),
        ),
        Sample(
            "US-CBP",
            flag(
                MEKONG_STEEL,
                FlagCategory.ORIGIN_FRAUD,
                Evidence.ADJUDICATED,
                Severity.HIGH,
                outcomes=(Outcome.PENALTY, Outcome.FORFEITURE),
                summary="Steel products of another origin transshipped and declared as Vietnamese",
                days_ago=60,
            ),
        ),
        Sample(
            "CA-CBSA",
            flag(
                NORTHWEST_COTTON,
                FlagCategory.FORCED_LABOUR,
                Evidence.CONFIRMED,
                Severity.CRITICAL,
                outcomes=(Outcome.DETENTION, Outcome.RE_EXPORT),
                summary="Cotton garments from a supplier subject to a forced-labour finding",
                days_ago=30,
            ),
            audience=("US-CBP", "GB-HMRC"),
        ),
        Sample(
            "US-CBP",
            flag(
                SONORAN,
                FlagCategory.MISCLASSIFICATION,
                Evidence.SUSPECTED,
                Severity.LOW,
                outcomes=(Outcome.WARNING,),
                summary="Furniture parts declared under a lower-duty heading",
                days_ago=45,
            ),
        ),
        Sample(
            "NZ-CS",
            flag(
                PACIFIC_RIM,
                FlagCategory.NARCOTICS,
                Evidence.ADJUDICATED,
                Severity.CRITICAL,
                outcomes=(Outcome.SEIZURE, Outcome.PROSECUTION),
                summary="Controlled substances concealed in novelty goods",
                days_ago=90,
            ),
        ),
        Sample(
            "NZ-CS",
            flag(
                HARBOURLINE,
                FlagCategory.IPR_COUNTERFEIT,
                Evidence.CONFIRMED,
                Severity.HIGH,
                outcomes=(Outcome.SEIZURE,),
                summary="Wine shipped under counterfeit labels of a protected estate",
                days_ago=10,
            ),
        ),
    ]


def sample_bodies(issuer: str, now: datetime | None = None) -> list[Body]:
    """The bodies that ``issuer`` publishes in the demo, in order."""
    return [s.body for s in sample_statements(now) if s.issuer == issuer]
