"""Screening at AU-ABF over real mTLS: a table of scenarios, each on its own shipper.

AU-ABF recognises its own AU_ATT and, under the MRAs, NZ_SES (AU–NZ 2016) and CA_PIP
(CA–AU 2017); there is no US–AU or UK–AU arrangement, so CTPAT and UK_AEO designations
are shown but not recognised. Partner statements are signed with the partners' real keys
and stored as replication would store them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc, statement_pb2
from borderx.statements.bodies import DesignationStatus, Evidence, FlagCategory, PartyId, StatementRef
from tests.conftest import channel, creds_for
from tests.integration.helpers import NOW, Issuers, designation, flag, platform, withdrawal

E, S, X, H = "EXPEDITE", "STANDARD", "EXAMINE", "HOLD"
IPR, UNDER, ORIGIN = FlagCategory.IPR_COUNTERFEIT, FlagCategory.UNDERVALUATION, FlagCategory.ORIGIN_FRAUD
SUS, CONF, ADJ = Evidence.SUSPECTED, Evidence.CONFIRMED, Evidence.ADJUDICATED


def setup_world(w: Issuers) -> dict[str, dict[str, object]]:
    """Publish each scenario's statements; return reference → (shipper ids, consignee ids, expected, reason fragment)."""
    p = platform
    cases: dict[str, dict[str, object]] = {}

    def case(
        ref: str,
        expected: str,
        reason: str,
        *,
        shipper: tuple[PartyId, ...] | None = None,
        consignee: tuple[PartyId, ...] = (),
    ) -> tuple[PartyId, ...]:
        ids = shipper or (p(ref),)
        cases[ref] = {"shipper": ids, "consignee": consignee, "expected": expected, "reason": reason}
        return ids

    case("unknown", S, "no current designation or flag")
    w.put("AU-ABF", designation("AU-ABF", case("own-att", E, "recognised AU_ATT")))
    w.put("NZ-CS", designation("NZ-CS", case("nz-ses", E, "recognised NZ_SES")))
    w.put("CA-CBSA", designation("CA-CBSA", case("ca-pip", E, "recognised CA_PIP")))
    w.put(
        "US-CBP",
        designation("US-CBP", case("us-ctpat", S, "CTPAT designation by US-CBP#1 is not recognised")),
    )
    w.put(
        "GB-HMRC",
        designation("GB-HMRC", case("uk-aeo", S, "UK_AEO designation by GB-HMRC#1 is not recognised")),
    )
    w.put(
        "NZ-CS",
        designation(
            "NZ-CS", case("nz-suspended", S, "is SUSPENDED: not counted"), status=DesignationStatus.SUSPENDED
        ),
    )
    w.put(
        "NZ-CS",
        designation(
            "NZ-CS", case("nz-revoked", S, "is REVOKED: not counted"), status=DesignationStatus.REVOKED
        ),
    )
    w.put(
        "AU-ABF",
        designation(
            "AU-ABF",
            case("att-expired", S, "expired"),
            valid_from=NOW - timedelta(days=400),
            valid_until=NOW - timedelta(days=1),
        ),
    )
    w.put(
        "AU-ABF",
        designation(
            "AU-ABF", case("att-future", S, "is not valid until"), valid_from=NOW + timedelta(days=10)
        ),
    )
    env = w.put("AU-ABF", designation("AU-ABF", case("att-withdrawn", S, "no current designation")))
    w.put("AU-ABF", withdrawal("AU-ABF", env.seq))
    ids = case("att-superseded", S, "is SUSPENDED: not counted")
    env = w.put("AU-ABF", designation("AU-ABF", ids))
    w.put(
        "AU-ABF",
        designation(
            "AU-ABF", ids, status=DesignationStatus.SUSPENDED, supersedes=StatementRef("AU-ABF", env.seq)
        ),
    )
    ids = case("att-and-counterfeit", H, "a recognised designation does not outweigh an active flag")
    w.put("AU-ABF", designation("AU-ABF", ids))
    w.put("US-CBP", flag(ids, IPR, CONF))
    w.put("US-CBP", flag(case("ipr-suspected", X, "SUSPECTED IPR_COUNTERFEIT"), IPR, SUS))
    ids = case("att-and-undervaluation-suspected", S, "SUSPECTED UNDERVALUATION")
    w.put("AU-ABF", designation("AU-ABF", ids))
    w.put("GB-HMRC", flag(ids, UNDER, SUS))
    w.put("GB-HMRC", flag(case("undervaluation-confirmed", X, "CONFIRMED UNDERVALUATION"), UNDER, CONF))
    w.put("CA-CBSA", flag(case("origin-adjudicated", H, "ADJUDICATED ORIGIN_FRAUD"), ORIGIN, ADJ))
    w.put("CA-CBSA", flag(case("origin-confirmed", X, "CONFIRMED ORIGIN_FRAUD"), ORIGIN, CONF))
    ids = case("flag-expired", E, "recognised AU_ATT")
    w.put("AU-ABF", designation("AU-ABF", ids))
    w.put(
        "US-CBP",
        flag(ids, IPR, CONF, observed_at=NOW - timedelta(days=300), expires_at=NOW - timedelta(days=1)),
    )
    ids = case("flag-withdrawn", E, "recognised NZ_SES")
    w.put("NZ-CS", designation("NZ-CS", ids))
    env = w.put("NZ-CS", flag(ids, IPR, CONF))
    w.put("NZ-CS", withdrawal("NZ-CS", env.seq))
    abn = PartyId("ABN", "51824753556")
    several = (abn, p("several-ids"))
    w.put("AU-ABF", designation("AU-ABF", (abn,)))
    w.put("US-CBP", flag((p("several-ids"),), IPR, ADJ))
    case("several-ids", H, "ADJUDICATED IPR_COUNTERFEIT", shipper=several)
    case("abn-only", E, "recognised AU_ATT", shipper=(abn,))
    w.put("NZ-CS", flag((p("bad-consignee"),), FlagCategory.NARCOTICS, SUS))
    case(
        "consignee-flagged",
        X,
        "flag on the consignee",
        shipper=(p("clean-shipper"),),
        consignee=(p("bad-consignee"),),
    )
    ids = case("not-in-audience", S, "no current designation or flag")
    w.put("US-CBP", flag(ids, IPR, ADJ), audience=("CA-CBSA",))
    w.put(
        "GB-HMRC",
        flag(case("splitting-suspected", X, "DE_MINIMIS_SPLITTING"), FlagCategory.DE_MINIMIS_SPLITTING, SUS),
    )
    w.put("US-CBP", designation("US-CBP", case("ctpat-tier1", S, "not recognised"), level="CTPAT_TIER_1"))
    return cases


@pytest.fixture(scope="module")
def screened(pki: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import GatewayThread, gateway_config

    gw = GatewayThread(gateway_config(pki, "AU-ABF", tmp_path_factory.mktemp("au")))
    try:
        cases = setup_world(Issuers(pki, gw.gateway.store, receiver="AU-ABF"))
        request = exchange_pb2.ScreenRequest(
            shipments=[
                exchange_pb2.Shipment(
                    reference=ref,
                    shipper_ids=[statement_pb2.PartyId(scheme=i.scheme, value=i.value) for i in c["shipper"]],  # type: ignore[attr-defined]
                    consignee_ids=[
                        statement_pb2.PartyId(scheme=i.scheme, value=i.value) for i in c["consignee"]
                    ],  # type: ignore[attr-defined]
                    origin_country="CN",
                )
                for ref, c in cases.items()
            ]
        )
        with channel(gw.target, creds_for(pki, "AU-ABF", "service", server_agency="AU-ABF")) as ch:
            response = exchange_pb2_grpc.ExchangeStub(ch).Screen(request, timeout=30)
        yield cases, {r.reference: r for r in response.results}, [r.reference for r in response.results]
    finally:
        gw.stop()


def test_there_are_at_least_twenty_scenarios(screened) -> None:  # type: ignore[no-untyped-def]
    cases, _, order = screened
    assert len(cases) >= 20
    assert order == list(cases)  # results echo references in request order


CASES = [
    "unknown", "own-att", "nz-ses", "ca-pip", "us-ctpat", "uk-aeo", "nz-suspended", "nz-revoked", "att-expired",
    "att-future", "att-withdrawn", "att-superseded", "att-and-counterfeit", "ipr-suspected",
    "att-and-undervaluation-suspected", "undervaluation-confirmed", "origin-adjudicated", "origin-confirmed",
    "flag-expired", "flag-withdrawn", "several-ids", "abn-only", "consignee-flagged", "not-in-audience",
    "splitting-suspected", "ctpat-tier1",
]  # fmt: skip


@pytest.mark.parametrize("reference", CASES)
def test_scenario(screened, reference: str) -> None:  # type: ignore[no-untyped-def]
    cases, results, _ = screened
    case, result = cases[reference], results[reference]
    got = exchange_pb2.Recommendation.Name(result.recommendation)
    assert got == case["expected"], list(result.reasons)
    assert any(case["reason"] in r for r in result.reasons), list(result.reasons)


def test_designation_matches_carry_recognition_and_provenance(screened) -> None:  # type: ignore[no-untyped-def]
    _, results, _ = screened
    us = results["us-ctpat"].designations
    assert len(us) == 1 and not us[0].recognised
    assert us[0].designation.programme == "CTPAT" and us[0].designation.level == "CTPAT_TIER_3"
    assert us[0].provenance.issuer == "US-CBP" and us[0].provenance.received_from == "US-CBP"
    assert us[0].provenance.verified and len(us[0].provenance.key_id) == 64
    nz = results["nz-ses"].designations
    assert len(nz) == 1 and nz[0].recognised
    flags = results["att-and-counterfeit"].flags
    assert [exchange_pb2.Recommendation.Name(f.action) for f in flags] == ["HOLD"]
