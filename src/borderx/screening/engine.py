"""Screening: a batch of shipments → per shipment, the designations and flags that count, and a recommendation.

What counts (DESIGN §5, issue #4): a designation that is current (not superseded or
withdrawn), CERTIFIED, and inside its validity window; a flag that is current and not
expired. Flags outrank designations: any active flag rules out EXPEDITE, whatever
designations the shipper holds. A designation leads to EXPEDITE only if this agency's
policy recognises its programme and level (mutual recognition). Shipper flags and
consignee flags both count; designations are the shipper's.

Matching (issue #13): a shipment's shipper and consignee are matched by identifier,
seller account (PLATFORM ids), contact (e-mail, phone) and name (``screening.names``).
Suspicion needs resemblance; benefit needs proof:

- a designation counts towards EXPEDITE only on an IDENTIFIER or ACCOUNT match; a CONTACT
  or NAME match is shown as "possible match, not recognised: identity not proven";
- a flag matched by NAME at or above ``[policy.matching] review`` raises the shipment to at
  most EXAMINE; it takes its full action only when corroborated by an identifier, account
  or contact match, or by a name+address score at or above ``corroborated``;
- every reason names the basis and score of the match behind it.

One ``Store.lookup_many`` and one ``Store.lookup_names`` per batch (blocking), then scoring
of the candidates only; decoded bodies and their matching forms are cached by
(issuer, seq), since statements are immutable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from borderx.errors import InvalidArgument
from borderx.logging import get_logger
from borderx.screening.names import (
    CONTACT,
    TYPO_KEY_POSTINGS,
    Match,
    PartyForm,
    blocking_keys,
    exact_keys,
    match_party,
    name_form,
    party_form,
)
from borderx.screening.policy import Recommendation, ScreeningPolicy
from borderx.statements.bodies import Body, BodyType, Designation, DesignationStatus, Party, ViolationFlag
from borderx.statements.body_codec import decode_body, party_of_body
from borderx.store.base import PartyKey, StatementKey, Store, StoredStatement

log = get_logger("borderx.screening")

_CACHE_SIZE = 200_000

#: the reasons of a shipment about whose parties no statement is held (most of them)
NO_HIT_REASONS = ("no current designation or flag for this shipper",)


@dataclass(frozen=True)
class ShipmentQuery:
    """One shipment to screen. ``shipper``/``consignee`` are the manifest's parties as
    matching forms (names, address, contacts; their ids are also in ``*_ids``)."""

    reference: str
    shipper_ids: tuple[PartyKey, ...]
    consignee_ids: tuple[PartyKey, ...] = ()
    shipper: PartyForm | None = None
    consignee: PartyForm | None = None
    goods_description: str = ""


def form_of_party(party: Party) -> PartyForm:
    """The matching form of a statement's (or a manifest's) party, identifiers as given."""
    address = party.address
    return party_form(
        (party.legal_name, *party.trading_names),
        lines=address.lines if address else (),
        city=address.city if address else "",
        region=address.region if address else "",
        postcode=address.postal_code if address else "",
        country=address.country if address else "",
        ids=((i.scheme, i.value) for i in party.ids),
        emails=party.emails,
        phones=party.phones,
    )


def _identifier_match(party: str) -> Match:
    return Match("IDENTIFIER", 1.0, party, ("identifier agrees",))


@dataclass(frozen=True)
class DesignationHit:
    stored: StoredStatement
    designation: Designation
    recognised: bool
    match: Match | None = None


@dataclass(frozen=True)
class FlagHit:
    stored: StoredStatement
    flag: ViolationFlag
    action: Recommendation
    party: str  # "shipper" or "consignee"
    match: Match | None = None


@dataclass(frozen=True)
class SearchHit:
    """A candidate party for a name search, with its current statements (best first)."""

    party: Party
    match: Match
    statements: tuple[StoredStatement, ...]


@dataclass(frozen=True)
class ScreeningOutcome:
    reference: str
    designations: tuple[DesignationHit, ...]
    flags: tuple[FlagHit, ...]
    recommendation: Recommendation
    reasons: tuple[str, ...]


def _ref(stored: StoredStatement) -> str:
    return f"{stored.envelope.issuer}#{stored.envelope.seq}"


def _basis(match: Match | None) -> str:
    if match is None:
        return ""
    extra = ""
    if match.basis == "NAME" and not match.corroborated:
        extra = "; a full action needs an identifier, account or contact match"
    return f" ({match.describe()}: {', '.join(match.evidence)}{extra})"


def _party_of(body: Body | None) -> Party | None:
    if isinstance(body, Designation):
        return body.party
    if isinstance(body, ViolationFlag):
        return body.subject
    return None


def _without_candidates(shipment: ShipmentQuery, found: dict[PartyKey, list[StoredStatement]]) -> bool:
    """True when no statement can match ``shipment``: no names to score, nothing under its ids."""
    if shipment.shipper is not None or shipment.consignee is not None:
        return False
    for key in shipment.shipper_ids:
        if found.get(key):
            return False
    return all(not found.get(key) for key in shipment.consignee_ids)


class Screener:
    def __init__(
        self, store: Store, policy: ScreeningPolicy, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock or (lambda: datetime.now(UTC))
        self._bodies: OrderedDict[StatementKey, Body | None] = OrderedDict()
        self._forms: OrderedDict[StatementKey, PartyForm | None] = OrderedDict()

    def now(self) -> datetime:
        return self._clock()

    @property
    def policy(self) -> ScreeningPolicy:
        return self._policy

    @policy.setter
    def policy(self, policy: ScreeningPolicy) -> None:
        # an attribute swap: a Screen under way keeps the policy it read
        self._policy = policy

    def body_of(self, stored: StoredStatement) -> Body | None:
        key = stored.key
        if key in self._bodies:
            self._bodies.move_to_end(key)
            return self._bodies[key]
        env = stored.envelope
        try:
            body = None if env.body is None else decode_body(BodyType(env.header.body_type), env.body)
        except InvalidArgument:
            # admission never indexes such a body; one left by an older gateway (until
            # `borderx store rebuild-index`) must not fail every batch naming this party
            log.warning("screening.undecodable_body", issuer=key[0], seq=key[1])
            body = None
        self._bodies[key] = body
        if len(self._bodies) > _CACHE_SIZE:
            self._bodies.popitem(last=False)
        return body

    def form_of(self, stored: StoredStatement) -> PartyForm | None:
        """The matching form of a statement's party (cached: statements are immutable).

        Read from the body's party alone: most name candidates are scored and dropped, so
        the whole body is decoded only for those that match.
        """
        key = stored.key
        if key in self._forms:
            self._forms.move_to_end(key)
            return self._forms[key]
        env = stored.envelope
        try:
            party = None if env.body is None else party_of_body(BodyType(env.header.body_type), env.body)
        except InvalidArgument:
            party = None  # signed evidence that does not parse is never screened
        form = None if party is None else form_of_party(party)
        self._forms[key] = form
        if len(self._forms) > _CACHE_SIZE:
            self._forms.popitem(last=False)
        return form

    def screen(self, shipments: Sequence[ShipmentQuery]) -> list[ScreeningOutcome]:
        wanted = list(dict.fromkeys(k for s in shipments for k in (*s.shipper_ids, *s.consignee_ids)))
        found = self._store.lookup_many(wanted) if wanted else {}
        keys_of: dict[int, tuple[str, ...]] = {}
        for s in shipments:
            for form in (s.shipper, s.consignee):
                if form is not None and id(form) not in keys_of:
                    keys_of[id(form)] = blocking_keys(form)
        named = self._lookup_names(shipments, keys_of)
        now = self._clock()
        return [self._screen_one(s, found, named, keys_of, now) for s in shipments]

    def _lookup_names(
        self, shipments: Sequence[ShipmentQuery], keys_of: dict[int, tuple[str, ...]]
    ) -> dict[str, list[StoredStatement]]:
        """Exact name and contact keys in full; one-edit keys only while they are selective."""
        exact: set[str] = set()
        for s in shipments:
            for form in (s.shipper, s.consignee):
                if form is not None:
                    exact |= exact_keys(form)
        all_keys = list(dict.fromkeys(k for keys in keys_of.values() for k in keys))
        typo = [k for k in all_keys if k not in exact]
        named = self._store.lookup_names([k for k in all_keys if k in exact]) if exact else {}
        if typo:
            named.update(self._store.lookup_names(typo, max_postings=TYPO_KEY_POSTINGS))
        return named

    def _candidates(
        self,
        ids: tuple[PartyKey, ...],
        form: PartyForm | None,
        found: dict[PartyKey, list[StoredStatement]],
        named: dict[str, list[StoredStatement]],
        keys_of: dict[int, tuple[str, ...]],
    ) -> dict[StatementKey, StoredStatement]:
        out: dict[StatementKey, StoredStatement] = {}
        for key in ids:
            for stored in found.get(key, ()):
                out.setdefault(stored.key, stored)
        if form is not None:
            # one-edit keys held for more than TYPO_KEY_POSTINGS statements came back empty
            # (_lookup_names): such a key names hundreds of unrelated firms, and scoring them
            # all would let one manifest stall the batch; exact keys always count
            for name_key in keys_of.get(id(form), ()):
                for stored in named.get(name_key, ()):
                    out.setdefault(stored.key, stored)
        return out

    def _screen_one(
        self,
        shipment: ShipmentQuery,
        found: dict[PartyKey, list[StoredStatement]],
        named: dict[str, list[StoredStatement]],
        keys_of: dict[int, tuple[str, ...]],
        now: datetime,
    ) -> ScreeningOutcome:
        if _without_candidates(shipment, found):
            # what the general path below decides for no candidate at all, directly
            return ScreeningOutcome(shipment.reference, (), (), Recommendation.STANDARD, NO_HIT_REASONS)
        reasons: list[str] = []
        designations: dict[StatementKey, DesignationHit] = {}
        flags: dict[StatementKey, FlagHit] = {}
        matching = self._policy.matching
        for party, ids, form in (
            ("shipper", shipment.shipper_ids, shipment.shipper),
            ("consignee", shipment.consignee_ids, shipment.consignee),
        ):
            query = form if form is not None else PartyForm(ids=frozenset(ids))
            for stored in self._candidates(ids, form, found, named, keys_of).values():
                if not stored.current or stored.key in designations or stored.key in flags:
                    continue
                candidate = self.form_of(stored)
                if candidate is None:
                    continue
                match = match_party(query, candidate, party=party, thresholds=matching)
                if not match.proves_identity and match.score < matching.review:
                    continue  # a resemblance below the review threshold is no match
                body = self.body_of(stored)
                if isinstance(body, Designation) and party == "shipper":
                    hit = self._designation(stored, body, now, reasons, match)
                    if hit is not None:
                        designations[stored.key] = hit
                elif isinstance(body, ViolationFlag):
                    if body.expires_at is not None and body.expires_at <= now:
                        continue
                    action = self._policy.flag_action(body.category, body.evidence)
                    if not (match.proves_identity or match.basis == CONTACT or match.corroborated):
                        # suspicion needs resemblance: a name alone raises scrutiny, never holds
                        action = min(action, Recommendation.EXAMINE)
                    flags[stored.key] = FlagHit(stored, body, action, party, match)
        recommendation = self._decide(designations, flags, reasons)
        return ScreeningOutcome(
            reference=shipment.reference,
            designations=tuple(designations.values()),
            flags=tuple(flags.values()),
            recommendation=recommendation,
            reasons=tuple(reasons),
        )

    def _designation(
        self, stored: StoredStatement, body: Designation, now: datetime, reasons: list[str], match: Match
    ) -> DesignationHit | None:
        label = f"{body.programme} designation by {_ref(stored)}"
        if body.status is not DesignationStatus.CERTIFIED:
            status = body.status.value if body.status else "without status"
            reasons.append(f"{label} is {status}: not counted")
            return None
        if body.valid_from is not None and now < body.valid_from:
            reasons.append(f"{label} is not valid until {body.valid_from:%Y-%m-%d}: not counted")
            return None
        if body.valid_until is not None and now >= body.valid_until:
            reasons.append(f"{label} expired {body.valid_until:%Y-%m-%d}: not counted")
            return None
        # benefit needs proof: a name or contact that resembles a trusted trader's is never
        # recognised (a counterfeiter copies names, not registry identifiers)
        recognised = match.proves_identity and self._policy.recognises(body.programme, body.level)
        return DesignationHit(stored, body, recognised, match)

    def search(self, name: str, *, country: str = "", limit: int = 10) -> list[SearchHit]:
        """Candidate parties for ``name`` (an officer's query), best score first.

        Blocking then scoring, as for Screen; candidates below ``[policy.matching] search``
        are left out. Statements about one party (equal as signed) are grouped.
        """
        query = party_form((name,), country=country)
        named = self._store.lookup_names(list(blocking_keys(query)))
        now = self._clock()
        best: dict[Party, tuple[Match, list[StoredStatement]]] = {}
        seen: set[StatementKey] = set()
        for stored_list in named.values():
            for stored in stored_list:
                if stored.key in seen or not stored.current:
                    continue
                seen.add(stored.key)
                if stored.expires_at is not None and stored.expires_at <= now:
                    continue
                candidate = self.form_of(stored)
                if candidate is None:
                    continue
                match = match_party(query, candidate, party="query", thresholds=self._policy.matching)
                if match.score < self._policy.matching.search:
                    continue
                party = _party_of(self.body_of(stored))
                if party is None:
                    continue
                held = best.get(party)
                if held is None:
                    best[party] = (match, [stored])
                else:
                    held[1].append(stored)
                    if match.score > held[0].score:
                        best[party] = (match, held[1])
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0].score, name_form(kv[0].legal_name).full))
        return [
            SearchHit(party, match, tuple(sorted(statements, key=lambda s: s.key)))
            for party, (match, statements) in ranked[:limit]
        ]

    @staticmethod
    def _decide(
        designations: dict[StatementKey, DesignationHit],
        flags: dict[StatementKey, FlagHit],
        reasons: list[str],
    ) -> Recommendation:
        if flags:
            worst = max(f.action for f in flags.values())
            for f in sorted(flags.values(), key=lambda f: -f.action):
                category = f.flag.category.value if f.flag.category else "uncategorised"
                evidence = f.flag.evidence.value if f.flag.evidence else "unknown-evidence"
                reasons.append(
                    f"active {evidence} {category} flag on the {f.party} by {_ref(f.stored)} → {f.action.name}"
                    f"{_basis(f.match)}"
                )
            recommendation = max(worst, Recommendation.STANDARD)
            if any(d.recognised for d in designations.values()):
                reasons.append("a recognised designation does not outweigh an active flag: not expedited")
            return recommendation
        recognised = [d for d in designations.values() if d.recognised]
        if recognised:
            for d in recognised:
                level = f" {d.designation.level}" if d.designation.level else ""
                reasons.append(
                    f"recognised {d.designation.programme}{level} designation by {_ref(d.stored)} → EXPEDITE"
                    f"{_basis(d.match)}"
                )
            return Recommendation.EXPEDITE
        for d in designations.values():
            if d.match is not None and not d.match.proves_identity:
                reasons.append(
                    f"{d.designation.programme} designation by {_ref(d.stored)}: possible match, not "
                    f"recognised: identity not proven{_basis(d.match)}"
                )
                continue
            reasons.append(
                f"{d.designation.programme} designation by {_ref(d.stored)} is not recognised under this agency's policy"
            )
        if not designations:
            reasons.extend(NO_HIT_REASONS)
        return Recommendation.STANDARD
