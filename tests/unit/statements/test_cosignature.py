"""Cosignatures (issue 12 item 5): encoding, verification, admission and the split-view decision.

Every cosignature here is correctly signed by a member's key; each refusal is of a
cosignature that verifies as a signature but must still not be kept or believed.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from conftest import T0, World

from borderx.errors import (
    BadSignature,
    IssuerMismatch,
    KeyNotValid,
    KeyRevoked,
    MalformedHeader,
    OwnChainForged,
    RuleViolation,
)
from borderx.statements.encoding import (
    PAYLOAD_TYPE_CHECKPOINT,
    checkpoint_pae,
    cosignature_pae,
    decode_cosignature,
    encode_cosignature,
    signed_cosignature_from_wire,
    signed_cosignature_to_wire,
)
from borderx.statements.intake import IntakePolicy, admit_cosignature
from borderx.statements.model import (
    PAYLOAD_TYPE_COSIGNATURE,
    PAYLOAD_TYPE_STATEMENT,
    Envelope,
    Signature,
    SignedCosignature,
)
from borderx.statements.signing import sign_cosignature
from borderx.statements.verify import verify_checkpoint, verify_cosignature, verify_statement
from borderx.statements.witness import split_view

AU, US, NZ = "AU-ABF", "US-CBP", "NZ-CS"
W = T0 + timedelta(hours=1)  # witnesses' time


@dataclasses.dataclass
class View:
    held: dict[tuple[str, int], Envelope] = dataclasses.field(default_factory=dict)

    def statement(self, issuer: str, seq: int) -> tuple[Envelope, datetime] | None:
        env = self.held.get((issuer, seq))
        return None if env is None else (env, T0)

    def checkpoint_floor(self, issuer: str, seq: int) -> datetime | None:
        return None

    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None:
        return None


def cosign(world: World, head: Envelope, witness_signer: str = "us", *, at: datetime = W, issuer_signer: str = "au_old") -> SignedCosignature:  # fmt: skip
    return sign_cosignature(
        world.signers[witness_signer],
        checkpoint=world.checkpoint(head, issuer_signer),
        witness=world.issuer_of[witness_signer],
        time=at,
    )


def policy(home: str = NZ) -> IntakePolicy:
    return IntakePolicy(home=home)


def admit(world: World, scos: SignedCosignature, *, view: View | None = None, held: tuple[SignedCosignature, ...] = (), home: str = NZ, received_at: datetime = W):  # type: ignore[no-untyped-def]  # fmt: skip
    return admit_cosignature(
        scos,
        directory=world.directory,
        policy=policy(home),
        view=view or View(),
        held=held,
        received_at=received_at,
        received_from="US-CBP",
    )


# ---------------------------------------------------------------- encoding and signing


def test_cosignature_round_trips_and_keeps_the_checkpoint_bytes(world: World) -> None:
    head = world.chain(3)[-1]
    scos = cosign(world, head)
    again = signed_cosignature_from_wire(signed_cosignature_to_wire(scos))
    assert again == scos
    assert decode_cosignature(scos.cosignature_bytes) == scos.cosignature
    assert encode_cosignature(scos.cosignature) == scos.cosignature_bytes
    assert again.cosignature.checkpoint.checkpoint_bytes == world.checkpoint(head).checkpoint_bytes
    assert (again.issuer, again.seq, again.witness, again.head_digest) == (AU, 3, US, head.digest)


def test_cosignature_has_its_own_payload_type(world: World) -> None:
    types = {PAYLOAD_TYPE_COSIGNATURE, PAYLOAD_TYPE_CHECKPOINT, PAYLOAD_TYPE_STATEMENT}
    assert len(types) == 3
    scos = cosign(world, world.chain(1)[0])
    assert cosignature_pae(scos.cosignature_bytes).startswith(
        b"DSSEv1 %d %b " % (len(PAYLOAD_TYPE_COSIGNATURE), PAYLOAD_TYPE_COSIGNATURE.encode())
    )
    assert cosignature_pae(scos.cosignature_bytes) != checkpoint_pae(scos.cosignature_bytes)


def test_a_cosignature_signature_never_verifies_as_a_statement_or_checkpoint(world: World) -> None:
    head = world.chain(1)[0]
    scos = cosign(world, head)
    # the witness's signature presented over the same bytes as a checkpoint of the witness
    forged_cp = dataclasses.replace(
        world.checkpoint(head),
        signatures=scos.signatures,
    )
    with pytest.raises((BadSignature, IssuerMismatch)):
        verify_checkpoint(forged_cp, world.directory)
    forged_env = dataclasses.replace(head, signatures=scos.signatures)
    with pytest.raises((BadSignature, IssuerMismatch)):
        verify_statement(forged_env, world.directory)


def test_decoding_refuses_trailing_or_unknown_bytes(world: World) -> None:
    scos = cosign(world, world.chain(1)[0])
    with pytest.raises(MalformedHeader, match="cosignature"):
        decode_cosignature(scos.cosignature_bytes + b"\x78\x01")
    with pytest.raises(MalformedHeader, match="cosignature"):
        signed_cosignature_from_wire(signed_cosignature_to_wire(scos) + b"\x78\x01")


# ---------------------------------------------------------------- verification


def test_verify_cosignature_checks_the_witness_and_the_checkpoint_inside(world: World) -> None:
    head = world.chain(2)[-1]
    scos = cosign(world, head)
    assert verify_cosignature(scos, world.directory).checkpoint.seq == 2
    tampered = dataclasses.replace(scos, signatures=(Signature(scos.signatures[0].key_id, bytes(64)),))
    with pytest.raises(BadSignature, match="cosignature by US-CBP"):
        verify_cosignature(tampered, world.directory)


def test_a_witness_signing_with_another_agencys_key_is_refused(world: World) -> None:
    head = world.chain(1)[0]
    scos = sign_cosignature(world.signers["nz"], checkpoint=world.checkpoint(head), witness=US, time=W)
    with pytest.raises(IssuerMismatch, match="belongs to NZ-CS"):
        verify_cosignature(scos, world.directory)


def test_a_revoked_witness_key_is_refused(world: World) -> None:
    scos = cosign(world, world.chain(1)[0], "nz_revoked")
    with pytest.raises(KeyRevoked):
        verify_cosignature(scos, world.directory)


def test_the_checkpoint_inside_must_verify_under_the_issuers_key_at_its_time(world: World) -> None:
    head = world.chain(1)[0]
    # au_old expired 2026-07-01: a checkpoint dated after that does not verify, cosigned or not
    late = world.checkpoint(head, "au_old", time=datetime(2026, 8, 1, tzinfo=UTC))
    scos = sign_cosignature(
        world.signers["us"], checkpoint=late, witness=US, time=datetime(2026, 8, 2, tzinfo=UTC)
    )
    with pytest.raises(KeyNotValid):
        verify_cosignature(scos, world.directory)


# ---------------------------------------------------------------- admission


def test_admit_a_cosignature_agreeing_with_what_we_hold(world: World) -> None:
    chain = world.chain(2)
    view = View({(AU, 2): chain[-1]})
    result = admit(world, cosign(world, chain[-1]), view=view)
    assert result.fresh and result.split_view is None


def test_the_same_cosignature_again_is_not_fresh(world: World) -> None:
    scos = cosign(world, world.chain(1)[0])
    assert not admit(world, scos, held=(scos,)).fresh


def test_a_cosignature_in_our_own_name_we_never_made_is_own_chain(world: World) -> None:
    scos = cosign(world, world.chain(1)[0])
    with pytest.raises(OwnChainForged, match="never made"):
        admit(world, scos, home=US)


def test_a_receipt_for_a_head_we_never_had_is_own_chain(world: World) -> None:
    ours = world.chain(1)[0]
    other = world.statement("au_old", body=b"another history")
    view = View({(AU, 1): other})
    with pytest.raises(OwnChainForged, match="never had"):
        admit(world, cosign(world, ours), view=view, home=AU)


def test_a_witness_cosigning_itself_is_refused(world: World) -> None:
    head = world.chain(1)[0]
    scos = sign_cosignature(world.signers["au_old"], checkpoint=world.checkpoint(head), witness=AU, time=W)
    with pytest.raises(RuleViolation, match="its own checkpoint") as info:
        admit(world, scos)
    assert info.value.rule == "witness.self"


def test_a_cosignature_dated_in_the_future_is_refused(world: World) -> None:
    scos = cosign(world, world.chain(1)[0], at=W + timedelta(hours=1))
    with pytest.raises(RuleViolation, match="after it was received") as info:
        admit(world, scos)
    assert info.value.rule == "time.future"


def test_a_cosignature_dated_before_its_checkpoint_is_refused(world: World) -> None:
    head = world.chain(1)[0]
    scos = cosign(world, head, at=head.header.issued_at - timedelta(hours=1))
    with pytest.raises(RuleViolation, match="before the checkpoint") as info:
        admit(world, scos)
    assert info.value.rule == "time.before_checkpoint"


# ---------------------------------------------------------------- split view (pure)


def _two_histories(world: World) -> tuple[Envelope, Envelope]:
    a = world.chain(2)[-1]
    b = world.chain(2, body_type="flag")[-1]
    assert a.seq == b.seq and a.digest != b.digest
    return a, b


def test_two_witnesses_disagreeing_are_a_split_view(world: World) -> None:
    a, b = _two_histories(world)
    by_us, by_nz = cosign(world, a, "us"), cosign(world, b, "nz")
    sv = split_view(by_nz, [by_us], None)
    assert sv is not None and sv.other == by_us and sv.issuer == AU and sv.seq == 2
    assert {c.checkpoint.head_digest for c in sv.checkpoints} == {a.digest, b.digest}
    assert "witnessed by NZ-CS" in sv.detail and "witnessed by US-CBP" in sv.detail


def test_a_cosigned_head_that_differs_from_ours_is_a_split_view(world: World) -> None:
    a, b = _two_histories(world)
    sv = split_view(cosign(world, b, "us"), [], a.digest)
    assert sv is not None and sv.other is None and sv.held_digest == a.digest
    assert "this gateway holds" in sv.detail


def test_agreement_is_no_split_view(world: World) -> None:
    a, _ = _two_histories(world)
    assert split_view(cosign(world, a, "nz"), [cosign(world, a, "us")], a.digest) is None
    assert split_view(cosign(world, a, "nz"), [], None) is None


def test_admission_reports_the_split_view(world: World) -> None:
    a, b = _two_histories(world)
    result = admit(world, cosign(world, b, "us"), view=View({(AU, 2): a}))
    assert result.fresh and result.split_view is not None


def test_times_are_utc(world: World) -> None:
    head = world.chain(1)[0]
    local = W.astimezone(__import__("datetime").timezone(timedelta(hours=10)))
    scos = sign_cosignature(world.signers["us"], checkpoint=world.checkpoint(head), witness=US, time=local)
    assert scos.cosignature.time == W and scos.cosignature.time.tzinfo is UTC
