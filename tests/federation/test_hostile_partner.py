"""A hostile partner that signs correctly: every rule of the one admission path holds at a receiver.

Each test runs a real victim gateway whose only peer is a fake partner gateway (that
partner's real certificate) serving statements signed with real keys of the test PKI.
Nothing here fails a signature check: each statement verifies, and each must still be
kept as evidence only (never screened), refused, or raised as the loudest alarm.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest

from borderx._proto.borderx.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    statement_pb2,
)
from borderx.statements.bodies import (
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Party,
    PartyId,
    StatementRef,
    Withdrawal,
    WithdrawalReason,
)
from borderx.statements.body_codec import flag_to_proto
from borderx.statements.model import Signature
from tests.conftest import GatewayThread, channel, creds_for
from tests.federation.hostile import Signs, World, wait, world
from tests.integration.helpers import designation, flag, platform

US, AU, NZ = "US-CBP", "AU-ABF", "NZ-CS"


@pytest.fixture
def w(pki: Path, tmp_path: Path) -> Iterator[World]:
    yield from world(pki, tmp_path)


def screen(pki: Path, gw: GatewayThread, *parties: PartyId) -> list[exchange_pb2.ScreeningResult]:
    agency = gw.config.agency
    shipments = [
        exchange_pb2.Shipment(
            reference=p.value, shipper_ids=[statement_pb2.PartyId(scheme=p.scheme, value=p.value)]
        )
        for p in parties
    ]
    with channel(gw.target, creds_for(pki, agency, "service", server_agency=agency)) as ch:
        reply = exchange_pb2_grpc.ExchangeStub(ch).Screen(
            exchange_pb2.ScreenRequest(shipments=shipments), timeout=10
        )
    return list(reply.results)


def lookup(pki: Path, gw: GatewayThread, party: PartyId) -> list[exchange_pb2.LookupEntry]:
    agency = gw.config.agency
    with channel(gw.target, creds_for(pki, agency, "service", server_agency=agency)) as ch:
        reply = exchange_pb2_grpc.ExchangeStub(ch).Lookup(
            exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme=party.scheme, value=party.value)),
            timeout=10,
        )
    return list(reply.entries)


def alarms(gw: GatewayThread, kind: str) -> list[str]:
    return [a.detail for a in gw.gateway.store.alarms() if a.kind == kind]


def held(gw: GatewayThread, issuer: str) -> int:
    head = gw.gateway.store.head(issuer)
    return head.seq if head else 0


# ---------------------------------------------------------------- defect 1: rules at every door


def test_a_designation_in_a_programme_the_issuer_does_not_own_is_evidence_never_expedite(
    w: World, pki: Path
) -> None:
    au = w.peer(AU)
    chain = Signs(pki, AU)
    trader = platform("ctpat-by-au")
    ctpat = Designation(
        party=Party(legal_name="Trader", ids=(trader,)),
        programme="CTPAT",
        member_id="M-1",
        level="CTPAT_TIER_3",
        status=DesignationStatus.CERTIFIED,
        consent_to_share=True,
    )
    au.send(chain.next(ctpat))
    us = w.victim(US, au)
    wait(lambda: alarms(us, "rule_violation"))
    # the statement is part of AU-ABF's chain, so it is held, but as evidence only
    assert held(us, AU) == 1
    [detail] = alarms(us, "rule_violation")
    assert "AU-ABF seq 1" in detail and "body.programme_owner" in detail and "only US-CBP" in detail
    [violation] = us.gateway.store.violations()
    assert violation.key == (AU, 1) and violation.violation and "programme_owner" in violation.violation
    [result] = screen(pki, us, trader)
    assert result.recommendation != exchange_pb2.EXPEDITE and not result.designations
    assert lookup(pki, us, trader) == []


def _unknown_enum_flag(subject: PartyId) -> bytes:
    msg = flag_to_proto(flag((subject,), FlagCategory.IPR_COUNTERFEIT, Evidence.CONFIRMED))
    msg.category = 999  # a value no gateway knows: decodes at the protobuf level, not in the model
    return msg.SerializeToString(deterministic=True)


def test_one_undecodable_signed_flag_never_fails_a_screen_batch(w: World, pki: Path) -> None:
    nz = w.peer(NZ)
    chain = Signs(pki, NZ)
    poisoned, counterfeiter = platform("poison"), platform("counterfeiter")
    nz.send(
        chain.next(raw=("flag", _unknown_enum_flag(poisoned))),
        chain.next(flag((counterfeiter,), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED)),
    )
    au = w.victim(AU, nz)
    wait(lambda: held(au, NZ) == 2 and alarms(au, "rule_violation"))
    assert any("body.decode" in d for d in alarms(au, "rule_violation"))
    results = {r.reference: r for r in screen(pki, au, poisoned, counterfeiter)}
    assert results[counterfeiter.value].recommendation == exchange_pb2.HOLD
    assert not results[poisoned.value].flags
    assert lookup(pki, au, poisoned) == []


# ---------------------------------------------------------------- defect 2: time is not the signer's word


def test_a_backdated_withdrawal_erases_nothing(w: World, pki: Path) -> None:
    nz = w.peer(NZ)
    chain = Signs(pki, NZ)
    seller = platform("hold-me")
    start = datetime.now(UTC) - timedelta(hours=1)
    chain.next(flag((seller,), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED), issued_at=start)
    # the issuer's heartbeat: at this time its head was seq 1
    heartbeat = chain.checkpoint(at=start + timedelta(minutes=30))
    # a withdrawal dated back to before the heartbeat (as a retired key would date it)
    chain.next(
        Withdrawal(target=StatementRef(NZ, 1), reason=WithdrawalReason.ISSUED_IN_ERROR, effective_at=start),
        issued_at=start + timedelta(minutes=10),
    )
    nz.send(chain.envs[0], heartbeat, chain.envs[1])
    au = w.victim(AU, nz)
    wait(lambda: held(au, NZ) == 2 and alarms(au, "rule_violation"))
    [detail] = alarms(au, "rule_violation")
    assert "NZ-CS seq 2" in detail and "time.before_predecessor" in detail and "checkpoint" in detail
    [result] = screen(pki, au, seller)
    assert result.recommendation == exchange_pb2.HOLD


def test_statements_and_checkpoints_dated_in_the_future_change_nothing(w: World, pki: Path) -> None:
    nz = w.peer(NZ)
    chain = Signs(pki, NZ)
    seller = platform("from-the-future")
    nz.send(chain.next(flag((seller,), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED)))
    nz.send(chain.checkpoint(at=datetime.now(UTC) + timedelta(days=700)))
    nz.send(chain.next(flag((platform("later"),), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED),
                       issued_at=datetime.now(UTC) + timedelta(days=365)))  # fmt: skip
    au = w.victim(AU, nz)
    wait(lambda: held(au, NZ) == 2 and alarms(au, "checkpoint_refused") and alarms(au, "rule_violation"))
    assert "time.future" in alarms(au, "checkpoint_refused")[0]
    # the future checkpoint never pinned "latest": freshness is not faked
    assert au.gateway.store.checkpoint(NZ) is None
    assert any("NZ-CS seq 2" in d and "time.future" in d for d in alarms(au, "rule_violation"))
    assert not screen(pki, au, platform("later"))[0].flags
    assert screen(pki, au, seller)[0].recommendation == exchange_pb2.HOLD


# ---------------------------------------------------------------- defect 3: our own chain is ours


def test_statements_in_our_own_name_from_a_peer_are_never_adopted(w: World, pki: Path) -> None:
    nz = w.peer(NZ)
    stolen = Signs(pki, AU)  # AU-ABF's key, leaked
    forged = stolen.next(flag((platform("framed"),), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED))
    nz.send(forged, stolen.checkpoint())
    au = w.victim(AU, nz)
    # the statement and the checkpoint each leave evidence; the alarm is one per peer, counted
    # (each is kept before its alarm is counted: wait for both, or the read races the count)
    wait(
        lambda: (
            len(au.gateway.store.evidence()) >= 2
            and any(a.kind == "own_chain" and a.count >= 2 for a in au.gateway.store.alarms())
        )
    )
    assert held(au, AU) == 0
    [alarm] = [a for a in au.gateway.store.alarms() if a.kind == "own_chain"]
    assert alarm.count >= 2 and alarm.peer == NZ and "AU-ABF's signing key may be compromised" in alarm.detail
    kinds = {(e.kind, e.issuer, e.seq) for e in au.gateway.store.evidence()}
    assert ("own_chain", AU, 1) in kinds
    [proof] = [e for e in au.gateway.store.evidence() if e.envelopes]
    assert proof.envelopes[0].header_bytes == forged.header_bytes and proof.envelopes[0].body is None
    assert AU not in au.gateway.store.suspended_issuers()
    assert au.gateway.store.checkpoint(AU) is None


# ---------------------------------------------------------------- defect 4: every signature is checked


def test_a_bad_signature_under_a_valid_checkpoint_is_never_verified_relayed_or_exported(
    w: World, pki: Path
) -> None:
    nz = w.peer(NZ)
    chain = Signs(pki, NZ)
    for i in range(3):
        chain.next(flag((platform(f"bulk{i}"),), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED))
    bad = chain.envs[1]
    garbage = dataclasses.replace(bad, signatures=(Signature(bad.signatures[0].key_id, bytes(64)),))
    envs = [chain.envs[0], garbage, chain.envs[2]]
    # the issuer's own checkpoint commits to the garbage signature bytes
    nz.send(chain.checkpoint(envs=envs))
    nz.send_batch(envs)
    au = w.victim(AU, nz)
    # admitted on the checkpoint's authority, then every signature is checked off the hot path
    wait(lambda: alarms(au, "bad_signature"))
    store = au.gateway.store
    assert held(au, NZ) == 3
    refused = store.get(NZ, 2)
    assert refused is not None and not refused.verified and refused.violation
    assert store.get(NZ, 1).verified and store.get(NZ, 3).verified  # type: ignore[union-attr]
    # evidence against the issuer (its checkpoint vouched for the bytes), which is suspended
    proof = [e for e in store.evidence() if e.kind == "bad_signature"]
    assert [(e.issuer, e.seq) for e in proof] == [(NZ, 2)]
    assert proof[0].checkpoints and proof[0].envelopes[0].signatures[0].sig == bytes(64)
    assert NZ in store.suspended_issuers()
    # never screened, never relayed, never exported
    assert not screen(pki, au, platform("bulk1"))[0].flags
    assert store.verified_heads()[NZ] == 1
    with channel(au.target, creds_for(pki, AU, "operator", server_agency=AU)) as ch:
        exported = list(
            admin_pb2_grpc.AdminStub(ch).ExportStatements(admin_pb2.ExportStatementsRequest(issuers=[NZ]))
        )
    assert len(exported) == 1
    with channel(au.target, creds_for(pki, US, "gateway", server_agency=AU)) as ch:
        stream = exchange_pb2_grpc.ExchangeStub(ch).Subscribe(
            exchange_pb2.SubscribeRequest(issuers=[NZ]), timeout=10
        )
        served = [e for e in stream if e.WhichOneof("event") in ("statement", "batch")]
    assert [e.WhichOneof("event") for e in served] == ["statement"]


def test_a_checkpoint_naming_another_head_than_the_issuer_signed_is_kept_and_suspends(
    w: World, pki: Path
) -> None:
    # NZ signs three statements and checkpoints them, then signs a checkpoint at seq 3 over
    # a different history: two signed claims about one (issuer, seq)
    nz = w.peer(NZ)
    honest, forked = Signs(pki, NZ), Signs(pki, NZ)
    for i in range(3):
        honest.next(flag((platform(f"h-{i}"),), FlagCategory.IPR_COUNTERFEIT, Evidence.CONFIRMED))
        forked.next(flag((platform(f"f-{i}"),), FlagCategory.UNDERVALUATION, Evidence.SUSPECTED))
    nz.send_batch(honest.envs)
    nz.send(honest.checkpoint(), forked.checkpoint())
    au = w.victim(AU, nz)
    wait(lambda: alarms(au, "equivocation"))
    store = au.gateway.store
    # the proof and the suspension are one write: whoever sees one sees the other
    [proof] = [e for e in store.evidence() if e.kind == "checkpoint_equivocation"]
    assert NZ in store.suspended_issuers()
    assert (proof.issuer, proof.seq) == (NZ, 3)
    # both signed checkpoints, the contradicting one first, and the header we hold there
    assert [c.checkpoint.head_digest for c in proof.checkpoints] == [
        forked.envs[-1].digest,
        honest.envs[-1].digest,
    ]
    assert [e.header_bytes for e in proof.envelopes] == [honest.envs[-1].header_bytes]
    assert all(e.body is None for e in proof.envelopes)  # headers only: exportable to anyone
    with channel(au.target, creds_for(pki, AU, "operator", server_agency=AU)) as ch:
        reply = admin_pb2_grpc.AdminStub(ch).ExportEvidence(admin_pb2.ExportEvidenceRequest(), timeout=10)
    assert [(e.issuer, e.seq) for e in reply.evidence if e.kind == "checkpoint_equivocation"] == [(NZ, 3)]


# ---------------------------------------------------------------- defect 5: equivocation evidence


def test_an_equivocating_pair_in_one_stream_is_equivocation_kept_redacted(
    w: World, pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nz = w.peer(NZ)
    chain = Signs(pki, NZ)
    one = chain.next(flag((platform("a"),), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED))
    other = Signs(pki, NZ).next(
        flag((platform("secret"),), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED), audience=(US,)
    )
    nz.send_batch([one, other])
    au = w.victim(AU, nz)
    wait(lambda: alarms(au, "equivocation"))
    assert not alarms(au, "bad_message")
    [evidence] = au.gateway.store.equivocations()
    assert evidence.held.body is None and evidence.conflicting.body is None
    assert evidence.conflicting.header_bytes == other.header_bytes
    assert NZ in au.gateway.store.suspended_issuers()
    with channel(au.target, creds_for(pki, AU, "operator", server_agency=AU)) as ch:
        reply = admin_pb2_grpc.AdminStub(ch).ExportEvidence(admin_pb2.ExportEvidenceRequest(), timeout=10)
    [item] = [e for e in reply.evidence if e.kind == "equivocation"]
    assert item.issuer == NZ and item.seq == 1 and len(item.statements) == 2
    assert all(not s.body for s in item.statements)
    # the same through the CLI, as an operator hands it to partners
    from borderx.cli import main

    args = ["--target", au.target, "--pki", str(pki), "--agency", AU, "--output", "json"]
    assert main(["admin", "evidence", "--issuer", NZ, *args]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [e["kind"] for e in printed["evidence"]] == ["equivocation"]


# ---------------------------------------------------------------- defect 6: retirements read no wider


def test_a_withdrawal_wider_than_its_target_is_evidence_only(w: World, pki: Path) -> None:
    nz = w.peer(NZ)
    chain = Signs(pki, NZ)
    seller = platform("restricted")
    chain.next(flag((seller,), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED), audience=(AU,))
    chain.next(
        Withdrawal(target=StatementRef(NZ, 1), reason=WithdrawalReason.OVERTURNED_ON_APPEAL, note="appeal")
    )
    nz.send(*chain.envs)
    au = w.victim(AU, nz)
    wait(lambda: held(au, NZ) == 2 and alarms(au, "rule_violation"))
    assert any("audience.wider_than_target" in d for d in alarms(au, "rule_violation"))
    assert screen(pki, au, seller)[0].recommendation == exchange_pb2.HOLD


# ---------------------------------------------------------------- defect 7: memberships


def test_one_current_designation_per_membership_and_revoked_is_final(w: World, pki: Path) -> None:
    nz = w.peer(NZ)
    chain = Signs(pki, NZ)
    trader = platform("member")
    chain.next(designation(NZ, (trader,)))
    chain.next(designation(NZ, (trader,)))  # a renewal, without naming what it supersedes
    chain.next(designation(NZ, (trader,), status=DesignationStatus.REVOKED))  # as `borderx import` sends it
    chain.next(designation(NZ, (trader,)))  # CERTIFIED after REVOKED: never
    nz.send(*chain.envs)
    au = w.victim(AU, nz)
    wait(lambda: held(au, NZ) == 4 and alarms(au, "rule_violation"))
    [detail] = alarms(au, "rule_violation")
    assert (
        "NZ-CS seq 4" in detail and "membership.status_transition" in detail and "REVOKED is final" in detail
    )
    entries = lookup(pki, au, trader)
    assert [e.provenance.seq for e in entries] == [3]
    [result] = screen(pki, au, trader)
    assert result.recommendation != exchange_pb2.EXPEDITE
    assert au.gateway.store.membership(NZ, "NZ_SES", "M-member") == (3, "REVOKED")


def test_publish_refuses_what_a_partner_would_keep_as_evidence(w: World, pki: Path) -> None:
    from tests.conftest import gateway_config

    nz = GatewayThread(gateway_config(pki, NZ, w.tmp_path))
    w.gateways.append(nz)
    trader = platform("published")
    with channel(nz.target, creds_for(pki, NZ, "service", server_agency=NZ)) as ch:
        stub = exchange_pb2_grpc.ExchangeStub(ch)

        def publish(body: object, audience: tuple[str, ...] = ()) -> exchange_pb2.PublishResponse:
            from borderx.statements.body_codec import body_to_proto

            draft = exchange_pb2.Draft(audience=list(audience))
            getattr(draft, type(body).__name__.lower().replace("violationflag", "flag")).CopyFrom(
                body_to_proto(body)
            )
            return stub.Publish(
                exchange_pb2.PublishRequest(items=[exchange_pb2.PublishItem(draft=draft)]), timeout=10
            )

        publish(flag((trader,), FlagCategory.IPR_COUNTERFEIT, Evidence.ADJUDICATED), (AU,))
        with pytest.raises(grpc.RpcError) as wider:
            publish(Withdrawal(target=StatementRef(NZ, 1), reason=WithdrawalReason.ISSUED_IN_ERROR))
        assert wider.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "reads wider than NZ-CS#1" in wider.value.details()
        publish(designation(NZ, (trader,), status=DesignationStatus.REVOKED))
        with pytest.raises(grpc.RpcError) as revived:
            publish(designation(NZ, (trader,)))
        assert revived.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "items[0].draft.designation.status" in revived.value.details()
        assert "REVOKED is final" in revived.value.details()
    assert nz.gateway.store.head(NZ).seq == 2  # type: ignore[union-attr]
