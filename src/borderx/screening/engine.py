"""Screening: a batch of shipments → per shipment, the designations and flags that count, and a recommendation.

What counts (DESIGN §5, issue #4): a designation that is current (not superseded or
withdrawn), CERTIFIED, and inside its validity window; a flag that is current and not
expired. Flags outrank designations: any active flag rules out EXPEDITE, whatever
designations the shipper holds. A designation leads to EXPEDITE only if this agency's
policy recognises its programme and level (mutual recognition). Shipper flags and
consignee flags both count; designations are the shipper's.

One ``Store.lookup_many`` per batch; decoded bodies are cached by (issuer, seq), since
statements are immutable.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from borderx.errors import InvalidArgument
from borderx.logging import get_logger
from borderx.screening.policy import Recommendation, ScreeningPolicy
from borderx.statements.bodies import Body, BodyType, Designation, DesignationStatus, ViolationFlag
from borderx.statements.body_codec import decode_body
from borderx.store.base import PartyKey, StatementKey, Store, StoredStatement

log = get_logger("borderx.screening")

_CACHE_SIZE = 200_000


@dataclass(frozen=True)
class ShipmentQuery:
    reference: str
    shipper_ids: tuple[PartyKey, ...]
    consignee_ids: tuple[PartyKey, ...] = ()


@dataclass(frozen=True)
class DesignationHit:
    stored: StoredStatement
    designation: Designation
    recognised: bool


@dataclass(frozen=True)
class FlagHit:
    stored: StoredStatement
    flag: ViolationFlag
    action: Recommendation
    party: str  # "shipper" or "consignee"


@dataclass(frozen=True)
class ScreeningOutcome:
    reference: str
    designations: tuple[DesignationHit, ...]
    flags: tuple[FlagHit, ...]
    recommendation: Recommendation
    reasons: tuple[str, ...]


def _ref(stored: StoredStatement) -> str:
    return f"{stored.envelope.issuer}#{stored.envelope.seq}"


class Screener:
    def __init__(
        self, store: Store, policy: ScreeningPolicy, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock or (lambda: datetime.now(UTC))
        self._bodies: OrderedDict[StatementKey, Body | None] = OrderedDict()

    def now(self) -> datetime:
        return self._clock()

    @property
    def policy(self) -> ScreeningPolicy:
        return self._policy

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
        wanted = list(dict.fromkeys(k for s in shipments for k in (*s.shipper_ids, *s.consignee_ids)))
        found = self._store.lookup_many(wanted) if wanted else {}
        now = self._clock()
        return [self._screen_one(s, found, now) for s in shipments]

    def _screen_one(
        self, shipment: ShipmentQuery, found: dict[PartyKey, list[StoredStatement]], now: datetime
    ) -> ScreeningOutcome:
        reasons: list[str] = []
        designations: dict[StatementKey, DesignationHit] = {}
        flags: dict[StatementKey, FlagHit] = {}
        for party, ids in (("shipper", shipment.shipper_ids), ("consignee", shipment.consignee_ids)):
            for key in ids:
                for stored in found.get(key, ()):
                    if not stored.current or stored.key in designations or stored.key in flags:
                        continue
                    body = self.body_of(stored)
                    if isinstance(body, Designation) and party == "shipper":
                        hit = self._designation(stored, body, now, reasons)
                        if hit is not None:
                            designations[stored.key] = hit
                    elif isinstance(body, ViolationFlag):
                        if body.expires_at is not None and body.expires_at <= now:
                            continue
                        action = self._policy.flag_action(body.category, body.evidence)
                        flags[stored.key] = FlagHit(stored, body, action, party)
        recommendation = self._decide(designations, flags, reasons)
        return ScreeningOutcome(
            reference=shipment.reference,
            designations=tuple(designations.values()),
            flags=tuple(flags.values()),
            recommendation=recommendation,
            reasons=tuple(reasons),
        )

    def _designation(
        self, stored: StoredStatement, body: Designation, now: datetime, reasons: list[str]
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
        return DesignationHit(stored, body, self._policy.recognises(body.programme, body.level))

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
                )
            return Recommendation.EXPEDITE
        for d in designations.values():
            reasons.append(
                f"{d.designation.programme} designation by {_ref(d.stored)} is not recognised under this agency's policy"
            )
        if not designations:
            reasons.append("no current designation or flag for this shipper")
        return Recommendation.STANDARD
