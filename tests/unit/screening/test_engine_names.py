"""Screening by name, contact and account over a real SQLite store of signed statements (issue #13 rules)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from borderx.screening.engine import Screener, ShipmentQuery, form_of_party
from borderx.screening.index import index_effects
from borderx.screening.policy import Recommendation, policy_from_toml
from borderx.statements.bodies import (
    Address,
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Party,
    PartyId,
    Severity,
    ViolationFlag,
)
from borderx.store import open_store
from borderx.store.base import Store
from tests.integration.helpers import NOW, Issuers

ADDRESS = Address(lines=("12 Bao An Road",), city="Shenzhen", postal_code="518000", country="CN")
COUNTERFEITER = Party(
    legal_name="SHENZHEN HONGDA TRADING CO LTD",
    address=ADDRESS,
    emails=("sales@hongda.example",),
)
TRUSTED = Party(
    legal_name="Southern Cross Trading Pty Ltd",
    address=Address(lines=("1 George St",), city="Sydney", postal_code="2000", country="AU"),
    ids=(PartyId("ABN", "51824753556"),),
)


def counterfeit_flag(subject: Party) -> ViolationFlag:
    return ViolationFlag(
        subject=subject,
        category=FlagCategory.IPR_COUNTERFEIT,
        evidence=Evidence.CONFIRMED,  # → HOLD under the default policy
        severity=Severity.HIGH,
        observed_at=NOW - timedelta(days=3),
    )


def att(party: Party) -> Designation:
    return Designation(
        party=party,
        programme="AU_ATT",
        member_id="ATT-1",
        level="",
        status=DesignationStatus.CERTIFIED,
        valid_from=NOW - timedelta(days=10),
        valid_until=NOW + timedelta(days=300),
        consent_to_share=True,
    )


@pytest.fixture
def store(tmp_path: Path, pki: Path) -> Store:
    store = open_store(f"sqlite:///{tmp_path / 'gw.db'}")
    world = Issuers(pki, store, receiver="AU-ABF")
    world.put("NZ-CS", counterfeit_flag(COUNTERFEITER))
    world.put("AU-ABF", att(TRUSTED))
    return store


@pytest.fixture
def screener(store: Store) -> Screener:
    # the home agency's own programmes are the directory's to say (AU_ATT → AU-ABF)
    return Screener(store, policy_from_toml("AU-ABF", {}, where="test", owners={"AU_ATT": "AU-ABF"}))


def shipment(shipper: Party, *, ref: str = "s1", consignee: Party | None = None) -> ShipmentQuery:
    ids = tuple((i.scheme, i.value) for i in shipper.ids)
    return ShipmentQuery(
        reference=ref,
        shipper_ids=ids,
        shipper=form_of_party(shipper),
        consignee=None if consignee is None else form_of_party(consignee),
    )


def test_a_name_only_flag_match_is_examined_not_held(screener: Screener) -> None:
    manifest = Party(legal_name="Shenzhen Hong Da Trading Company Limited", address=Address(country="CN"))
    [outcome] = screener.screen([shipment(manifest)])
    assert outcome.recommendation is Recommendation.EXAMINE
    [hit] = outcome.flags
    assert hit.match is not None and hit.match.basis == "NAME" and hit.match.score >= 0.85
    assert hit.action is Recommendation.EXAMINE
    assert any("NAME 0.9" in r and "a full action needs" in r for r in outcome.reasons), outcome.reasons


def test_a_contact_match_takes_the_full_action(screener: Screener) -> None:
    manifest = Party(legal_name="HD Shop", emails=("sales@hongda.example",))
    [outcome] = screener.screen([shipment(manifest)])
    assert outcome.recommendation is Recommendation.HOLD
    [hit] = outcome.flags
    assert hit.match is not None and hit.match.basis == "CONTACT"


def test_a_very_high_name_and_address_score_takes_the_full_action(screener: Screener) -> None:
    manifest = Party(legal_name="Shenzhen Hongda Trading Co., Ltd.", address=ADDRESS)
    [outcome] = screener.screen([shipment(manifest)])
    assert outcome.recommendation is Recommendation.HOLD
    assert outcome.flags[0].match is not None and outcome.flags[0].match.corroborated


def test_a_different_distinctive_word_or_country_is_no_match(screener: Screener) -> None:
    other = Party(legal_name="Shenzhen Hongxin Trading Co Ltd", address=ADDRESS)
    abroad = Party(legal_name="Hongda Trading Ltd", address=Address(city="Auckland", country="NZ"))
    outcomes = screener.screen([shipment(other, ref="a"), shipment(abroad, ref="b")])
    assert [o.recommendation for o in outcomes] == [Recommendation.STANDARD, Recommendation.STANDARD]
    assert all(not o.flags for o in outcomes)


def test_a_copied_trusted_name_is_never_expedited(screener: Screener) -> None:
    copycat = Party(legal_name="Southern Cross Trading Pty Ltd", address=TRUSTED.address)
    [outcome] = screener.screen([shipment(copycat)])
    assert outcome.recommendation is Recommendation.STANDARD
    [hit] = outcome.designations
    assert not hit.recognised and hit.match is not None and hit.match.basis == "NAME"
    assert any("possible match, not recognised: identity not proven" in r for r in outcome.reasons)


def test_the_identifier_still_expedites(screener: Screener) -> None:
    [outcome] = screener.screen([shipment(TRUSTED)])
    assert outcome.recommendation is Recommendation.EXPEDITE
    assert outcome.designations[0].match is not None
    assert outcome.designations[0].match.basis == "IDENTIFIER"
    assert any("(IDENTIFIER 1.00" in r for r in outcome.reasons)


def test_a_flagged_consignee_by_name(screener: Screener) -> None:
    consignee = Party(legal_name="Hongda Trading (Shenzhen)", address=Address(country="CN"))
    [outcome] = screener.screen([shipment(TRUSTED, consignee=consignee)])
    # the flag outranks the designation, and was matched by name: EXAMINE
    assert outcome.recommendation is Recommendation.EXAMINE
    assert outcome.flags[0].party == "consignee"


def test_a_withdrawn_flag_leaves_the_name_index(store: Store, pki: Path, screener: Screener) -> None:
    from borderx.statements.bodies import StatementRef, Withdrawal, WithdrawalReason

    world = Issuers(pki, store, receiver="AU-ABF")
    world.put(
        "NZ-CS",
        Withdrawal(
            target=StatementRef("NZ-CS", 1), reason=WithdrawalReason.ISSUED_IN_ERROR, effective_at=NOW
        ),
    )
    manifest = Party(legal_name="Shenzhen Hongda Trading Co Ltd", address=ADDRESS)
    assert screener.screen([shipment(manifest)])[0].recommendation is Recommendation.STANDARD


def test_the_name_index_is_rebuilt_from_the_store(store: Store, screener: Screener) -> None:
    # an index without name keys: nothing is found by name
    store.rebuild_index(lambda stored: dataclasses.replace(index_effects(stored.envelope), names=()))
    manifest = Party(legal_name="Shenzhen Hongda Trading Co Ltd", address=ADDRESS)
    assert screener.screen([shipment(manifest)])[0].flags == ()
    store.rebuild_index(lambda stored: index_effects(stored.envelope))
    assert screener.screen([shipment(manifest)])[0].recommendation is Recommendation.HOLD


def test_search_lists_candidates_best_first(screener: Screener) -> None:
    hits = screener.search("Hongda Trading", country="CN")
    assert [h.party.legal_name for h in hits] == ["SHENZHEN HONGDA TRADING CO LTD"]
    assert hits[0].match.basis == "NAME" and hits[0].statements[0].key == ("NZ-CS", 1)
    assert screener.search("Hongxin Trading", country="CN") == []


def test_thresholds_come_from_policy_matching() -> None:
    from borderx.errors import ConfigError

    policy = policy_from_toml("AU-ABF", {"matching": {"review": 0.9}}, where="t")
    assert policy.matching.review == 0.9
    with pytest.raises(ConfigError, match=r"\[policy.matching\] review = 2: a number from 0 to 1"):
        policy_from_toml("AU-ABF", {"matching": {"review": 2}}, where="t")
    with pytest.raises(ConfigError, match=r"\[policy.matching\] reviw is not one of"):
        policy_from_toml("AU-ABF", {"matching": {"reviw": 0.9}}, where="t")
    with pytest.raises(ConfigError, match=r"corroborated = 0\.8 is below review = 0\.85"):
        policy_from_toml("AU-ABF", {"matching": {"corroborated": 0.8}}, where="t")
