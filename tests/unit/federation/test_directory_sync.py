"""DirectorySync.apply: a partner's documents applied in order, refusals alarmed, conflicts kept.

No network here (fetching is exercised by tests/federation); a real SQLite store and holder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from borderx.directory.model import Directory, DirectoryHolder, home_guard
from borderx.errors import DirectoryRefused
from borderx.federation.directory_sync import DirectorySync
from borderx.identity.devpki import sign_as_members
from borderx.store import Store, open_store

MAJORITY = ["US-CBP", "AU-ABF", "NZ-CS"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'gw.db'}") as s:
        yield s


def version(pki: Path, n: int, signers: list[str] = MAJORITY, **changes: Any) -> bytes:
    signed = json.loads((pki / "directory.json").read_text())["signed"]
    signed.update(version=n, **changes)
    return sign_as_members(pki, signed, signers).encode()


def sync_for(pki: Path, store: Store) -> tuple[DirectorySync, DirectoryHolder]:
    v1 = Directory.load(pki / "directory.json")
    store.record_directory(v1.version, v1.digest, v1.document)
    holder = DirectoryHolder(v1, persist=lambda d: store.record_directory(d.version, d.digest, d.document))
    sync = DirectorySync(
        agency="US-CBP",
        store=store,
        directory=holder,
        endpoints=dict,
        credentials=lambda: (b"", b""),
        restart_links=lambda: None,
        enabled=True,
        max_message_bytes=1 << 20,
    )
    return sync, holder


def test_versions_apply_in_order_and_old_ones_are_skipped(pki: Path, store: Store) -> None:
    sync, holder = sync_for(pki, store)
    v2, v3 = version(pki, 2), version(pki, 3)
    assert sync.apply("NZ-CS", [(pki / "directory.json").read_bytes(), v2, v3]) == 2
    assert holder.current.version == 3
    head = store.directory_head()
    assert head is not None and head.version == 3
    assert store.alarms() == []


def test_a_document_under_threshold_is_refused_with_an_alarm(pki: Path, store: Store) -> None:
    sync, holder = sync_for(pki, store)
    assert sync.apply("NZ-CS", [version(pki, 2, ["NZ-CS"])]) == 0
    assert holder.current.version == 1
    (alarm,) = store.alarms()
    assert alarm.kind == "directory_refused" and alarm.issuer == "NZ-CS"
    assert "refused (threshold)" in alarm.detail
    assert sync.apply("NZ-CS", [b"{"]) == 0
    assert "does not parse" in store.alarms()[-1].detail


def test_a_conflicting_document_is_kept_as_evidence(pki: Path, store: Store) -> None:
    sync, holder = sync_for(pki, store)
    ours = version(pki, 2)
    assert sync.apply("AU-ABF", [ours]) == 1
    theirs = version(pki, 2, ["CA-CBSA", "GB-HMRC", "NZ-CS"], expires="2030-01-01T00:00:00Z")
    assert sync.apply("GB-HMRC", [theirs]) == 0
    assert holder.current.document == ours
    (kept,) = store.directory_conflicts()
    assert (kept.peer, kept.version, kept.document) == ("GB-HMRC", 2, theirs)
    (alarm,) = store.alarms()
    assert alarm.kind == "directory_conflict" and alarm.issuer == "GB-HMRC"
    assert "both documents are kept as evidence" in alarm.detail
    # the same evidence through GetDirectory's `conflicting` field changes nothing more
    assert sync.apply("GB-HMRC", [], theirs) == 0
    assert len(store.directory_conflicts()) == 1 and store.alarms()[0].count == 2


def test_announcements_schedule_only_when_the_partner_is_ahead_or_different(pki: Path, store: Store) -> None:
    sync, holder = sync_for(pki, store)
    scheduled: list[str] = []
    sync.schedule = scheduled.append  # type: ignore[method-assign]
    current = holder.current
    sync.announced("NZ-CS", current.version, current.digest)
    sync.announced("NZ-CS", 0, "")
    sync.announced("US-CBP", current.version + 1, "")  # ourselves
    assert scheduled == []
    sync.announced("NZ-CS", current.version + 1, "f" * 64)
    sync.announced("CA-CBSA", current.version, "e" * 64)
    assert scheduled == ["NZ-CS", "CA-CBSA"]


def test_a_partner_version_that_drops_this_agency_is_refused_with_an_alarm(pki: Path, store: Store) -> None:
    sync, holder = sync_for(pki, store)
    us_key = holder.current.agency("US-CBP").signing_keys[0].key_id
    holder.guard = home_guard("US-CBP", us_key)
    signed = json.loads((pki / "directory.json").read_text())["signed"]
    without_us = [a for a in signed["agencies"] if a["id"] != "US-CBP"]
    remaining = ["AU-ABF", "NZ-CS", "CA-CBSA"]  # a threshold of v1 and of v2 alike
    assert sync.apply("NZ-CS", [version(pki, 2, remaining, agencies=without_us)]) == 0
    assert holder.current.version == 1
    head = store.directory_head()
    assert head is not None and head.version == 1  # nothing recorded: a restart stays on v1 too
    (alarm,) = store.alarms()
    assert alarm.kind == "directory_refused" and "refused (drops_home)" in alarm.detail
    # the same version with this gateway's key still listed is applied
    assert sync.apply("NZ-CS", [version(pki, 2)]) == 1 and holder.current.version == 2


def test_home_guard_refuses_a_revoked_or_missing_signing_key(pki: Path) -> None:
    directory = Directory.load(pki / "directory.json")
    key = directory.agency("AU-ABF").signing_keys[0].key_id
    home_guard("AU-ABF", key)(directory)  # listed and usable: passes
    home_guard("AU-ABF", None)(directory)  # a gateway that does not sign needs only its agency
    with pytest.raises(DirectoryRefused, match="signing key") as info:
        home_guard("AU-ABF", "ab" * 32)(directory)
    assert info.value.reason == "drops_home"
    with pytest.raises(DirectoryRefused, match="no longer lists this gateway's agency SG-CUSTOMS"):
        home_guard("SG-CUSTOMS", None)(directory)
