"""A large, realistic store for benchmarks: signed designations and flags from several issuers.

``build_store`` signs every statement with the real signing keys of a dev PKI (each issuer's
own key, chained per issuer) and appends them in batches of 1,000 straight into a SQLite
store, as if they had been replicated to the receiving gateway. What is in it:

- designation ``i`` (0 ≤ i < designations) is about party ``party_id(i)``, issued by
  ``ISSUERS[i % 5]`` in that issuer's own programme, across its levels; most CERTIFIED and
  in their validity window, some suspended, revoked or expired;
- flag ``j`` (0 ≤ j < flags) is about a designated party for every third flag (a known
  shipper with a flag against it) and otherwise about a party no one designates
  (``party_id(designations + j)``); categories, evidence levels, severities and issuers
  rotate; a few have expired;
- parties numbered from ``unknown_base(…)`` on appear in no statement.

Party identifiers are ``PLATFORM`` seller ids (``shop:seller-123456``, ``amazon:seller-…``),
so a benchmark can ask about any party by number. Index effects are built from the body
dataclasses directly; they equal ``screening.index.index_effects(env)`` (checked on the first
statements of every build), without decoding each body a second time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from borderx._proto.borderx.v1 import exchange_pb2, statement_pb2
from borderx.screening.index import form_of_party, index_effects
from borderx.screening.names import blocking_keys, dump_form, party_form
from borderx.statements.bodies import (
    Address,
    Body,
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Money,
    Outcome,
    Party,
    PartyId,
    Severity,
    ShipmentRef,
    ViolationFlag,
)
from borderx.statements.body_codec import encode_body
from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.signing import Signer, load_signing_key, sign_statement
from borderx.store import IndexEffects, NewStatement, open_store

ISSUERS = ("US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC")
PROGRAMME_OF = {
    "US-CBP": "CTPAT",
    "AU-ABF": "AU_ATT",
    "NZ-CS": "NZ_SES",
    "CA-CBSA": "CA_PIP",
    "GB-HMRC": "UK_AEO",
}
LEVELS_OF = {
    "CTPAT": ("CTPAT_TIER_1", "CTPAT_TIER_2", "CTPAT_TIER_3", ""),
    "UK_AEO": ("AEO_C", "AEO_S", "AEO_F"),
}
COUNTRY_OF = {"US-CBP": "US", "AU-ABF": "AU", "NZ-CS": "NZ", "CA-CBSA": "CA", "GB-HMRC": "GB"}
PLATFORMS = ("shop", "amazon", "ebay", "temu", "aliexpress")
ORIGINS = ("CN", "HK", "VN", "IN", "TR", "US", "GB", "DE", "KR", "TH")
HS_CODES = ("610910", "640399", "420221", "851762", "950300", "711719", "330499", "392690")
CATEGORIES = tuple(FlagCategory)
EVIDENCE = tuple(Evidence)
SEVERITIES = tuple(Severity)
BATCH = 1_000
#: one flag for every ``FLAG_EVERY`` statements appended (1,000,000 : 100,000)
FLAG_EVERY = 11
NOW = datetime.now(UTC).replace(microsecond=0)


def party_id(n: int) -> str:
    """The PLATFORM seller id of party number ``n`` (already in normal form)."""
    return f"{PLATFORMS[n % len(PLATFORMS)]}:seller-{n}"


def unknown_base(designations: int, flags: int) -> int:
    """The first party number that no statement of a store built with these sizes names."""
    return designations + flags + 1_000_000


def flagged_party(j: int, designations: int) -> int:
    """The party number flag ``j`` is about: every third one a designated party."""
    if j % 3 == 0 and designations:
        return (j * 7919) % designations
    return designations + j


def designation_body(i: int) -> Designation:
    issuer = ISSUERS[i % len(ISSUERS)]
    programme = PROGRAMME_OF[issuer]
    levels = LEVELS_OF.get(programme, ("",))
    roll = (i * 2654435761) % 1000  # a fixed pseudo-random spread over the designations
    status = DesignationStatus.CERTIFIED
    reason = ""
    if roll < 15:
        status, reason = DesignationStatus.SUSPENDED, "validation visit found gaps in container security"
    elif roll < 25:
        status, reason = DesignationStatus.REVOKED, "repeated non-compliance"
    valid_until = NOW + timedelta(days=30 + roll % 700) if roll < 980 else NOW - timedelta(days=5 + roll % 60)
    return Designation(
        party=Party(
            legal_name=f"Trader {i} Trading Co Ltd",
            trading_names=(f"Brand {i % 97}",),
            address=Address(
                lines=(f"{10 + i % 900} Harbour Road", f"Unit {i % 50}"),
                city="Auckland" if i % 2 else "Shenzhen",
                postal_code=f"{1000 + i % 9000}",
                country=COUNTRY_OF[issuer],
            ),
            ids=(PartyId("PLATFORM", party_id(i)),),
        ),
        programme=programme,
        member_id=f"{programme}-{i:08d}",
        level=levels[i % len(levels)],
        status=status,
        valid_from=NOW - timedelta(days=400 + roll),
        valid_until=valid_until,
        status_reason=reason,
        consent_to_share=True,
    )


def flag_body(j: int, designations: int) -> ViolationFlag:
    party = flagged_party(j, designations)
    expired = j % 40 == 39
    return ViolationFlag(
        subject=Party(legal_name=f"Seller {party}", ids=(PartyId("PLATFORM", party_id(party)),)),
        category=CATEGORIES[j % len(CATEGORIES)],
        evidence=EVIDENCE[(j // len(CATEGORIES)) % len(EVIDENCE)],
        outcomes=(Outcome.SEIZURE, Outcome.WARNING) if j % 2 else (Outcome.DETENTION,),
        severity=SEVERITIES[j % len(SEVERITIES)],
        observed_at=NOW - timedelta(days=10 + j % 200),
        expires_at=NOW - timedelta(days=1) if expired else NOW + timedelta(days=90 + j % 300),
        shipments=(
            ShipmentRef(
                air_waybill=f"176-{j:08d}",
                tracking_number=f"LX{j:09d}CN",
                hs_codes=(HS_CODES[j % len(HS_CODES)],),
                declared_value=Money("USD", 1_500 + j % 50_000),
                origin_country=ORIGINS[j % len(ORIGINS)],
            ),
        ),
        summary="declared value far below the marketplace price; goods seized at the border",
    )


def _names(party: Any) -> tuple[str, ...]:
    """The name-index keys ``index_effects`` derives from a party (screening/names.py)."""
    names = (party.legal_name, *party.trading_names)
    if not any(names):
        return ()
    address = party.address
    form = party_form(
        names,
        city=address.city if address else "",
        region=address.region if address else "",
        emails=tuple(party.emails),
        phones=tuple(party.phones),
    )
    return blocking_keys(form)


def _effects(body: Body) -> IndexEffects:
    if isinstance(body, Designation):
        return IndexEffects(
            ids=tuple((p.scheme, p.value) for p in body.party.ids),
            names=_names(body.party),
            kind="designation",
            expires_at=body.valid_until,
            form=dump_form(form_of_party(body.party)),
        )
    assert isinstance(body, ViolationFlag)
    return IndexEffects(
        ids=tuple((p.scheme, p.value) for p in body.subject.ids),
        names=_names(body.subject),
        kind="flag",
        expires_at=body.expires_at,
        form=dump_form(form_of_party(body.subject)),
    )


@dataclass
class _Chain:
    signer: Signer
    seq: int = 0
    prev: bytes = GENESIS_DIGEST


def build_store(pki: Path, path: Path, *, designations: int, flags: int, receiver: str) -> int:
    """Sign and append ``designations`` + ``flags`` statements into a new store at ``path``.

    Returns how many statements it holds. Statements of ``receiver`` are stored as
    published there (``received_from=""``), the others as received from their issuer.
    """
    chains = {issuer: _Chain(load_signing_key(pki / issuer / "signing.key")) for issuer in ISSUERS}
    store = open_store(f"sqlite:///{path}")
    total = designations + flags
    next_d = next_f = 0
    checked = 0
    try:
        batch: list[NewStatement] = []
        for k in range(total):
            # interleave: one flag every FLAG_EVERY statements while both kinds remain
            flag_turn = next_f < flags and (k % FLAG_EVERY == FLAG_EVERY - 1 or next_d >= designations)
            if flag_turn:
                body: Body = flag_body(next_f, designations)
                issuer = ISSUERS[(next_f * 3 + 1) % len(ISSUERS)]
                next_f += 1
            else:
                body = designation_body(next_d)
                issuer = ISSUERS[next_d % len(ISSUERS)]
                next_d += 1
            chain = chains[issuer]
            env = sign_statement(
                chain.signer,
                issuer=issuer,
                seq=chain.seq + 1,
                prev_digest=chain.prev,
                issued_at=NOW - timedelta(seconds=total - k),
                body_type="flag" if flag_turn else "designation",
                body=encode_body(body),
            )
            chain.seq, chain.prev = env.seq, env.digest
            effects = _effects(body)
            if checked < 50:  # the shortcut must index exactly as the gateway would
                if effects != index_effects(env):
                    raise AssertionError(
                        f"bench index effects differ from index_effects for {issuer}#{env.seq}"
                    )
                checked += 1
            batch.append(NewStatement(env, "" if issuer == receiver else issuer, effects))
            if len(batch) == BATCH:
                store.append(batch)
                batch = []
        if batch:
            store.append(batch)
        return store.count()
    finally:
        store.close()


# ---------------------------------------------------------------- screening requests


def shipment(reference: str, party: int, rng: random.Random) -> exchange_pb2.Shipment:
    codes = rng.sample(HS_CODES, rng.randint(1, 3))
    return exchange_pb2.Shipment(
        reference=reference,
        shipper_ids=[statement_pb2.PartyId(scheme="PLATFORM", value=party_id(party))],
        origin_country=rng.choice(ORIGINS),
        declared_value=statement_pb2.Money(currency="USD", minor_units=rng.randint(500, 80_000)),
        hs_codes=codes,
        platform=PLATFORMS[party % len(PLATFORMS)],
    )


def screened_party(rng: random.Random, *, designations: int, flags: int) -> int:
    """A shipper as an inbound e-commerce stream has them: 10% designated, 3% flagged only, 87% unknown."""
    roll = rng.random()
    if roll < 0.10 and designations:
        return rng.randrange(designations)
    if roll < 0.13 and flags:
        return flagged_party(rng.randrange(flags), designations)
    return unknown_base(designations, flags) + rng.randrange(10_000_000)


def screen_request(prefix: str, size: int, rng: random.Random, *, designations: int, flags: int) -> bytes:
    """A serialised ScreenRequest of ``size`` shipments; references start with ``prefix``."""
    request = exchange_pb2.ScreenRequest(
        shipments=[
            shipment(f"{prefix}-{n:05d}", screened_party(rng, designations=designations, flags=flags), rng)
            for n in range(size)
        ]
    )
    data: bytes = request.SerializeToString()
    return data
