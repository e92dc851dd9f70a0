"""``MemoryIndex.names_nobody``: Lookup's proof from memory that no statement names a party.

It may only say True when the store, at the time of the call, holds no statement (current
or not) under that identifier: whatever another process or replica committed, however far
behind the index is, whatever a hash collides with. The reader's index is never refreshed
by ``names_nobody`` itself; the tests refresh it where Screen would.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from borderx.screening import memindex
from borderx.screening.index import index_effects
from borderx.screening.memindex import MemoryIndex
from borderx.statements.bodies import Evidence, FlagCategory, PartyId, StatementRef, ViolationFlag
from borderx.store import open_store
from borderx.store.base import PartyKey, Store
from tests.integration.helpers import Issuers, flag, withdrawal
from tests.unit.screening.test_engine_names import TRUSTED, att

FLAGGED: PartyKey = ("PLATFORM", "shop:flagged")
UNKNOWN: PartyKey = ("PLATFORM", "shop:nobody")
ABN: PartyKey = ("ABN", "51824753556")  # TRUSTED's identifier


def _named(store: Store, party: PartyKey) -> bool:
    return bool(store.lookup(*party, include_history=True))


def _flag_of(party: PartyKey) -> ViolationFlag:
    return flag((PartyId(*party),), FlagCategory.UNDERVALUATION, Evidence.SUSPECTED)


def test_nobody_is_proven_only_at_the_stores_position(pki: Path, two_stores: tuple[Store, Store]) -> None:
    writer, reader = two_stores
    world = Issuers(pki, writer, receiver="AU-ABF")
    index = MemoryIndex(reader)
    index.refresh()
    assert index.names_nobody(UNKNOWN)
    assert index.names_nobody(FLAGGED)

    # another process appends: until the index has read the change, nothing is proven
    world.put("NZ-CS", _flag_of(FLAGGED))
    assert not index.names_nobody(UNKNOWN)
    assert not index.names_nobody(FLAGGED)
    index.refresh()
    assert index.names_nobody(UNKNOWN)
    assert not index.names_nobody(FLAGGED)

    # withdrawn, the flag is history: Lookup with include_history still answers it
    world.put("NZ-CS", withdrawal("NZ-CS", 1))
    index.refresh()
    assert _named(reader, FLAGGED)
    assert not index.names_nobody(FLAGGED)

    # a designation and the one that supersedes it: both held under the identifier
    world.put("AU-ABF", att(TRUSTED))
    index.refresh()
    assert not index.names_nobody(ABN)
    renewed = dataclasses.replace(att(TRUSTED), supersedes=StatementRef("AU-ABF", 1))
    world.put("AU-ABF", renewed)
    index.refresh()
    assert not index.names_nobody(ABN)
    assert index.names_nobody(UNKNOWN)


def test_a_rebuild_elsewhere_proves_nothing_until_read(pki: Path, two_stores: tuple[Store, Store]) -> None:
    writer, reader = two_stores
    world = Issuers(pki, writer, receiver="AU-ABF")
    world.put("NZ-CS", _flag_of(FLAGGED))
    index = MemoryIndex(reader)
    index.refresh()
    assert index.names_nobody(UNKNOWN)
    # a new epoch (`borderx store rebuild-index` by another process): the index may be
    # anything until it is rebuilt, so it proves nothing
    writer.rebuild_index(lambda stored: index_effects(stored.envelope))
    assert not index.names_nobody(UNKNOWN)
    index.refresh()
    assert index.names_nobody(UNKNOWN)
    assert not index.names_nobody(FLAGGED)


def test_a_busy_index_proves_nothing(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'gw.db'}")
    try:
        index = MemoryIndex(store)
        index.refresh()
        assert index.names_nobody(UNKNOWN)
        held, release = threading.Event(), threading.Event()

        def build_elsewhere() -> None:
            with index.lock:
                held.set()
                release.wait(10)

        other = threading.Thread(target=build_elsewhere)
        other.start()
        try:
            assert held.wait(10)
            assert not index.names_nobody(UNKNOWN)  # and it did not wait for the lock
        finally:
            release.set()
            other.join()
        assert index.names_nobody(UNKNOWN)
    finally:
        store.close()


def test_a_hash_collision_only_sends_the_lookup_to_the_store(
    pki: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every key hashes alike: any held key makes every party "maybe named"
    monkeypatch.setattr(memindex, "_key_hash", lambda _key: 42)
    store = open_store(f"sqlite:///{tmp_path / 'gw.db'}")
    try:
        index = MemoryIndex(store)
        index.refresh()
        assert index.names_nobody(UNKNOWN)
        Issuers(pki, store, receiver="AU-ABF").put("NZ-CS", _flag_of(FLAGGED))
        index.refresh()
        assert not index.names_nobody(UNKNOWN)
        assert not _named(store, UNKNOWN)
    finally:
        store.close()


@pytest.mark.parametrize("folded", [True, False], ids=["folded", "recent-keys"])
def test_nobody_proven_is_nobody_the_store_names(
    pki: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, folded: bool
) -> None:
    """Over many statements, in sorted runs or (not folded yet) in the recent-keys dict: every
    party proven unnamed has no statement in the store, and every named party is never proven."""
    if not folded:
        monkeypatch.setattr(MemoryIndex, "_fold", lambda _self, *, everything=False: None)
    store = open_store(f"sqlite:///{tmp_path / 'gw.db'}")
    try:
        world = Issuers(pki, store, receiver="AU-ABF")
        index = MemoryIndex(store)
        for n in range(40):
            world.put("NZ-CS", _flag_of(("PLATFORM", f"shop:p{n}")))
            if n == 20:
                index.refresh()  # the first half built into a run, the rest tailed into the dict
        index.refresh()
        for n in range(80):
            party = ("PLATFORM", f"shop:p{n}")
            assert index.names_nobody(party) is not _named(store, party), party
    finally:
        store.close()
