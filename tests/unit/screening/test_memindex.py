"""The in-memory screening index: stored forms, currency across processes and replicas, collisions.

Every test screens through a ``Screener`` whose memory index reads one store object while
another store object (another process of a SQLite gateway, another PostgreSQL replica)
writes: what the writer committed must be what the next Screen answers.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from borderx.screening import memindex
from borderx.screening.engine import Screener, ScreeningOutcome, ShipmentQuery, form_of_party
from borderx.screening.index import index_effects
from borderx.screening.names import PartyForm, dump_form, load_form, party_form
from borderx.screening.policy import Recommendation, policy_from_toml
from borderx.statements.bodies import Address, Party, PartyId, StatementRef
from borderx.store import open_store
from borderx.store.base import Store
from tests.integration.helpers import Issuers, withdrawal
from tests.unit.screening.labelled import VARIANT_KINDS, make_party, make_variant
from tests.unit.screening.test_engine_names import ADDRESS, COUNTERFEITER, TRUSTED, att, counterfeit_flag

NAME_VARIANT = Party(legal_name="Shenzhen Hong Da Trading Company Limited", address=Address(country="CN"))


def _policy() -> object:
    return policy_from_toml("AU-ABF", {}, where="test", owners={"AU_ATT": "AU-ABF"})


def shipment(shipper: Party, *, ref: str = "s1") -> ShipmentQuery:
    ids = tuple((i.scheme, i.value) for i in shipper.ids)
    return ShipmentQuery(reference=ref, shipper_ids=ids, shipper=form_of_party(shipper))


def _flags(outcome: ScreeningOutcome) -> list[tuple[str, int]]:
    return [f.stored.key for f in outcome.flags]


def test_stored_forms_read_back_equal(tmp_path: Path) -> None:
    rng = random.Random(7)
    for _ in range(300):
        sample = make_variant(rng, make_party(rng), rng.choice(VARIANT_KINDS))
        form = party_form(
            (sample.name, "Trading As Name"),
            lines=sample.lines,
            city=sample.city,
            postcode=sample.postcode,
            country=sample.country,
            ids=[("PLATFORM", f"shop:{rng.randrange(99)}"), ("ABN", "51824753556")],
            emails=["a@b.example"],
            phones=["+61212345678"],
        )
        assert load_form(dump_form(form)) == form
    # text with the separators the compact form uses falls back to JSON, equal all the same
    odd = party_form(("Odd\x1fName\x1e Ltd",), lines=("1\x1d Road",), ids=[("X\x1f", "v\x1e")])
    assert dump_form(odd)[:1] == b"\x02"
    assert load_form(dump_form(odd)) == odd
    with pytest.raises(ValueError, match="not a stored matching form"):
        load_form(b"\x09garbage")


def test_screen_answers_what_another_writer_committed(pki: Path, two_stores: tuple[Store, Store]) -> None:
    writer, reader = two_stores
    world = Issuers(pki, writer, receiver="AU-ABF")
    screener = Screener(reader, _policy())  # type: ignore[arg-type]
    assert screener.screen([shipment(NAME_VARIANT)])[0].flags == ()  # built while empty

    # an append by another process or replica: found by name at the next Screen
    world.put("NZ-CS", counterfeit_flag(COUNTERFEITER))
    [outcome] = screener.screen([shipment(NAME_VARIANT)])
    assert _flags(outcome) == [("NZ-CS", 1)]
    assert outcome.recommendation is Recommendation.EXAMINE

    # a designation and the one that supersedes it: only the latest counts, by identifier
    world.put("AU-ABF", att(TRUSTED))
    [outcome] = screener.screen([shipment(TRUSTED)])
    assert [d.stored.key for d in outcome.designations] == [("AU-ABF", 1)]
    renewed = dataclasses.replace(att(TRUSTED), supersedes=StatementRef("AU-ABF", 1))
    world.put("AU-ABF", renewed)
    [outcome] = screener.screen([shipment(TRUSTED)])
    assert [d.stored.key for d in outcome.designations] == [("AU-ABF", 2)]
    assert outcome.recommendation is Recommendation.EXPEDITE

    # a withdrawal: the flag no longer counts
    world.put("NZ-CS", withdrawal("NZ-CS", 1))
    assert screener.screen([shipment(NAME_VARIANT)])[0].flags == ()

    # the withdrawal's deferred signature check fails: its effect is undone, the flag counts again
    writer.refuse_unverified(("NZ-CS", 2), "signature: does not verify")
    assert _flags(screener.screen([shipment(NAME_VARIANT)])[0]) == [("NZ-CS", 1)]

    # a refused statement leaves the index: AU-ABF#2 refused, AU-ABF#1 is current again
    writer.refuse_unverified(("AU-ABF", 2), "signature: does not verify")
    [outcome] = screener.screen([shipment(TRUSTED)])
    assert [d.stored.key for d in outcome.designations] == [("AU-ABF", 1)]


def test_a_rebuild_elsewhere_rebuilds_the_memory_index(pki: Path, two_stores: tuple[Store, Store]) -> None:
    writer, reader = two_stores
    world = Issuers(pki, writer, receiver="AU-ABF")
    world.put("NZ-CS", counterfeit_flag(COUNTERFEITER))
    screener = Screener(reader, _policy())  # type: ignore[arg-type]
    assert _flags(screener.screen([shipment(NAME_VARIANT)])[0]) == [("NZ-CS", 1)]
    # an index without name keys (as an older indexer made): not found by name any more
    writer.rebuild_index(lambda stored: dataclasses.replace(index_effects(stored.envelope), names=()))
    assert screener.screen([shipment(NAME_VARIANT)])[0].flags == ()
    writer.rebuild_index(lambda stored: index_effects(stored.envelope))
    assert _flags(screener.screen([shipment(NAME_VARIANT)])[0]) == [("NZ-CS", 1)]
    assert screener.search("Hongda Trading")[0].statements[0].key == ("NZ-CS", 1)


def test_statements_without_a_stored_form_are_scored_from_their_body(pki: Path, tmp_path: Path) -> None:
    # an indexer that stores no form (as before v9): the body is read when it is a candidate
    store = open_store(f"sqlite:///{tmp_path / 'gw.db'}")
    world = Issuers(pki, store, receiver="AU-ABF")
    world.put("NZ-CS", counterfeit_flag(COUNTERFEITER))
    store.rebuild_index(lambda stored: dataclasses.replace(index_effects(stored.envelope), form=b""))
    screener = Screener(store, _policy())  # type: ignore[arg-type]
    [outcome] = screener.screen([shipment(NAME_VARIANT)])
    assert _flags(outcome) == [("NZ-CS", 1)]


def test_hash_collisions_never_make_a_match(
    pki: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'gw.db'}")
    world = Issuers(pki, store, receiver="AU-ABF")
    world.put("NZ-CS", counterfeit_flag(COUNTERFEITER))
    world.put("AU-ABF", att(TRUSTED))
    decoy = Party(
        legal_name="Shenzhen Hongxin Trading Co Ltd",
        address=ADDRESS,
        ids=(PartyId("USCC", "91440300MA5DXXXX1"),),
    )
    world.put("NZ-CS", counterfeit_flag(decoy))
    world.put("AU-ABF", dataclasses.replace(att(TRUSTED), party=decoy, member_id="ATT-2"))
    queries = [
        shipment(NAME_VARIANT, ref="name"),
        shipment(TRUSTED, ref="id"),
        shipment(Party(legal_name="Unrelated Widgets GmbH", address=Address(country="DE")), ref="none"),
        shipment(Party(legal_name="Acme", ids=(PartyId("ABN", "11111111111"),)), ref="other-id"),
    ]

    def answers() -> list[tuple[str, Recommendation, tuple[str, ...], list[tuple[str, int]]]]:
        screener = Screener(store, _policy())  # type: ignore[arg-type]
        return [(o.reference, o.recommendation, o.reasons, _flags(o)) for o in screener.screen(queries)]

    expected = answers()
    monkeypatch.setattr(memindex, "_key_hash", lambda key: 42)  # every key collides with every other
    assert answers() == expected
    assert expected[2][3] == [] and expected[3][3] == []


def test_the_score_bound_never_drops_a_candidate_that_matches() -> None:
    # variants (which should match), hard negatives and unrelated parties against many
    # held parties, with and without shared ids and contacts, at several thresholds
    from borderx.screening.names import (
        DEFAULT_THRESHOLDS,
        light_form,
        light_of,
        match_party,
        may_reach,
        may_reach_by_name,
    )
    from tests.unit.screening.labelled import make_negative
    from tests.unit.screening.quality import form

    rng = random.Random(31)
    held = [make_party(rng) for _ in range(120)]
    checked = dropped = 0
    for party in held:
        others = [
            make_variant(rng, party, rng.choice(VARIANT_KINDS)),
            make_negative(rng, party),
            rng.choice(held),
        ]
        for other in others:
            for q, c in ((form(other), form(party)), (form(party), form(other))):
                assert light_form(dump_form(c)) == light_of(c)
                for threshold in (0.6, 0.85, 0.95):
                    match = match_party(q, c, party="shipper", thresholds=DEFAULT_THRESHOLDS)
                    checked += 1
                    # the light bound (what screening uses) never drops more than the full one
                    if not may_reach_by_name(q, light_of(c), threshold, DEFAULT_THRESHOLDS):
                        assert not may_reach(q, c, threshold, DEFAULT_THRESHOLDS)
                    if not may_reach(q, c, threshold, DEFAULT_THRESHOLDS):
                        dropped += 1
                        assert not match.proves_identity and match.score < threshold, (q, c, match)
    assert dropped > checked // 4  # it does spare work


def test_the_memory_index_answers_as_the_store_index(tmp_path: Path) -> None:
    """Against the store's own index (``lookup_names``/``lookup_many``, as screening read it
    before), scoring every candidate in full: the same matches, scores and evidence."""
    from borderx.screening.names import TYPO_KEY_POSTINGS, blocking_keys, exact_keys, match_party
    from borderx.statements.bodies import BodyType
    from borderx.statements.body_codec import party_of_body
    from tests.bench.bench_names import fill, name_batches, queries

    rng = random.Random(99)
    samples = [make_party(rng) for _ in range(1_500)]
    store = open_store(f"sqlite:///{tmp_path / 'gw.db'}")
    fill(store, samples)  # type: ignore[arg-type]
    [batch] = name_batches(rng, samples, 1)
    shipments = queries(batch[:300])
    policy = _policy()
    outcomes = Screener(store, policy).screen(shipments)  # type: ignore[arg-type]
    thresholds = policy.matching  # type: ignore[attr-defined]
    exact = set().union(*(exact_keys(f) for s in shipments for f in (s.shipper, s.consignee) if f))
    for shipment, outcome in zip(shipments, outcomes, strict=True):
        expected = []
        for party, form in (("shipper", shipment.shipper), ("consignee", shipment.consignee)):
            assert form is not None
            keys = list(blocking_keys(form))
            named = store.lookup_names([k for k in keys if k in exact])
            named.update(
                store.lookup_names([k for k in keys if k not in exact], max_postings=TYPO_KEY_POSTINGS)
            )
            seen = set()
            for key in keys:
                for stored in named.get(key, ()):
                    if stored.key in seen:
                        continue
                    seen.add(stored.key)
                    env = stored.envelope
                    held = party_of_body(BodyType(env.header.body_type), env.body)  # type: ignore[arg-type]
                    match = match_party(form, form_of_party(held), party=party, thresholds=thresholds)  # type: ignore[arg-type]
                    if match.score >= thresholds.review:
                        expected.append((stored.key, match))
        got = [(f.stored.key, f.match) for f in outcome.flags]
        assert got == expected, shipment.reference
    assert sum(len(o.flags) for o in outcomes) > 100  # most shippers are variants of a held party


def test_the_batch_bound_keeps_exactly_what_the_scalar_bound_keeps(tmp_path: Path) -> None:
    """``MemoryIndex.survivors`` (numpy and ``cdist`` over a batch) against ``names.may_reach_by_name``
    candidate by candidate: the same rows, for one- and two-name parties, keyed and plain
    ones, withdrawn rows and forms without a light reading, at several thresholds."""
    from borderx.screening.names import DEFAULT_THRESHOLDS, blocking_keys, light_form, may_reach_by_name
    from borderx.store.base import IndexEntry
    from tests.unit.screening.labelled import make_negative

    rng = random.Random(5)
    store = open_store(f"sqlite:///{tmp_path / 'gw.db'}")
    index = memindex.MemoryIndex(store)
    samples = [make_party(rng) for _ in range(150)]

    def party(sample: object, *, second: str | None = None, keyed: bool = False) -> object:
        s = sample  # a labelled Sample
        return party_form(
            (s.name, second) if second else (s.name,),  # type: ignore[attr-defined]
            lines=s.lines,  # type: ignore[attr-defined]
            city=s.city,  # type: ignore[attr-defined]
            postcode=s.postcode,  # type: ignore[attr-defined]
            country=s.country,  # type: ignore[attr-defined]
            ids=[("PLATFORM", f"shop:{rng.randrange(5)}")] if keyed else [],
            emails=["a@b.example"] if keyed and rng.random() < 0.5 else [],
        )

    held = []
    for n, s in enumerate(samples):
        other = make_variant(rng, s, rng.choice(VARIANT_KINDS)).name if n % 3 == 0 else None
        f = party(s, second=other, keyed=n % 4 == 0)
        held.append(f)
        index._apply(  # type: ignore[attr-defined]
            [IndexEntry("XX", n + 1, live=n % 7 != 0, form=dump_form(f), names=blocking_keys(f))]  # type: ignore[arg-type]
        )
    # a form only the JSON fallback can hold: no light reading, always scored in full
    odd = party_form(("Odd\x1fName Trading",), country="CN")
    index._apply([IndexEntry("XX", 999, live=True, form=dump_form(odd))])  # type: ignore[attr-defined]
    assert light_form(dump_form(odd)) is None
    rows = list(range(len(index)))
    queries_ = []
    for s in rng.sample(samples, 60):
        queries_.append(party(make_variant(rng, s, rng.choice(VARIANT_KINDS))))
        queries_.append(party(make_negative(rng, s), keyed=True))
        queries_.append(party(s, second=make_variant(rng, s, "typo").name))
    queries_.append(PartyForm(ids=frozenset({("PLATFORM", "shop:1")})))  # no names at all
    for threshold in (0.6, 0.85, 0.95):
        requests = [(rng.sample(rows, 60), q) for q in queries_]
        got = index.survivors(requests, threshold, DEFAULT_THRESHOLDS)  # type: ignore[arg-type]
        kept = 0
        for (candidates, q), survivors in zip(requests, got, strict=True):
            expected = []
            for row in candidates:
                if not index.live(row):
                    continue
                data = bytes(index._blob[index._form_start[row] : index._form_start[row + 1]])  # type: ignore[attr-defined]
                light = light_form(data)
                if light is None or may_reach_by_name(q, light, threshold, DEFAULT_THRESHOLDS):  # type: ignore[arg-type]
                    expected.append(row)
            assert survivors == expected
            kept += len(expected)
        assert 0 < kept < sum(len(c) for c, _ in requests)  # it keeps some and cuts some
    store.close()


def test_the_name_strings_read_back_across_chunks() -> None:
    strings = memindex._Strings()  # type: ignore[attr-defined]
    texts = [f"name{i}" for i in range(3 * memindex._CHUNK + 5)]  # type: ignore[attr-defined]
    for text in texts:
        strings.append(text)
    assert len(strings) == len(texts)
    at = [0, 1, memindex._CHUNK - 1, memindex._CHUNK, len(texts) - 6, len(texts) - 5, len(texts) - 1]  # type: ignore[attr-defined]
    assert strings.take(at) == [texts[i] for i in at]
    assert strings.take(range(len(texts))) == texts


def test_each_distinct_text_is_held_once_under_one_number() -> None:
    texts = memindex._Texts()  # type: ignore[attr-defined]
    words = [f"name{i % 7}" for i in range(2 * memindex._CHUNK)]  # type: ignore[attr-defined]
    numbers = [texts.id(w) for w in words]
    assert len(texts) == 7
    assert numbers[:8] == [0, 1, 2, 3, 4, 5, 6, 0]
    assert texts.take(numbers) == words
