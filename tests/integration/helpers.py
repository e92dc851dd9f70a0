"""Helpers for integration tests: sign statements as any agency of the test PKI and place them in a store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from borderx.screening.index import index_effects
from borderx.statements.bodies import (
    Body,
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Party,
    PartyId,
    Severity,
    StatementRef,
    ViolationFlag,
    Withdrawal,
    WithdrawalReason,
    body_type_of,
)
from borderx.statements.body_codec import encode_body
from borderx.statements.model import GENESIS_DIGEST, Envelope
from borderx.statements.signing import load_signing_key, sign_statement
from borderx.store.base import NO_EFFECTS, NewStatement, Store

NOW = datetime.now(UTC)
PROGRAMME_OF = {
    "US-CBP": "CTPAT",
    "AU-ABF": "AU_ATT",
    "NZ-CS": "NZ_SES",
    "CA-CBSA": "CA_PIP",
    "GB-HMRC": "UK_AEO",
}
LEVEL_OF = {"CTPAT": "CTPAT_TIER_3", "UK_AEO": "AEO_F"}


def platform(name: str) -> PartyId:
    return PartyId("PLATFORM", f"shop:{name}")


def designation(
    issuer: str,
    ids: tuple[PartyId, ...],
    *,
    status: DesignationStatus = DesignationStatus.CERTIFIED,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    supersedes: StatementRef | None = None,
    level: str | None = None,
) -> Designation:
    programme = PROGRAMME_OF[issuer]
    return Designation(
        party=Party(legal_name=f"Trader {ids[0].value}", ids=ids),
        programme=programme,
        member_id=f"M-{ids[0].value[-6:]}",
        level=LEVEL_OF.get(programme, "") if level is None else level,
        status=status,
        valid_from=valid_from or NOW - timedelta(days=100),
        valid_until=valid_until or NOW + timedelta(days=365),
        status_reason="" if status is DesignationStatus.CERTIFIED else "audit findings",
        consent_to_share=True,
        supersedes=supersedes,
    )


def flag(
    ids: tuple[PartyId, ...],
    category: FlagCategory,
    evidence: Evidence,
    *,
    expires_at: datetime | None = None,
    observed_at: datetime | None = None,
) -> ViolationFlag:
    return ViolationFlag(
        subject=Party(legal_name=f"Seller {ids[0].value}", ids=ids),
        category=category,
        evidence=evidence,
        severity=Severity.HIGH,
        observed_at=observed_at or NOW - timedelta(days=3),
        expires_at=expires_at or NOW + timedelta(days=180),
        summary=f"{category.value} found at the border",
    )


def withdrawal(issuer: str, seq: int) -> Withdrawal:
    return Withdrawal(
        target=StatementRef(issuer, seq), reason=WithdrawalReason.ISSUED_IN_ERROR, effective_at=NOW
    )


class Issuers:
    """Signs statements as any agency of a PKI, chaining per issuer, and stores them as if replicated."""

    def __init__(self, pki: Path, store: Store, *, receiver: str) -> None:
        self.pki = pki
        self.store = store
        self.receiver = receiver
        self.signers = {}  # type: ignore[var-annotated]

    def sign(self, issuer: str, body: Body, *, audience: tuple[str, ...] = ()) -> Envelope:
        signer = self.signers.get(issuer) or load_signing_key(self.pki / issuer / "signing.key")
        self.signers[issuer] = signer
        head = self.store.head(issuer)
        return sign_statement(
            signer,
            issuer=issuer,
            seq=(head.seq if head else 0) + 1,
            prev_digest=head.digest if head else GENESIS_DIGEST,
            issued_at=datetime.now(UTC),
            audience=audience,
            body_type=body_type_of(body).value,
            body=encode_body(body),
        )

    def put(self, issuer: str, body: Body, *, audience: tuple[str, ...] = ()) -> Envelope:
        env = self.sign(issuer, body, audience=audience)
        if not env.header.readable_by(self.receiver):
            env = env.redact()
        effects = index_effects(env) if env.body is not None else NO_EFFECTS
        self.store.append([NewStatement(env, issuer if issuer != self.receiver else "", effects)])
        return env
