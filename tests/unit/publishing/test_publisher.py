"""Publishing at the home gateway: drafts and envelopes go through the same admission as a peer's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from borderx.directory.model import DirectoryHolder
from borderx.errors import ChainError, InvalidArgument, RuleViolation
from borderx.publishing import Draft, Publisher
from borderx.statements.bodies import (
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Party,
    PartyId,
    Severity,
    ViolationFlag,
)
from borderx.statements.body_codec import encode_body
from borderx.statements.intake import IntakePolicy
from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.signing import sign_checkpoint, sign_statement
from borderx.store.sqlite import SQLiteStore
from tests.unit.statements.conftest import (
    World,
    world,  # noqa: F401 - the shared session fixture
)

AU = "AU-ABF"
NOW = datetime(2026, 9, 1, tzinfo=UTC)  # au_new is valid from 2026-06-01


def designation(status: DesignationStatus = DesignationStatus.CERTIFIED) -> Designation:
    return Designation(
        party=Party(legal_name="Trader", ids=(PartyId("ABN", "51 824 753 556"),)),
        programme="AU_ATT",
        member_id="M-9",
        status=status,
        status_reason="" if status is DesignationStatus.CERTIFIED else "audit",
        consent_to_share=True,
    )


@pytest.fixture
def publisher(world: World, tmp_path: Path) -> tuple[Publisher, SQLiteStore]:
    store = SQLiteStore(tmp_path / "au.db")
    pub = Publisher(
        agency=AU,
        store=store,
        directory=DirectoryHolder(world.directory),
        signer=world.signers["au_new"],
        policy=IntakePolicy(home=AU),
        clock=lambda: NOW,
    )
    return pub, store


def test_drafts_are_normalised_signed_and_admitted(publisher: tuple[Publisher, SQLiteStore]) -> None:
    pub, store = publisher
    receipt = pub.publish([Draft(designation())], principal="svc")
    [env] = receipt.envelopes
    assert env.seq == 1 and env.header.issued_at == NOW
    assert store.membership(AU, "AU_ATT", "M-9") == (1, "CERTIFIED")


def test_a_draft_is_never_dated_before_the_chains_last_checkpoint(
    world: World, publisher: tuple[Publisher, SQLiteStore]
) -> None:
    pub, store = publisher
    [first] = pub.publish([Draft(designation())], principal="svc").envelopes
    # another replica's clock ran ahead when it signed a heartbeat for our head
    ahead = NOW + timedelta(seconds=3)
    store.put_checkpoint(
        sign_checkpoint(world.signers["au_new"], issuer=AU, seq=1, head_digest=first.digest, time=ahead)
    )
    [second] = pub.publish([Draft(designation(DesignationStatus.SUSPENDED))], principal="svc").envelopes
    assert second.header.issued_at == ahead


def test_publish_refuses_what_admission_would_keep_as_evidence(
    publisher: tuple[Publisher, SQLiteStore],
) -> None:
    pub, store = publisher
    pub.publish([Draft(designation(DesignationStatus.REVOKED))], principal="svc")
    with pytest.raises(
        RuleViolation, match=r"items\[0\]\.draft\.designation\.status: .*REVOKED is final"
    ) as refused:
        pub.publish([Draft(designation())], principal="svc")
    assert refused.value.rule == "membership.status_transition"
    assert store.count() == 1


def test_a_conflicting_signed_envelope_is_kept_as_evidence_and_refused(
    world: World, publisher: tuple[Publisher, SQLiteStore]
) -> None:
    pub, store = publisher
    pub.publish([Draft(designation())], principal="svc")
    flag = ViolationFlag(
        subject=Party(legal_name="S", ids=(PartyId("ABN", "51824753556"),)),
        category=FlagCategory.IPR_COUNTERFEIT,
        evidence=Evidence.CONFIRMED,
        severity=Severity.HIGH,
        observed_at=NOW - timedelta(days=1),
    )
    conflicting = sign_statement(world.signers["au_new"], issuer=AU, seq=1, prev_digest=GENESIS_DIGEST,
                                 issued_at=NOW, body_type="flag", body=encode_body(flag))  # fmt: skip
    with pytest.raises(ChainError, match="AU-ABF's key signed both"):
        pub.publish([conflicting], principal="svc")
    [proof] = store.evidence()
    assert proof.kind == "own_chain" and [e.digest for e in proof.envelopes][1] == conflicting.digest
    assert all(e.body is None for e in proof.envelopes)
    assert [a.kind for a in store.alarms()] == ["own_chain"]
    assert store.suspended_issuers() == {}
    assert store.count() == 1


def test_an_envelope_under_a_retired_key_first_seen_after_its_window_is_refused(
    world: World, publisher: tuple[Publisher, SQLiteStore]
) -> None:
    """au_old's window closed on 2026-07-01; an envelope it signed, dated inside the window but
    handed in at NOW (September), cannot be told from a backdated forgery: refused, naming the item."""
    pub, store = publisher
    flag = ViolationFlag(
        subject=Party(legal_name="S", ids=(PartyId("ABN", "51824753556"),)),
        category=FlagCategory.IPR_COUNTERFEIT,
        evidence=Evidence.CONFIRMED,
        severity=Severity.HIGH,
        observed_at=datetime(2026, 6, 10, tzinfo=UTC),
    )
    backdated = sign_statement(world.signers["au_old"], issuer=AU, seq=1, prev_digest=GENESIS_DIGEST,
                               issued_at=datetime(2026, 6, 20, tzinfo=UTC), body_type="flag",
                               body=encode_body(flag))  # fmt: skip
    with pytest.raises(InvalidArgument, match=r"window closed 2026-07-01") as refused:
        pub.publish([backdated], principal="svc")
    assert refused.value.field.startswith("items[0]")
    assert store.count() == 0 and store.alarms() == []
