"""Publishing at the home gateway: validate, chain, sign, store — all or nothing per request.

A request is a list of items, each either a *draft* (a body the gateway signs with the
agency's key, assigning the next seq) or an *envelope* the agency signed itself (verified
against the directory and chained as is). Nothing is stored unless every item passes;
a statement is acknowledged only after ``Store.append`` has made it durable.

The store's publish lock serialises publishing for this agency, across threads and across
gateway replicas sharing one database, so seqs are assigned without gaps or forks; the
store's chain check is the final arbiter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from borderx.bounds import check_int64
from borderx.directory.model import DirectoryHolder
from borderx.errors import ChainError, InvalidArgument, PermissionDenied, VerificationError, quote
from borderx.logging import get_logger
from borderx.screening.index import index_effects
from borderx.statements.bodies import Body, Designation, body_type_of
from borderx.statements.body_codec import encode_body
from borderx.statements.intake import IntakePolicy, StoreView, admit, membership_key, time_floor
from borderx.statements.model import GENESIS_DIGEST, Envelope
from borderx.statements.rules import BodyCheck, validate_body_checked
from borderx.statements.signing import Signer, sign_statement
from borderx.statements.verify import verify_statement
from borderx.store.base import Idempotency, NewStatement, Store, check_receipt_digest

audit = get_logger("borderx.audit")
security = get_logger("borderx.security")


@dataclass(frozen=True)
class Draft:
    body: Body
    audience: tuple[str, ...] = ()


Item = Draft | Envelope


def request_digest(items: Sequence[Item], *, encoded: Sequence[bytes | None] | None = None) -> bytes:
    """SHA-256 of the canonical form of a Publish request's items, what its receipt is bound to.

    Canonical: each item's kind, then length-prefixed parts: a draft's body type, its body
    as ``encode_body`` writes it (deterministic protobuf) and its audience; an envelope's
    header bytes, signatures and body bytes as received. Two requests with the same items
    have the same digest however their protobuf was laid out on the wire. ``encoded``: the
    drafts' ``encode_body`` bytes when the caller has them already (None for an envelope).
    """
    h = hashlib.sha256(b"borderx/publish-request/v1")

    def part(data: bytes) -> None:
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)

    for i, item in enumerate(items):
        if isinstance(item, Draft):
            data = encoded[i] if encoded is not None else None
            part(b"draft")
            part(body_type_of(item.body).value.encode())
            part(encode_body(item.body) if data is None else data)
            part(len(item.audience).to_bytes(8, "big"))
            for agency in item.audience:
                part(agency.encode())
        else:
            part(b"envelope")
            part(item.header_bytes)
            part(len(item.signatures).to_bytes(8, "big"))
            for sig in item.signatures:
                part(sig.key_id.encode())
                part(sig.sig)
            part(b"" if item.body is None else item.body)
    return h.digest()


@dataclass(frozen=True)
class Receipt:
    envelopes: tuple[Envelope, ...]
    replayed: bool


class Publisher:
    def __init__(
        self,
        *,
        agency: str,
        store: Store,
        directory: DirectoryHolder,
        signer: Signer | None,
        policy: IntakePolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        on_published: Callable[[Sequence[Envelope]], None] = lambda _envelopes: None,
        receipt_ttl: timedelta = timedelta(days=1),
    ) -> None:
        self._receipt_ttl = receipt_ttl
        self._on_published = on_published
        self._agency = agency
        self._store = store
        self._directory = directory
        self._signer = signer
        self._policy = policy or IntakePolicy(home=agency, indexer=index_effects)
        if self._policy.home != agency:
            raise ValueError(f"intake policy of {self._policy.home} given to the publisher of {agency}")
        self._clock = clock or (lambda: datetime.now(UTC))

    def publish(self, items: Sequence[Item], *, principal: str, idempotency_key: str = "") -> Receipt:
        """Publish ``items``; raise a BorderxError naming ``items[i]…`` on the first refusal."""
        if not items:
            raise InvalidArgument("is empty; send at least one draft or envelope", field="items")
        claim = None
        # each draft's bytes once: for the request digest, and signed as they are when the
        # draft is already in normal form (most are)
        encoded = [encode_body(item.body) if isinstance(item, Draft) else None for item in items]
        if idempotency_key:
            claim = Idempotency(
                idempotency_key,
                principal,
                request_digest=request_digest(items, encoded=encoded),
                not_before=self._clock() - self._receipt_ttl,
            )
            previous = self._replay(claim)
            if previous is not None:
                return previous
        # across replicas sharing a database, the store's lock decides who signs the next seq
        with self._store.publish_lock(self._agency):
            if claim is not None:
                # a retry that raced the first attempt waits for it here, then replays
                previous = self._replay(claim)
                if previous is not None:
                    return previous
            entries = self._prepare(items, encoded)
            # the store checks the claim again in the append's own transaction
            self._store.append(entries, idempotency=claim)
        envelopes = [entry.envelope for entry in entries]
        self._on_published(envelopes)
        audit.info(
            "audit.published",
            principal=principal,
            issuer=self._agency,
            seqs=f"{envelopes[0].seq}..{envelopes[-1].seq}",
            count=len(envelopes),
            body_types=sorted({e.header.body_type for e in envelopes}),
        )
        return Receipt(tuple(envelopes), replayed=False)

    def _replay(self, claim: Idempotency) -> Receipt | None:
        """The first receipt of this request's key, if it holds; refuses a key reused for another request."""
        record = self._store.receipt_record(claim.key, claim.principal)
        if record is None or (claim.not_before is not None and record.created_at < claim.not_before):
            return None  # never used, or expired: the key is free
        check_receipt_digest(claim, record.request_digest)
        stored = [self._store.get(issuer, seq) for issuer, seq in record.statements]
        return Receipt(tuple(s.envelope for s in stored if s is not None), replayed=True)

    # ------------------------------------------------------------ preparation

    def _prepare(self, items: Sequence[Item], encoded: Sequence[bytes | None]) -> list[NewStatement]:
        """Sign or check every item and admit it exactly as a receiving gateway would."""
        head = self._store.head(self._agency)
        seq, prev = (head.seq, head.digest) if head else (0, GENESIS_DIGEST)
        now = self._clock()
        view = StoreView(self._store)
        # the memberships the batch's designations will be checked against, in one read
        view.prefetch_memberships(
            self._agency,
            (
                (item.body.programme, membership_key(item.body))
                for item in items
                if isinstance(item, Draft) and isinstance(item.body, Designation)
            ),
        )
        directory = self._directory.current
        out: list[NewStatement] = []
        for i, item in enumerate(items):
            where = f"items[{i}].draft" if isinstance(item, Draft) else f"items[{i}].envelope"
            try:
                body: Body | None = None
                checked: BodyCheck | None = None
                if isinstance(item, Draft):
                    # never before what this chain already dates (a replica's clock may lag)
                    issued = max(now, time_floor(view, self._agency, seq + 1, self._policy) or now)
                    env, body, checked = self._sign_draft(
                        item, encoded[i], seq=seq + 1, prev=prev, now=issued
                    )
                else:
                    env = self._check_envelope(item, seq=seq + 1, prev=prev)
                # the one admission path: a gateway publishes nothing it would refuse from a peer
                # (a draft's body is handed over as encoded: no second decode of our own bytes,
                # and the proof its rules passed: no second run of them with the same arguments)
                admission = admit(
                    env,
                    directory=directory,
                    policy=self._policy,
                    view=view,
                    received_at=now,
                    signed_here=isinstance(item, Draft),
                    encoded=body,
                    checked=checked,
                )
            except InvalidArgument as exc:
                raise exc.under(where) from None
            except VerificationError as exc:
                raise InvalidArgument(str(exc), field=where) from None
            except ChainError as exc:
                # FAILED_PRECONDITION, naming the item like every other refusal
                raise ChainError(f"{where}.{exc}", issuer=self._agency) from None
            if admission.violation is not None:
                raise admission.violation.under(where)
            view.add(admission, now)
            seq, prev = env.seq, env.digest
            out.append(admission.entry(""))
        return out

    def _sign_draft(
        self, draft: Draft, data: bytes | None, *, seq: int, prev: bytes, now: datetime
    ) -> tuple[Envelope, Body, BodyCheck | None]:
        """Sign ``draft`` (``data``: its ``encode_body`` bytes, if known); the envelope, its body and its check."""
        if self._signer is None:
            raise PermissionDenied("this gateway has no signing key configured; send signed envelopes")
        policy = self._policy
        try:
            # normalise identifiers before signing (admission then checks the signed bytes)
            body, checked = validate_body_checked(
                draft.body,
                issuer=self._agency,
                # programme ownership is the directory's to say (DESIGN §2)
                owners=self._directory.current.programme_owners(),
                levels=policy.levels,
                limits=policy.limits,
                now=now,
            )
        except InvalidArgument as exc:
            raise exc.under(body_type_of(draft.body).value) from None
        audience = self._check_audience(draft.audience)
        if data is None or body is not draft.body:
            # validation normalised something (it returns the draft itself when it did not)
            data = encode_body(body)
        env = sign_statement(
            self._signer,
            issuer=self._agency,
            seq=seq,
            prev_digest=prev,
            issued_at=now,
            audience=audience,
            body_type=body_type_of(body).value,
            body=data,
        )
        return env, body, checked

    def _check_envelope(self, env: Envelope, *, seq: int, prev: bytes) -> Envelope:
        if env.issuer != self._agency:
            # a home service publishes for its own agency only; partners' statements arrive by replication
            raise PermissionDenied(
                f"envelope issued by {env.issuer}: this gateway publishes for {self._agency} only"
            )
        verify_statement(env, self._directory.current)
        check_int64(env.seq, "header.seq")
        if env.body is None:
            raise InvalidArgument("has no body; a published statement carries its body", field="body")
        if env.seq < seq:
            held = self._store.get(self._agency, env.seq)
            if held is not None and held.envelope.digest != env.digest:
                self._conflict(env, held.envelope)
        if env.seq != seq or env.header.prev_digest != prev:
            raise ChainError(
                f"header.seq: has seq {env.seq}; the next statement of {self._agency} is seq {seq} "
                f"with prev_digest {prev.hex()[:16]}…"
            )
        self._check_audience(env.header.audience)
        return env

    def _conflict(self, env: Envelope, held: Envelope) -> NoReturn:
        """A validly signed second statement for a seq we hold: our key signed two histories."""
        detail = (
            f"{self._agency} seq {env.seq} submitted for publishing conflicts with the held statement "
            f"({held.digest.hex()[:16]}… vs {env.digest.hex()[:16]}…): {self._agency}'s key signed both"
        )
        self._store.record_evidence("own_chain", self._agency, env.seq, detail, envelopes=(held, env))
        self._store.raise_alarm("own_chain", self._agency, detail)
        security.critical("security.own_chain", issuer=self._agency, seq=env.seq, detail=detail)
        raise ChainError(f"header.seq: {detail}; kept as evidence, nothing published")

    def _check_audience(self, audience: Sequence[str]) -> tuple[str, ...]:
        directory = self._directory.current
        for j, agency in enumerate(audience):
            if agency not in directory.agencies:
                raise InvalidArgument(
                    f"{quote(agency)} is not a member of {directory.federation}", field=f"audience[{j}]"
                )
        if len(set(audience)) != len(audience):
            raise InvalidArgument("lists an agency twice", field="audience")
        return tuple(audience)
