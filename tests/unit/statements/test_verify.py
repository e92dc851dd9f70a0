"""verify_statement / statement_result: every refusal path, key rotation, and a signing round trip."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from borderx.errors import (
    BadSignature,
    BodyDigestMismatch,
    BodyTypeMismatch,
    IssuerMismatch,
    KeyNotValid,
    KeyRevoked,
    SignatureSetInvalid,
    UnknownIssuer,
    UnknownKey,
    VerificationError,
)
from borderx.statements.encoding import (
    decode_header,
    encode_header,
    envelope_from_wire,
    envelope_to_wire,
)
from borderx.statements.model import GENESIS_DIGEST, Envelope, Signature, SignedCheckpoint
from borderx.statements.signing import add_signature, sign_checkpoint
from borderx.statements.verify import (
    VerificationResult,
    checkpoint_result,
    statement_result,
    verify_checkpoint,
    verify_statement,
)

if TYPE_CHECKING:
    from conftest import World

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
JUNE = datetime(2026, 6, 15, tzinfo=UTC)  # inside the AU-ABF rotation overlap
AUGUST = datetime(2026, 8, 1, tzinfo=UTC)  # after the old AU-ABF key expired


def with_signatures(env: Envelope, *sigs: Signature) -> Envelope:
    return dataclasses.replace(env, signatures=tuple(sigs))


def test_a_good_statement_verifies(world: World) -> None:
    env = world.statement()
    verified = verify_statement(env, world.directory)
    assert verified.envelope is env
    assert verified.key_ids == (world.signers["au_old"].key_id,)
    assert verified.header == env.header
    assert verified.digest == env.digest
    assert verify_statement(env, world.directory, expected_body_type="designation").envelope is env


def test_a_redacted_statement_still_verifies(world: World) -> None:
    env = world.statement(audience=["US-CBP"]).redact()
    assert env.body is None
    verify_statement(env, world.directory)


def test_statement_result_reports_success(world: World) -> None:
    env = world.statement(signer="us")
    key_id = world.signers["us"].key_id
    assert statement_result(env, world.directory) == VerificationResult(
        ok=True, reason="ok", message=f"US-CBP seq 1 verified by key {key_id[:16]}…", key_id=key_id
    )


# ---------------------------------------------------------------- refusals


def test_unknown_issuer(world: World) -> None:
    env = world.statement(issuer="FR-DGDDI")
    with pytest.raises(UnknownIssuer, match=r"agency 'FR-DGDDI' is not in directory v1 of border5\.test"):
        verify_statement(env, world.directory)


def test_unknown_key(world: World) -> None:
    env = world.statement(signer="rogue")
    rogue = world.signers["rogue"].key_id
    with pytest.raises(UnknownKey, match=f"key id {rogue[:16]}… is not in directory v1"):
        verify_statement(env, world.directory)
    result = statement_result(env, world.directory)
    assert (result.ok, result.reason, result.key_id) == (False, "unknown_key", rogue)


def test_key_not_yet_valid(world: World) -> None:
    env = world.statement(signer="au_new", issued_at=T0)
    with pytest.raises(
        KeyNotValid,
        match="of AU-ABF is valid from 2026-06-01T00:00:00Z, statement issued 2026-03-02T09:30:00Z",
    ):
        verify_statement(env, world.directory)


def test_key_expired(world: World) -> None:
    env = world.statement(signer="au_old", issued_at=AUGUST)
    with pytest.raises(
        KeyNotValid, match="expired 2026-07-01T00:00:00Z, statement issued 2026-08-01T00:00:00Z"
    ):
        verify_statement(env, world.directory)
    # the window's end is exclusive
    at_end = world.statement(signer="au_old", issued_at=datetime(2026, 7, 1, tzinfo=UTC))
    with pytest.raises(KeyNotValid, match="expired"):
        verify_statement(at_end, world.directory)


def test_key_revoked_whatever_the_time(world: World) -> None:
    env = world.statement(signer="nz_revoked")
    with pytest.raises(KeyRevoked, match="of NZ-CS is revoked"):
        verify_statement(env, world.directory)
    assert statement_result(env, world.directory).reason == "key_revoked"


def test_bad_signature(world: World) -> None:
    env = world.statement()
    sig = env.signatures[0]
    flipped = bytes([sig.sig[0] ^ 1]) + sig.sig[1:]
    with pytest.raises(
        BadSignature, match=f"AU-ABF seq 1: signature by key {sig.key_id[:16]}… of AU-ABF does not verify$"
    ):
        verify_statement(with_signatures(env, Signature(sig.key_id, flipped)), world.directory)
    with pytest.raises(BadSignature, match=r"signature is 10 bytes, Ed25519 uses 64"):
        verify_statement(with_signatures(env, Signature(sig.key_id, b"0123456789")), world.directory)


def test_tampered_header_fails_the_signature(world: World) -> None:
    env = world.statement(seq=7, prev_digest=b"\x07" * 32)
    for change in ({"seq": 8}, {"audience": ("US-CBP",)}, {"issued_at": T0 + timedelta(seconds=1)}):
        header = dataclasses.replace(env.header, **change)
        forged_bytes = encode_header(header)
        forged = Envelope(forged_bytes, env.signatures, env.body, decode_header(forged_bytes))
        with pytest.raises(BadSignature, match="does not verify"):
            verify_statement(forged, world.directory)


def test_signature_by_the_wrong_key_labelled_as_the_issuers(world: World) -> None:
    env = world.statement(signer="rogue")
    relabelled = with_signatures(env, Signature(world.signers["au_old"].key_id, env.signatures[0].sig))
    with pytest.raises(BadSignature, match="does not verify"):
        verify_statement(relabelled, world.directory)


def test_body_digest_mismatch(world: World) -> None:
    env = dataclasses.replace(world.statement(body=b"the real body"), body=b"a swapped body")
    with pytest.raises(
        BodyDigestMismatch, match=r"AU-ABF seq 1: body has SHA-256 \w{16}…, the signed header says \w{16}…"
    ):
        verify_statement(env, world.directory)


def test_body_type_mismatch(world: World) -> None:
    env = world.statement(body_type="flag")
    with pytest.raises(BodyTypeMismatch, match="header says body_type flag, expected designation"):
        verify_statement(env, world.directory, expected_body_type="designation")


def test_no_signatures(world: World) -> None:
    with pytest.raises(
        SignatureSetInvalid, match="AU-ABF seq 1 carries no signatures; at least one key of AU-ABF"
    ):
        verify_statement(with_signatures(world.statement()), world.directory)


def test_duplicate_signatures(world: World) -> None:
    env = world.statement()
    with pytest.raises(SignatureSetInvalid, match="signed more than once by key"):
        verify_statement(with_signatures(env, env.signatures[0], env.signatures[0]), world.directory)


def test_too_many_signatures(world: World) -> None:
    env = world.statement()
    sigs = [Signature(f"{i:064x}", b"x" * 64) for i in range(9)]
    with pytest.raises(SignatureSetInvalid, match="carries 9 signatures, the limit is 8"):
        verify_statement(with_signatures(env, *sigs), world.directory)


def test_extra_signature_by_another_agencys_key(world: World) -> None:
    env = add_signature(world.statement(), world.signers["us"])
    us = world.signers["us"].key_id
    with pytest.raises(IssuerMismatch, match=f"header says AU-ABF but key {us[:16]}… belongs to US-CBP"):
        verify_statement(env, world.directory)
    result = statement_result(env, world.directory)
    assert (result.ok, result.reason, result.key_id) == (False, "issuer_mismatch", us)


def test_issuer_is_not_the_key_owner(world: World) -> None:
    # US-CBP's key signing a statement that claims to be AU-ABF's
    env = world.statement(signer="us", issuer="AU-ABF")
    with pytest.raises(IssuerMismatch, match=r"header says AU-ABF but key .* belongs to US-CBP"):
        verify_statement(env, world.directory)


def test_an_unknown_extra_signature_is_refused_not_ignored(world: World) -> None:
    env = add_signature(world.statement(), world.signers["rogue"])
    with pytest.raises(UnknownKey):
        verify_statement(env, world.directory)


def test_one_bad_signature_among_good_ones_fails(world: World) -> None:
    env = add_signature(world.statement(signer="au_new", issued_at=JUNE), world.signers["au_old"])
    bad = Signature(env.signatures[1].key_id, bytes(64))
    with pytest.raises(BadSignature):
        verify_statement(with_signatures(env, env.signatures[0], bad), world.directory)


# ---------------------------------------------------------------- rotation


def test_key_rotation_by_overlapping_windows(world: World) -> None:
    directory = world.directory
    old, new = world.signers["au_old"].key_id, world.signers["au_new"].key_id
    # before the overlap: only the old key
    assert verify_statement(world.statement(signer="au_old", issued_at=T0), directory).key_ids == (old,)
    # in the overlap: either key, or both
    assert verify_statement(world.statement(signer="au_old", issued_at=JUNE), directory).key_ids == (old,)
    assert verify_statement(world.statement(signer="au_new", issued_at=JUNE), directory).key_ids == (new,)
    both = add_signature(world.statement(signer="au_new", issued_at=JUNE), world.signers["au_old"])
    assert verify_statement(both, directory).key_ids == (new, old)
    # after the old key expired: the new key only; a co-signature by the expired key fails
    assert verify_statement(world.statement(signer="au_new", issued_at=AUGUST), directory).key_ids == (new,)
    late = add_signature(world.statement(signer="au_new", issued_at=AUGUST), world.signers["au_old"])
    with pytest.raises(KeyNotValid, match="expired 2026-07-01"):
        verify_statement(late, directory)
    # a statement issued in the old key's window stays valid after the window closed
    env = world.statement(signer="au_old", issued_at=T0)
    assert statement_result(env, directory).ok


# ---------------------------------------------------------------- checkpoints


def test_checkpoint_verification(world: World) -> None:
    env = world.statement()
    scp = world.checkpoint(env)
    assert verify_checkpoint(scp, world.directory).checkpoint == scp.checkpoint
    assert checkpoint_result(scp, world.directory).ok

    forged = dataclasses.replace(scp, signatures=(Signature(scp.signatures[0].key_id, bytes(64)),))
    with pytest.raises(BadSignature, match=r"checkpoint of AU-ABF at seq 1 .*does not verify"):
        verify_checkpoint(forged, world.directory)
    assert checkpoint_result(forged, world.directory).reason == "bad_signature"

    by_us = sign_checkpoint(world.signers["us"], issuer="AU-ABF", seq=1, head_digest=env.digest, time=T0)
    with pytest.raises(IssuerMismatch, match=r"header says AU-ABF but key .* belongs to US-CBP"):
        verify_checkpoint(by_us, world.directory)

    expired = sign_checkpoint(
        world.signers["au_old"], issuer="AU-ABF", seq=1, head_digest=env.digest, time=AUGUST
    )
    with pytest.raises(KeyNotValid, match="expired"):
        verify_checkpoint(expired, world.directory)


def test_a_statement_signature_is_not_a_checkpoint_signature(world: World) -> None:
    # PAE binds the payload type: the same key's signature over a statement header
    # cannot be presented as a checkpoint signature, even over identical bytes
    env = world.statement()
    scp = world.checkpoint(env)
    statement_sig = env.signatures[0]
    swapped = SignedCheckpoint(scp.checkpoint_bytes, (statement_sig,), scp.checkpoint)
    with pytest.raises(BadSignature):
        verify_checkpoint(swapped, world.directory)


# ---------------------------------------------------------------- round trip


agency_ids = st.sampled_from(["US-CBP", "NZ-CS", "CA-CBSA", "GB-HMRC", "AU-ABF", "JP-CUSTOMS"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(min_size=1, max_size=2048),
    audience=st.lists(agency_ids, unique=True, max_size=5),
    seq=st.integers(min_value=1, max_value=2**64 - 1),
    prev=st.binary(min_size=32, max_size=32),
    offset=st.integers(min_value=0, max_value=100 * 86400 * 10**6),
    body_type=st.sampled_from(["designation", "flag", "withdrawal"]),
)
def test_sign_then_verify_round_trip(
    world: World, body: bytes, audience: list[str], seq: int, prev: bytes, offset: int, body_type: str
) -> None:
    issued_at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(microseconds=offset)
    signer = "au_old" if issued_at < datetime(2026, 7, 1, tzinfo=UTC) else "au_new"
    env = world.statement(
        signer,
        seq=seq,
        prev_digest=GENESIS_DIGEST if seq == 1 else prev,
        issued_at=issued_at,
        audience=audience,
        body_type=body_type,
        body=body,
    )
    received = envelope_from_wire(envelope_to_wire(env))
    assert received == env
    assert received.header.issued_at == issued_at
    assert received.header.audience == tuple(audience)
    verify_statement(received, world.directory, expected_body_type=body_type)
    verify_statement(received.redact(), world.directory)
    # and any single-byte change to the header bytes is refused, one way or another
    i = seq % len(received.header_bytes)
    mutated = bytearray(received.header_bytes)
    mutated[i] ^= 0x01
    assert not statement_from_bytes_verifies(bytes(mutated), received, world)


def statement_from_bytes_verifies(header_bytes: bytes, like: Envelope, world: World) -> bool:
    try:
        header = decode_header(header_bytes)
    except VerificationError:
        return False
    return statement_result(Envelope(header_bytes, like.signatures, like.body, header), world.directory).ok
