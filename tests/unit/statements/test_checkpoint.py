"""Bulk verification by checkpoint: a true run passes; an altered, dropped or reordered statement fails."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from borderx.errors import (
    BadSignature,
    BodyDigestMismatch,
    ChainError,
    ChainGap,
    Equivocation,
    IssuerMismatch,
    KeyNotValid,
    KeyRevoked,
    PrevDigestMismatch,
    SignatureSetInvalid,
    UnknownKey,
)
from borderx.statements.chain import ChainHead, Outcome, check_extends
from borderx.statements.checkpoints import verify_run
from borderx.statements.encoding import decode_header, encode_header
from borderx.statements.model import Envelope, Signature
from borderx.statements.signing import sign_checkpoint
from borderx.statements.verify import verify_statement

if TYPE_CHECKING:
    from conftest import World

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def run(world: World) -> list[Envelope]:
    return world.chain(10)


def test_a_true_run_is_accepted_from_genesis(world: World, run: list[Envelope]) -> None:
    out = verify_run(world.checkpoint(run[-1]), run, directory=world.directory, start=None)
    assert out == run
    # and the result agrees with one-by-one verification and the chain rules
    head = None
    for env in out:
        assert check_extends(head, env, held_digest=lambda issuer, seq: None) is Outcome.ACCEPT
        head = ChainHead.of(env)
        verify_statement(env, world.directory)


def test_a_true_run_is_accepted_from_a_held_head(world: World, run: list[Envelope]) -> None:
    start = ChainHead.of(run[3])
    assert verify_run(world.checkpoint(run[-1]), run[4:], directory=world.directory, start=start) == run[4:]


def test_redacted_statements_pass(world: World, run: list[Envelope]) -> None:
    redacted = [env.redact() for env in run]
    assert verify_run(world.checkpoint(run[-1]), redacted, directory=world.directory, start=None) == redacted


def test_an_empty_run_confirms_a_held_head(world: World, run: list[Envelope]) -> None:
    assert (
        verify_run(world.checkpoint(run[-1]), [], directory=world.directory, start=ChainHead.of(run[-1]))
        == []
    )


def test_an_empty_run_under_a_different_head_is_equivocation(world: World, run: list[Envelope]) -> None:
    other = world.chain(3, start=run[5], body_type="flag")  # a second seq 7..9 branching after seq 6
    scp = world.checkpoint(other[-1])
    with pytest.raises(Equivocation, match="equivocation at seq 9"):
        verify_run(scp, [], directory=world.directory, start=ChainHead.of(run[8]))


def resigned(world: World, env: Envelope, **change: Any) -> Envelope:
    """``env`` with its header changed and validly re-signed by the issuer's key (a forged history)."""
    header = dataclasses.replace(env.header, **change)
    return world.statement(
        seq=header.seq,
        prev_digest=header.prev_digest,
        issued_at=header.issued_at,
        audience=header.audience,
        body_type=header.body_type,
        body=env.body or b"x",
    )


def test_an_altered_header_is_refused_at_the_next_link(world: World, run: list[Envelope]) -> None:
    altered = list(run)
    altered[4] = resigned(world, run[4], issued_at=run[4].header.issued_at + timedelta(seconds=1))
    with pytest.raises(
        PrevDigestMismatch,
        match=r"AU-ABF seq 6: prev_digest .* does not match the header at seq 5 .*; seq 5 or 6 was altered",
    ):
        verify_run(world.checkpoint(run[-1]), altered, directory=world.directory, start=None)


def test_an_altered_last_header_is_refused_against_the_checkpoint(world: World, run: list[Envelope]) -> None:
    altered = [*run[:-1], resigned(world, run[-1], audience=("US-CBP",))]
    with pytest.raises(
        PrevDigestMismatch, match=r"the header at seq 10 has digest .*, the checkpoint signed head"
    ):
        verify_run(world.checkpoint(run[-1]), altered, directory=world.directory, start=None)


def test_header_bytes_swapped_under_the_same_signatures_are_refused(
    world: World, run: list[Envelope]
) -> None:
    header = dataclasses.replace(run[2].header, body_type="flag")
    data = encode_header(header)
    altered = list(run)
    altered[2] = Envelope(data, run[2].signatures, run[2].body, decode_header(data))
    with pytest.raises(PrevDigestMismatch, match="seq 3 or 4 was altered"):
        verify_run(world.checkpoint(run[-1]), altered, directory=world.directory, start=None)


def test_an_altered_body_is_refused(world: World, run: list[Envelope]) -> None:
    altered = list(run)
    altered[3] = dataclasses.replace(run[3], body=b"not what was signed")
    with pytest.raises(BodyDigestMismatch, match="AU-ABF seq 4: body has SHA-256"):
        verify_run(world.checkpoint(run[-1]), altered, directory=world.directory, start=None)


def test_a_dropped_statement_is_refused(world: World, run: list[Envelope]) -> None:
    with pytest.raises(ChainGap, match=r"missing seq 4..4"):
        verify_run(world.checkpoint(run[-1]), run[:3] + run[4:], directory=world.directory, start=None)
    with pytest.raises(
        ChainError, match=r"run ends at seq 9 but the checkpoint is at seq 10; missing seq 10..10"
    ):
        verify_run(world.checkpoint(run[-1]), run[:-1], directory=world.directory, start=None)


def test_reordered_statements_are_refused(world: World, run: list[Envelope]) -> None:
    swapped = list(run)
    swapped[5], swapped[6] = swapped[6], swapped[5]
    with pytest.raises(ChainGap, match=r"holding seq 5, received seq 7; missing seq 6..6"):
        verify_run(world.checkpoint(run[-1]), swapped, directory=world.directory, start=None)
    with pytest.raises(ChainError, match="run out of order, expected seq 2, got seq 1"):
        verify_run(
            world.checkpoint(run[-1]), [run[0], run[0], *run[2:]], directory=world.directory, start=None
        )


def test_a_wrong_head_is_refused(world: World, run: list[Envelope]) -> None:
    other = world.chain(10, body_type="flag")  # another chain of the same issuer, same length
    with pytest.raises(PrevDigestMismatch, match="the checkpoint signed head"):
        verify_run(world.checkpoint(other[-1]), run, directory=world.directory, start=None)
    # a run that does not start from the held head
    with pytest.raises(PrevDigestMismatch, match="seq 5: prev_digest"):
        verify_run(
            world.checkpoint(run[-1]), run[4:], directory=world.directory, start=ChainHead.of(other[3])
        )


def test_a_forged_checkpoint_is_refused(world: World, run: list[Envelope]) -> None:
    scp = world.checkpoint(run[-1])
    forged = dataclasses.replace(scp, signatures=(Signature(scp.signatures[0].key_id, bytes(64)),))
    with pytest.raises(BadSignature, match="checkpoint of AU-ABF at seq 10"):
        verify_run(forged, run, directory=world.directory, start=None)
    by_other = sign_checkpoint(
        world.signers["us"], issuer="AU-ABF", seq=10, head_digest=run[-1].digest, time=T0 + timedelta(hours=1)
    )
    with pytest.raises(IssuerMismatch):
        verify_run(by_other, run, directory=world.directory, start=None)


def test_the_run_must_be_the_checkpoint_issuers(world: World, run: list[Envelope]) -> None:
    us = world.chain(10, signer="us")
    with pytest.raises(IssuerMismatch, match="run position for AU-ABF seq 1 holds a statement of US-CBP"):
        verify_run(world.checkpoint(run[-1]), us, directory=world.directory, start=None)
    with pytest.raises(IssuerMismatch, match="checkpoint of AU-ABF applied to the chain head of US-CBP"):
        verify_run(world.checkpoint(run[-1]), run[4:], directory=world.directory, start=ChainHead.of(us[3]))


def test_runs_past_or_behind_the_checkpoint_are_refused(world: World, run: list[Envelope]) -> None:
    with pytest.raises(
        ChainError, match="run holds 10 statements after seq 0, the checkpoint covers only up to seq 9"
    ):
        verify_run(world.checkpoint(run[8]), run, directory=world.directory, start=None)
    with pytest.raises(ChainError, match="checkpoint at seq 3 is behind the held head at seq 5"):
        verify_run(world.checkpoint(run[2]), [], directory=world.directory, start=ChainHead.of(run[4]))


def with_sigs(env: Envelope, *sigs: Signature) -> Envelope:
    return dataclasses.replace(env, signatures=tuple(sigs))


def test_signature_sets_and_key_windows_are_still_checked(world: World, run: list[Envelope]) -> None:
    scp = world.checkpoint(run[-1])
    sig = run[2].signatures[0]

    def broken(env: Envelope) -> list[Envelope]:
        out = list(run)
        out[2] = env
        return out

    with pytest.raises(SignatureSetInvalid, match=r"AU-ABF seq 3 carries 0 signatures, expected 1\.\.8"):
        verify_run(scp, broken(with_sigs(run[2])), directory=world.directory, start=None)
    with pytest.raises(SignatureSetInvalid, match="AU-ABF seq 3 is signed more than once"):
        verify_run(scp, broken(with_sigs(run[2], sig, sig)), directory=world.directory, start=None)
    with pytest.raises(UnknownKey):
        verify_run(
            scp,
            broken(with_sigs(run[2], Signature("ab" * 32, sig.sig))),
            directory=world.directory,
            start=None,
        )
    us = world.signers["us"].key_id
    with pytest.raises(
        IssuerMismatch, match=f"AU-ABF seq 3: header says AU-ABF but key {us[:16]}… belongs to US-CBP"
    ):
        verify_run(
            scp, broken(with_sigs(run[2], Signature(us, sig.sig))), directory=world.directory, start=None
        )
    # the new AU-ABF key was not yet valid when seq 3 was issued
    new = world.signers["au_new"].key_id
    with pytest.raises(KeyNotValid, match="is valid from 2026-06-01"):
        verify_run(
            scp, broken(with_sigs(run[2], Signature(new, sig.sig))), directory=world.directory, start=None
        )


def test_a_revoked_key_in_the_run_is_refused(world: World) -> None:
    nz_run = world.chain(3, signer="nz")
    nz_revoked = world.signers["nz_revoked"].key_id
    nz_run[1] = with_sigs(nz_run[1], Signature(nz_revoked, nz_run[1].signatures[0].sig))
    with pytest.raises(KeyRevoked, match="of NZ-CS is revoked"):
        verify_run(world.checkpoint(nz_run[-1], signer="nz"), nz_run, directory=world.directory, start=None)


def test_corrupted_signature_bytes_are_caught_by_the_signatures_digest(
    world: World, run: list[Envelope]
) -> None:
    # the header chain does not cover signature bytes; the checkpoint's rolling
    # signatures digest does, so a relay that corrupts one is caught by hashing alone
    from borderx.statements.checkpoints import GENESIS_SIGNATURES, roll_signatures
    from borderx.statements.signing import sign_checkpoint

    head = run[-1]
    committed = sign_checkpoint(
        world.signers["au_old"],
        issuer=head.issuer,
        seq=head.seq,
        head_digest=head.digest,
        time=head.header.issued_at + timedelta(minutes=1),
        signatures_digest=roll_signatures(GENESIS_SIGNATURES, run),
    )
    assert verify_run(committed, run, directory=world.directory, start=None) == run
    corrupted = list(run)
    corrupted[1] = with_sigs(run[1], Signature(run[1].signatures[0].key_id, bytes(64)))
    with pytest.raises(BadSignature, match="a relay altered them"):
        verify_run(committed, corrupted, directory=world.directory, start=None)
    # mid-chain start with an unknown rolling digest: every signature is verified instead
    with pytest.raises(BadSignature, match="does not verify"):
        verify_run(committed, corrupted[1:], directory=world.directory, start=ChainHead.of(run[0]))


def test_without_a_signatures_commitment_each_signature_is_verified(
    world: World, run: list[Envelope]
) -> None:
    corrupted = list(run)
    corrupted[1] = with_sigs(run[1], Signature(run[1].signatures[0].key_id, bytes(64)))
    with pytest.raises(BadSignature):
        verify_run(world.checkpoint(run[-1]), corrupted, directory=world.directory, start=None)
    with pytest.raises(BadSignature):
        verify_statement(corrupted[1], world.directory)
