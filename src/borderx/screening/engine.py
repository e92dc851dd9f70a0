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

Blocking and scoring run on the in-memory index (``screening.memindex``: identifier and
name keys → statements, each with its matching form), brought up to date with the store
before every batch; a cheap exact bound on the names (``MemoryIndex.survivors``, for all
of a batch's candidates at once) spares the full scoring of candidates that cannot reach
the threshold. Then one ``Store.get_many`` of the
statements that matched, whose bodies (cached by (issuer, seq): statements are immutable)
say what they are.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np

from borderx.errors import InvalidArgument
from borderx.logging import get_logger
from borderx.screening.index import form_of_party
from borderx.screening.memindex import MemoryIndex, id_key
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
from borderx.statements.body_codec import decode_body
from borderx.store.base import PartyKey, StatementKey, Store, StoredStatement

__all__ = [
    "DesignationHit",
    "FlagHit",
    "Screener",
    "ScreeningOutcome",
    "SearchHit",
    "ShipmentQuery",
    "form_of_party",  # the servicer builds queries with it (it lives in screening.index)
]

log = get_logger("borderx.screening")

_CACHE_SIZE = 200_000

#: the reasons of a shipment about whose parties no statement is held (most of them)
NO_HIT_REASONS = ("no current designation or flag for this shipper",)


class ShipmentQuery(NamedTuple):
    """One shipment to screen. ``shipper``/``consignee`` are the manifest's parties as
    matching forms (names, address, contacts; their ids are also in ``*_ids``).

    A named tuple, not a frozen dataclass: one is built per shipment of every batch, and
    a frozen dataclass costs 2.6 times as much to build (measured: 0.73 us against 0.28).
    """

    reference: str
    shipper_ids: tuple[PartyKey, ...]
    consignee_ids: tuple[PartyKey, ...] = ()
    shipper: PartyForm | None = None
    consignee: PartyForm | None = None
    goods_description: str = ""


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


class ScreeningOutcome(NamedTuple):
    """What Screen answers for one shipment (a named tuple, as ``ShipmentQuery``: one per shipment)."""

    reference: str
    designations: tuple[DesignationHit, ...]
    flags: tuple[FlagHit, ...]
    recommendation: Recommendation
    reasons: tuple[str, ...]


def _no_hit(reference: str) -> ScreeningOutcome:
    """What ``Screener._outcome`` decides for a shipment with no match, directly (most shipments)."""
    return ScreeningOutcome(reference, (), (), Recommendation.STANDARD, NO_HIT_REASONS)


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


#: (party, statement, match) of a candidate that matched: read from the store to answer
_Matched = tuple[str, StatementKey, Match]


class Screener:
    def __init__(
        self,
        store: Store,
        policy: ScreeningPolicy,
        *,
        clock: Callable[[], datetime] | None = None,
        index: MemoryIndex | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock or (lambda: datetime.now(UTC))
        self._bodies: OrderedDict[StatementKey, Body | None] = OrderedDict()
        # the gateway builds it at start and shares it; built at first use otherwise
        self._index = index if index is not None else MemoryIndex(store)

    @property
    def index(self) -> MemoryIndex:
        return self._index

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

    def screen(self, shipments: Sequence[ShipmentQuery]) -> list[ScreeningOutcome]:
        """Blocking and scoring in memory, then one store read of the statements that matched.

        The memory index is brought up to what the store holds first (read-your-writes,
        whichever replica wrote); the matches are read from the store, whose word on
        whether each is still current is final. A shipment known by identifiers alone,
        none of which any statement is held under (most of a stream), is answered at
        once: it has no candidate to score.
        """
        index = self._index
        index.refresh()
        policy = self._policy
        with index.lock:  # one state of the index for the whole batch
            searched = self._searched(shipments)
            matched = self._matched(
                [s for s, open_ in zip(shipments, searched, strict=True) if open_], policy
            )
        wanted = [key for found in matched for _, key, _ in found]
        # no match, no store read (a read snapshot costs a single Screen ~5 us)
        got = self._store.get_many(wanted) if wanted else {}
        now = self._clock()
        found_of = iter(matched)
        return [
            self._outcome(s, next(found_of), got, policy, now) if open_ else _no_hit(s.reference)
            for s, open_ in zip(shipments, searched, strict=True)
        ]

    def _searched(self, shipments: Sequence[ShipmentQuery]) -> list[bool]:
        """Per shipment, whether it may have a candidate: it names a party, or an identifier held somewhere.

        One vectorised look at the index for every identifier of the identifiers-only
        shipments (``MemoryIndex.held``): False only when no row is held under any of them,
        so a shipment left out is one the full path would find nothing for.
        """
        plain = [s.shipper is None and s.consignee is None for s in shipments]
        counts = [
            len(s.shipper_ids) + len(s.consignee_ids) if p else 0
            for s, p in zip(shipments, plain, strict=True)
        ]
        keys = [
            id_key(k)
            for s, p in zip(shipments, plain, strict=True)
            if p
            for k in (*s.shipper_ids, *s.consignee_ids)
        ]
        owner = np.repeat(np.arange(len(shipments)), counts)
        held = np.bincount(owner[self._index.held(keys)], minlength=len(shipments)) > 0
        return [not p or h for p, h in zip(plain, held.tolist(), strict=True)]

    def _matched(self, shipments: Sequence[ShipmentQuery], policy: ScreeningPolicy) -> list[list[_Matched]]:
        """Per shipment, its candidates that match, by blocking and scoring in memory (under ``index.lock``)."""
        if not shipments:
            return []
        index = self._index
        wanted = list(dict.fromkeys(k for s in shipments for k in (*s.shipper_ids, *s.consignee_ids)))
        keys_of: dict[int, tuple[str, ...]] = {}
        exact: set[str] = set()
        for s in shipments:
            for form in (s.shipper, s.consignee):
                if form is not None and id(form) not in keys_of:
                    keys_of[id(form)] = blocking_keys(form)
                    exact |= exact_keys(form)
        name_keys = list(dict.fromkeys(k for keys in keys_of.values() for k in keys))
        # one-edit keys named by too many rows are not even gathered (as below)
        postings = index.postings(
            [*(id_key(k) for k in wanted), *name_keys],
            cap=TYPO_KEY_POSTINGS,
            capped=[False] * len(wanted) + [k.startswith("d:") and k not in exact for k in name_keys],
        )
        # one-edit keys held for more than TYPO_KEY_POSTINGS statements are skipped: such
        # a key names hundreds of unrelated firms, and scoring them all would let one
        # manifest stall the batch; exact keys (and identifiers) always count
        for key in [k for k, rows in postings.items() if len(rows) > TYPO_KEY_POSTINGS]:
            if key.startswith("d:") and key not in exact:
                del postings[key]
        # each party's candidates, the bound for all of the batch's at once, then the
        # survivors scored in full
        parties = [self._candidates(s, postings, keys_of) for s in shipments]
        kept = iter(
            index.survivors(
                [(list(first), query) for per in parties for _, query, first in per],
                policy.matching.review,
                policy.matching,
            )
        )
        return [[m for party in per for m in self._scored(party, next(kept), policy)] for per in parties]

    @staticmethod
    def _candidates(
        shipment: ShipmentQuery, postings: dict[str, list[int]], keys_of: dict[int, tuple[str, ...]]
    ) -> list[tuple[str, PartyForm, dict[int, int]]]:
        """Per party (shipper, consignee): its query form and candidates (row → position of the first key naming it).

        Each candidate once, at the first of the party's keys (identifiers, then blocking
        keys) that names it: the order the store would list them in.
        """
        out: list[tuple[str, PartyForm, dict[int, int]]] = []
        for party, ids, form in (
            ("shipper", shipment.shipper_ids, shipment.shipper),
            ("consignee", shipment.consignee_ids, shipment.consignee),
        ):
            query = form if form is not None else PartyForm(ids=frozenset(ids))
            keys = [id_key(k) for k in ids]
            if form is not None:
                keys.extend(keys_of.get(id(form), ()))
            first: dict[int, int] = {}
            for position, key in enumerate(keys):
                for row in postings.get(key, ()):
                    first.setdefault(row, position)
            out.append((party, query, first))
        return out

    def _scored(
        self, party: tuple[str, PartyForm, dict[int, int]], rows: list[int], policy: ScreeningPolicy
    ) -> list[_Matched]:
        """The candidates ``rows`` of ``party`` that match, in the order the store would list them.

        ``rows`` are the live candidates that may match (``MemoryIndex.survivors``: the
        exact bound of ``names.may_reach_by_name``); that order is by the position of the
        first key that names the candidate, then by (issuer, seq).
        """
        index = self._index
        matching = policy.matching
        name, query, first = party
        mine: list[tuple[int, StatementKey, Match]] = []
        for row in rows:
            candidate = index.form(row)
            if candidate is None:
                continue
            match = match_party(query, candidate, party=name, thresholds=matching)
            if not match.proves_identity and match.score < matching.review:
                continue  # a resemblance below the review threshold is no match
            mine.append((first[row], index.key(row), match))
        mine.sort(key=lambda m: (m[0], m[1]))
        return [(name, key, match) for _, key, match in mine]

    def _outcome(
        self,
        shipment: ShipmentQuery,
        found: list[_Matched],
        got: dict[StatementKey, StoredStatement],
        policy: ScreeningPolicy,
        now: datetime,
    ) -> ScreeningOutcome:
        if not found:
            return _no_hit(shipment.reference)
        reasons: list[str] = []
        designations: dict[StatementKey, DesignationHit] = {}
        flags: dict[StatementKey, FlagHit] = {}
        for party, key, match in found:
            stored = got.get(key)
            if stored is None or not stored.current or key in designations or key in flags:
                continue
            body = self.body_of(stored)
            if isinstance(body, Designation) and party == "shipper":
                hit = self._designation(stored, body, now, reasons, match, policy=policy)
                if hit is not None:
                    designations[key] = hit
            elif isinstance(body, ViolationFlag):
                if body.expires_at is not None and body.expires_at <= now:
                    continue
                action = policy.flag_action(body.category, body.evidence)
                if not (match.proves_identity or match.basis == CONTACT or match.corroborated):
                    # suspicion needs resemblance: a name alone raises scrutiny, never holds
                    action = min(action, Recommendation.EXAMINE)
                flags[key] = FlagHit(stored, body, action, party, match)
        recommendation = self._decide(designations, flags, reasons)
        return ScreeningOutcome(
            reference=shipment.reference,
            designations=tuple(designations.values()),
            flags=tuple(flags.values()),
            recommendation=recommendation,
            reasons=tuple(reasons),
        )

    def _designation(
        self,
        stored: StoredStatement,
        body: Designation,
        now: datetime,
        reasons: list[str],
        match: Match,
        *,
        policy: ScreeningPolicy,
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
        recognised = match.proves_identity and policy.recognises(body.programme, body.level)
        return DesignationHit(stored, body, recognised, match)

    def search(self, name: str, *, country: str = "", limit: int = 10) -> list[SearchHit]:
        """Candidate parties for ``name`` (an officer's query), best score first.

        Blocking then scoring, as for Screen; candidates below ``[policy.matching] search``
        are left out. Statements about one party (equal as signed) are grouped.
        """
        index = self._index
        index.refresh()
        thresholds = self._policy.matching
        query = party_form((name,), country=country)
        keys = list(blocking_keys(query))
        with index.lock:  # the rows found are the rows scored (no rebuild in between)
            postings = index.postings(keys)
            first: dict[int, int] = {}
            for position, name_key in enumerate(keys):
                for row in postings.get(name_key, ()):
                    first.setdefault(row, position)
            ranked_rows: list[tuple[int, StatementKey, Match]] = []
            # a name query has no identifier or contact to share: the name bound applies
            (survivors,) = index.survivors([(list(first), query)], thresholds.search, thresholds)
            for row in survivors:
                candidate = index.form(row)
                if candidate is None:
                    continue
                match = match_party(query, candidate, party="query", thresholds=thresholds)
                if match.score >= thresholds.search:
                    ranked_rows.append((first[row], index.key(row), match))
        ranked_rows.sort(key=lambda m: (m[0], m[1]))
        scored = [(key, match) for _, key, match in ranked_rows]
        return self._grouped(scored, limit)

    def _grouped(self, scored: list[tuple[StatementKey, Match]], limit: int) -> list[SearchHit]:
        """The scored statements read from the store, grouped by party (equal as signed), best first."""
        got = self._store.get_many([key for key, _ in scored])
        now = self._clock()
        best: dict[Party, tuple[Match, list[StoredStatement]]] = {}
        for key, match in scored:
            stored = got.get(key)
            if stored is None or not stored.current:
                continue
            if stored.expires_at is not None and stored.expires_at <= now:
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
