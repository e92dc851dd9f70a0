"""Screening by identifiers alone: shipments no statement names are answered without scoring, as the full path would."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from borderx.screening import memindex
from borderx.screening.engine import NO_HIT_REASONS, Screener, ScreeningOutcome, ShipmentQuery, form_of_party
from borderx.screening.memindex import MemoryIndex
from borderx.screening.policy import Recommendation, policy_from_toml
from borderx.statements.bodies import Party, PartyId
from borderx.store import open_store
from borderx.store.base import PartyKey, Store
from tests.integration.helpers import Issuers, withdrawal
from tests.unit.screening.test_engine_names import TRUSTED, att, counterfeit_flag

FLAGGED = Party(legal_name="Flagged Exports Ltd", ids=(PartyId("PLATFORM", "shop:flagged"),))
WITHDRAWN = Party(legal_name="Withdrawn Ltd", ids=(PartyId("PLATFORM", "shop:withdrawn"),))
REFUSED = Party(legal_name="Refused Ltd", ids=(PartyId("PLATFORM", "shop:refused"),))
LATE = Party(legal_name="Late Arrivals Ltd", ids=(PartyId("PLATFORM", "shop:late"),))
UNKNOWN: PartyKey = ("PLATFORM", "shop:nobody")


def _ids(party: Party) -> tuple[PartyKey, ...]:
    return tuple((i.scheme, i.value) for i in party.ids)


def _answers(outcomes: list[ScreeningOutcome]) -> list[tuple[object, ...]]:
    return [
        (
            o.reference,
            o.recommendation,
            o.reasons,
            [d.stored.key for d in o.designations],
            [(f.stored.key, f.party, f.action) for f in o.flags],
        )
        for o in outcomes
    ]


@pytest.fixture
def world(tmp_path: Path, pki: Path) -> tuple[Store, Issuers]:
    store = open_store(f"sqlite:///{tmp_path / 'gw.db'}")
    issuers = Issuers(pki, store, receiver="AU-ABF")
    issuers.put("AU-ABF", att(TRUSTED))  # AU-ABF#1
    issuers.put("NZ-CS", counterfeit_flag(FLAGGED))  # NZ-CS#1
    issuers.put("NZ-CS", counterfeit_flag(WITHDRAWN))  # NZ-CS#2, withdrawn by NZ-CS#3
    issuers.put("NZ-CS", withdrawal("NZ-CS", 2))
    issuers.put("NZ-CS", counterfeit_flag(REFUSED))  # NZ-CS#4, refused below
    return store, issuers


def _batch() -> list[ShipmentQuery]:
    return [
        ShipmentQuery("unknown", (UNKNOWN,)),
        ShipmentQuery("designated", _ids(TRUSTED)),
        ShipmentQuery("unknown-2", (("ABN", "11111111111"),)),
        ShipmentQuery("flagged-consignee", (UNKNOWN,), _ids(FLAGGED)),
        ShipmentQuery("withdrawn", _ids(WITHDRAWN)),
        ShipmentQuery("refused", _ids(REFUSED)),
        ShipmentQuery("late", _ids(LATE)),
        ShipmentQuery("both", (*_ids(TRUSTED), UNKNOWN), _ids(FLAGGED)),
        ShipmentQuery("no-ids", ()),
        ShipmentQuery("unknown-3", (UNKNOWN,)),
    ]


def _screener(store: Store) -> Screener:
    return Screener(store, policy_from_toml("AU-ABF", {}, where="test", owners={"AU_ATT": "AU-ABF"}))


def _full_path(monkeypatch: pytest.MonkeyPatch, screener: Screener) -> list[ScreeningOutcome]:
    """The batch's outcomes with every shipment blocked and scored (nothing answered early)."""
    with monkeypatch.context() as patch:
        patch.setattr(MemoryIndex, "held", lambda self, keys: [True] * len(keys))
        return screener.screen(_batch())


def test_the_early_answers_are_the_full_path_answers(
    world: tuple[Store, Issuers], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, issuers = world
    screener = _screener(store)
    screener.screen(_batch())  # the index built: LATE's flag below is a recent addition (the delta)
    store.refuse_unverified(("NZ-CS", 4), "signature: does not verify")
    issuers.put("CA-CBSA", counterfeit_flag(LATE))
    early = _answers(screener.screen(_batch()))
    assert early == _answers(_full_path(monkeypatch, screener))
    by_ref = {a[0]: a for a in early}
    assert by_ref["late"][1] is Recommendation.HOLD  # found among the recent additions
    assert by_ref["flagged-consignee"][1] is Recommendation.HOLD
    assert by_ref["both"][1] is Recommendation.HOLD
    assert by_ref["designated"][1] is Recommendation.EXPEDITE
    for ref in ("unknown", "unknown-2", "unknown-3", "withdrawn", "refused", "no-ids"):
        assert by_ref[ref][1:] == (Recommendation.STANDARD, NO_HIT_REASONS, [], []), ref


def test_hash_collisions_only_send_shipments_to_the_full_path(
    world: tuple[Store, Issuers], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = world
    expected = _answers(_screener(store).screen(_batch()))
    monkeypatch.setattr(memindex, "_key_hash", lambda key: 42)  # every key collides with every other
    collided = _screener(store)
    assert _answers(collided.screen(_batch())) == expected
    assert collided.index.held([memindex.id_key(UNKNOWN)]).tolist() == [True]


def test_held_is_false_only_for_keys_no_row_is_under(world: tuple[Store, Issuers]) -> None:
    store, issuers = world
    index = MemoryIndex(store)
    index.refresh()
    issuers.put("CA-CBSA", counterfeit_flag(LATE))
    index.refresh()  # LATE's keys are in the recent additions, not yet in a sorted run
    keys = [memindex.id_key(k) for k in (UNKNOWN, *_ids(TRUSTED), *_ids(LATE), *_ids(FLAGGED))]
    assert index.held(keys).tolist() == [False, True, True, True]
    assert index.held([]).tolist() == []
    for key, held in zip(keys, index.held(keys).tolist(), strict=True):
        assert held == bool(index.postings([key])), key


def test_a_named_shipment_is_always_searched(world: tuple[Store, Issuers]) -> None:
    store, _ = world
    screener = _screener(store)
    # an identifier no statement names, and a name: blocked and scored by name all the same
    named = ShipmentQuery("named", (UNKNOWN,), shipper=form_of_party(dataclasses.replace(TRUSTED, ids=())))
    [outcome] = screener.screen([named])
    assert [d.stored.key for d in outcome.designations] == [("AU-ABF", 1)]
    assert outcome.recommendation is Recommendation.STANDARD  # a name alone never earns EXPEDITE
