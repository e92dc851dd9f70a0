"""Exchange servicer: Publish, Screen, Lookup, Subscribe.

Thin: protobuf ⇄ domain at the edge, the work in ``publishing``, ``screening`` and
``federation.subscribe``, run in
a worker thread so the event loop keeps serving (a Screen of a few shipments excepted:
see ``INLINE_SCREEN_IDENTIFIERS``). Errors are raised, not aborted: the
interceptor maps them to status codes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from google.protobuf.timestamp_pb2 import Timestamp

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.bounds import check_int64
from borderx.directory.model import AGENCY_ID_PATTERN
from borderx.errors import InvalidArgument, ResourceExhausted, quote
from borderx.federation.subscribe import FollowerStream, FollowRequest
from borderx.logging import get_logger
from borderx.parties import normalise_party_id
from borderx.publishing import Draft, Item
from borderx.screening.engine import (
    NO_HIT_REASONS,
    DesignationHit,
    FlagHit,
    ScreeningOutcome,
    ShipmentQuery,
    form_of_party,
)
from borderx.screening.names import Match, PartyForm
from borderx.screening.policy import Recommendation
from borderx.statements.bodies import BodyType, Designation, Party
from borderx.statements.body_codec import (
    body_from_proto,
    body_type_from_proto,
    decode_body,
    designation_to_proto,
    flag_to_proto,
    party_from_proto,
    party_to_proto,
)
from borderx.statements.encoding import (
    envelope_from_proto,
    envelope_to_proto,
    signed_checkpoint_to_proto,
    signed_cosignature_to_proto,
)
from borderx.statements.model import Envelope, SignedCosignature
from borderx.statements.rules import DEFAULT_LIMITS, check_text, validate_manifest_party
from borderx.store.base import PartyKey, StoredStatement

audit = get_logger("borderx.audit")

if TYPE_CHECKING:
    from borderx.server.app import Gateway


#: initial metadata of every Subscribe stream: the server's clock, ISO 8601 UTC
SERVER_TIME_HEADER = "borderx-server-time"
HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
#: Screen requests of at most this many identifiers in all (shipper + consignee, every
#: shipment) are checked, normalised and screened on the event loop: for a handful of index
#: reads the hop to a worker thread costs more than the work (measured in
#: tests/bench/bench_exchange.py: single-shipment Screen calls/s +20-50%). Anything larger
#: goes to a thread whole, so that the loop keeps serving other calls (health included)
#: meanwhile. The count is taken from the request before any per-identifier work.
INLINE_SCREEN_IDENTIFIERS = 16
#: at most this many HS codes per shipment
MAX_HS_CODES = 64


def _timestamp(value: Any) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def provenance(stored: StoredStatement) -> exchange_pb2.Provenance:
    env = stored.envelope
    return exchange_pb2.Provenance(
        issuer=env.issuer,
        seq=env.seq,
        issued_at=_timestamp(env.header.issued_at),
        key_id=env.signatures[0].key_id if env.signatures else "",
        # False only while a statement admitted on a checkpoint's authority awaits its own check
        verified=stored.verified,
        received_from=stored.received_from,
        header_digest=env.digest,
    )


def check_shipment_text(shipment: exchange_pb2.Shipment, where: str, *, max_chars: int) -> None:
    """The free-text fields of a shipment: bounded length, no control characters."""
    check_text(shipment.reference, f"{where}.reference", max_length=max_chars)
    check_text(shipment.origin_country, f"{where}.origin_country", max_length=max_chars)
    check_text(shipment.platform, f"{where}.platform", max_length=max_chars)
    if len(shipment.hs_codes) > MAX_HS_CODES:
        raise InvalidArgument(
            f"lists {len(shipment.hs_codes)} codes; the limit is {MAX_HS_CODES}", field=f"{where}.hs_codes"
        )
    for j, code in enumerate(shipment.hs_codes):
        check_text(code, f"{where}.hs_codes[{j}]", max_length=max_chars)
    if shipment.HasField("declared_value"):
        check_text(shipment.declared_value.currency, f"{where}.declared_value.currency", max_length=max_chars)
    for field_name, ids in (("shipper_ids", shipment.shipper_ids), ("consignee_ids", shipment.consignee_ids)):
        for j, pid in enumerate(ids):
            check_text(pid.scheme, f"{where}.{field_name}[{j}].scheme", max_length=max_chars)
            check_text(pid.value, f"{where}.{field_name}[{j}].value", max_length=max_chars)


def shipment_text_is_plain(shipment: exchange_pb2.Shipment, *, max_chars: int) -> bool:
    """True only when ``check_shipment_text`` would pass: every field short and printable.

    Every character ``check_text`` refuses (C0 and C1 controls, line and paragraph
    separators, bidirectional overrides) is one that ``str.isprintable`` rejects, and the
    fields joined hold such a character exactly when a field does: one C-speed test instead
    of two regex searches per field. False (which a few harmless characters, e.g. a no-break
    space, also give) sends the shipment through ``check_shipment_text``, which decides and
    names the offending field.
    """
    return _plain_ids(shipment, shipment.shipper_ids, shipment.consignee_ids, max_chars) is not None


#: the (scheme, value) pairs of a shipment's shipper_ids and consignee_ids, as given
_RawIds = tuple[list[tuple[str, str]], list[tuple[str, str]]]


def _plain_ids(
    shipment: exchange_pb2.Shipment, shipper_ids: Any, consignee_ids: Any, max_chars: int
) -> _RawIds | None:
    """The raw identifier pairs when all of the shipment's text is plain, None when not.

    The repeated fields are passed in (each access to one builds a new wrapper) and each
    identifier is read once, for this check and for normalising.
    """
    codes = shipment.hs_codes
    if len(codes) > MAX_HS_CODES:
        return None
    shippers = _id_pairs(shipper_ids)
    consignees = _id_pairs(consignee_ids)
    parts = [shipment.reference, shipment.origin_country, shipment.platform, *codes[:]]
    if shipment.HasField("declared_value"):
        parts.append(shipment.declared_value.currency)
    for pair in shippers:
        parts += pair
    for pair in consignees:
        parts += pair
    text = "".join(parts)
    # all fields together within the limit: each one is (the usual case, one len)
    if len(text) > max_chars and max(map(len, parts)) > max_chars:
        return None
    return (shippers, consignees) if text.isprintable() else None


def _id_pairs(ids: Any) -> list[tuple[str, str]]:
    """The (scheme, value) pairs of a repeated PartyId field, in order.

    Indexed or sliced, never iterated (nor ``hs_codes`` above): an iterator over a upb
    repeated field costs ~0.45 us to start, more than reading a one-identifier field whole
    (measured: 0.86 -> 0.48 us for one identifier, 0.6 -> 0.12 for none).
    """
    n = len(ids)
    if n == 1:
        pid = ids[0]
        return [(pid.scheme, pid.value)]
    return [(pid.scheme, pid.value) for pid in ids[:]] if n else []


def _normal_keys(pairs: list[tuple[str, str]]) -> tuple[PartyKey, ...]:
    """``party_keys`` of raw pairs; raises the refusal without a field (see ``party_keys``)."""
    if len(pairs) == 1:
        return (_normal_key(*pairs[0]),)
    return tuple(dict.fromkeys([_normal_key(scheme, value) for scheme, value in pairs]))


#: distinct (scheme, value) pairs whose normal form ``party_keys`` remembers
PARTY_KEY_CACHE = 65_536


@lru_cache(maxsize=PARTY_KEY_CACHE)
def _normal_key(scheme: str, value: str) -> PartyKey:
    """``normalise_party_id`` as a key, remembered (a pure function; refusals are not cached)."""
    normal = normalise_party_id(scheme, value)
    return (normal.scheme, normal.value)


#: each recommendation's number in borderx.v1.Recommendation
_PROTO_RECOMMENDATION: dict[Recommendation, exchange_pb2.Recommendation] = {
    r: getattr(exchange_pb2, r.name) for r in Recommendation
}
#: a ScreeningResult's fields after its reference for a shipment without any match (most of
#: them), merged into each such result: 0.42 us a result against 0.70 for building it from
#: keyword arguments (the reasons' text encoded every time)
_NO_HIT_TAIL = exchange_pb2.ScreeningResult(
    recommendation=exchange_pb2.STANDARD, reasons=NO_HIT_REASONS
).SerializeToString()
#: DesignationMatch / FlagMatch messages an ExchangeServicer keeps for reuse
MATCH_CACHE = 8_192  # about 1.5 KB each (the serialised message, and the body bytes of its key)


def _is_no_hit(outcome: ScreeningOutcome) -> bool:
    """Whether ``outcome`` is what a shipment without any match gets (``_NO_HIT_TAIL`` says it)."""
    return (
        outcome.reasons == NO_HIT_REASONS
        and outcome.recommendation is Recommendation.STANDARD
        and not outcome.designations
        and not outcome.flags
    )


def _held(stored: StoredStatement) -> tuple[bytes, bytes | None, str, bool, str]:
    """All a hit's message says about its statement: the header digest (header fields), the
    body bytes (the decoded body; bound to the header by its digest, and keyed on anyway),
    the first signature's key id, and how it is held (verified yet, from whom)."""
    env = stored.envelope
    key_id = env.signatures[0].key_id if env.signatures else ""
    return (env.digest, env.body, key_id, stored.verified, stored.received_from)


#: the most candidates one Search returns
MAX_SEARCH_LIMIT = 100


def match_to_proto(match: Match | None) -> exchange_pb2.Match | None:
    if match is None:
        return None
    return exchange_pb2.Match(
        basis=match.basis, score=match.score, party=match.party, evidence=list(match.evidence)
    )


def manifest_party(msg: Any, extra_ids: tuple[PartyKey, ...], field: str) -> PartyForm | None:
    """The matching form of a manifest's party (ids merged with ``extra_ids``), None if absent."""
    if not msg.ListFields():
        return None
    party = validate_manifest_party(party_from_proto(msg), field=field, limits=DEFAULT_LIMITS)
    form = form_of_party(party)
    return dataclasses.replace(form, ids=frozenset((*form.ids, *extra_ids)))


def party_keys(ids: Any, field: str) -> tuple[PartyKey, ...]:
    """The normal forms of ``ids``, first spelling first, without repeats.

    Every value is validated (``normalise_party_id``, remembered per (scheme, value)); a
    refusal is raised again with its field path, ``<field>[j].scheme`` or ``.value``.
    """
    keys = []
    for j, pid in enumerate(ids):
        try:
            keys.append(_normal_key(pid.scheme, pid.value))
        except InvalidArgument:
            normalise_party_id(pid.scheme, pid.value, field=f"{field}[{j}]")
            raise  # pragma: no cover - the call above raises the same refusal, with the field
    if len(keys) == 1:
        return (keys[0],)
    return tuple(dict.fromkeys(keys))


def party_key(pid: Any, field: str) -> PartyKey:
    """The normal form of one identifier (remembered, as in ``party_keys``); a refusal names ``field``."""
    try:
        return _normal_key(pid.scheme, pid.value)
    except InvalidArgument:
        normalise_party_id(pid.scheme, pid.value, field=field)
        raise  # pragma: no cover - the call above raises the same refusal, with the field


def subscribe_body_types(request: exchange_pb2.SubscribeRequest) -> list[str]:
    """Check a SubscribeRequest's fields (agency ids, int64 seqs, digest sizes); its body type filter."""
    for name, issuers in (
        ("have", request.have),
        ("have_digests", request.have_digests),
        ("issuers", request.issuers),
    ):
        for issuer in issuers:
            if not AGENCY_ID_PATTERN.fullmatch(issuer):
                raise InvalidArgument(f"{quote(issuer)} is not an agency id like AU-ABF", field=name)
    for issuer, seq in request.have.items():
        check_int64(seq, f"have[{issuer}]")
    for issuer, digest in request.have_digests.items():
        if len(digest) != 32:
            raise InvalidArgument(
                f"is {len(digest)} bytes; a header digest is 32 (SHA-256)", field=f"have_digests[{issuer}]"
            )
    body_types = []
    for i, number in enumerate(request.body_types):
        try:
            body_types.append(body_type_from_proto(number, field=f"body_types[{i}]").value)
        except InvalidArgument:
            raise InvalidArgument(
                f"{number} is not designation, flag or withdrawal", field=f"body_types[{i}]"
            ) from None
    return body_types


class ExchangeServicer(exchange_pb2_grpc.ExchangeServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway
        self._counters: dict[Recommendation, Any] = {}
        #: serialised DesignationMatch and FlagMatch messages by what they are built from
        #: (``_held`` and the hit's recognition or action and match), parsed into replies
        self._matches: dict[tuple[Any, ...], bytes] = {}

    # ------------------------------------------------------------ Publish

    async def Publish(
        self, request: exchange_pb2.PublishRequest, context: Any
    ) -> exchange_pb2.PublishResponse:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        limit = self._gw.config.limits.max_publish_batch
        if len(request.items) > limit:
            raise ResourceExhausted(
                f"items: {len(request.items)} statements in one request; the limit is {limit}",
                limit="limits.max_publish_batch",
            )
        if len(request.idempotency_key) > 256:
            raise InvalidArgument("is longer than 256 characters", field="idempotency_key")
        items: list[Item] = []
        for i, item in enumerate(request.items):
            kind = item.WhichOneof("item")
            if kind == "draft":
                body_kind = item.draft.WhichOneof("body")
                if body_kind is None:
                    raise InvalidArgument(
                        "needs one of designation, flag or withdrawal", field=f"items[{i}].draft"
                    )
                try:
                    body = body_from_proto(getattr(item.draft, body_kind))
                except InvalidArgument as exc:
                    raise exc.under(f"items[{i}].draft") from None
                items.append(Draft(body=body, audience=tuple(item.draft.audience)))
            elif kind == "envelope":
                try:
                    items.append(envelope_from_proto(item.envelope))
                except InvalidArgument as exc:
                    raise exc.under(f"items[{i}].envelope") from None
            else:
                raise InvalidArgument("needs a draft or an envelope", field=f"items[{i}]")
        principal = str(current_principal())
        receipt = await asyncio.to_thread(
            self._gw.publisher.publish, items, principal=principal, idempotency_key=request.idempotency_key
        )
        return exchange_pb2.PublishResponse(
            statements=[envelope_to_proto(e) for e in receipt.envelopes], replayed=receipt.replayed
        )

    # ------------------------------------------------------------ Screen

    async def Screen(self, request: exchange_pb2.ScreenRequest, context: Any) -> exchange_pb2.ScreenResponse:
        limits = self._gw.config.limits
        if len(request.shipments) > limits.max_screen_batch:
            raise ResourceExhausted(
                f"shipments: {len(request.shipments)} in one request; the limit is {limits.max_screen_batch}",
                limit="limits.max_screen_batch",
            )
        # O(shipments), before any per-identifier work: how much this call asks for, and
        # whether it names parties (names are scored against candidates, not read from an
        # index: never on the loop)
        total = 0
        named = False
        for s in request.shipments:
            total += len(s.shipper_ids) + len(s.consignee_ids)
            named = named or s.HasField("shipper") or s.HasField("consignee")
        if total > limits.max_screen_identifiers:
            raise ResourceExhausted(
                f"shipments: {total} identifiers in one request; the limit is {limits.max_screen_identifiers}",
                limit="limits.max_screen_identifiers",
            )
        if total <= INLINE_SCREEN_IDENTIFIERS and not named:
            response, counts = self._screen_response(request)
        else:
            response, counts = await asyncio.to_thread(self._screen_response, request)
        for recommendation, n in counts.items():
            self._recommendation_counter(recommendation).inc(n)
        return response

    def _recommendation_counter(self, recommendation: Recommendation) -> Any:
        """The gateway's screening counter for ``recommendation`` (the labelled child, kept)."""
        counter = self._counters.get(recommendation)
        if counter is None:
            counter = self._gw.metrics.recommendations.labels(recommendation.name)
            self._counters[recommendation] = counter
        return counter

    def _screen_response(
        self, request: exchange_pb2.ScreenRequest
    ) -> tuple[exchange_pb2.ScreenResponse, dict[Recommendation, int]]:
        """Screen every shipment; the response and how many shipments got each recommendation."""
        outcomes = self._screen(request)
        response = exchange_pb2.ScreenResponse()
        add = response.results.add
        counts: dict[Recommendation, int] = {}
        for outcome in outcomes:
            recommendation = outcome.recommendation
            counts[recommendation] = counts.get(recommendation, 0) + 1
            # built in place (no message copied whole); most shipments have no hit at all
            if _is_no_hit(outcome):
                add(reference=outcome.reference).MergeFromString(_NO_HIT_TAIL)
                continue
            result = add(
                reference=outcome.reference,
                recommendation=_PROTO_RECOMMENDATION[recommendation],
                reasons=outcome.reasons,
            )
            for d in outcome.designations:
                result.designations.add().MergeFromString(self._designation_match(d))
            for f in outcome.flags:
                result.flags.add().MergeFromString(self._flag_match(f))
        return response, counts

    def _screen(self, request: exchange_pb2.ScreenRequest) -> list[ScreeningOutcome]:
        """Check, normalise and screen every shipment (on a worker thread unless the call is small).

        Every shipment is checked in full and refused with the field it breaks; the common
        shape (plain text, identifiers only) takes the cheap route through the same checks.
        """
        limits = self._gw.config.limits
        max_ids = limits.max_shipment_identifiers
        max_chars = limits.max_text_chars
        queries = []
        for i, s in enumerate(request.shipments):
            shipper_pb, consignee_pb = s.shipper_ids, s.consignee_ids
            count = len(shipper_pb) + len(consignee_pb)
            if count > max_ids:
                raise ResourceExhausted(
                    f"shipments[{i}]: {count} shipper and consignee identifiers; "
                    f"the limit is {max_ids} per shipment",
                    limit="limits.max_shipment_identifiers",
                )
            raw = _plain_ids(s, shipper_pb, consignee_pb, max_chars)
            if raw is None:
                check_shipment_text(s, f"shipments[{i}]", max_chars=max_chars)
                raw = [(p.scheme, p.value) for p in shipper_pb], [(p.scheme, p.value) for p in consignee_pb]
            try:
                shipper_ids = _normal_keys(raw[0]) if raw[0] else ()
            except InvalidArgument:
                party_keys(shipper_pb, f"shipments[{i}].shipper_ids")  # raises it with the field
                raise
            try:
                consignee_ids = _normal_keys(raw[1]) if raw[1] else ()
            except InvalidArgument:
                party_keys(consignee_pb, f"shipments[{i}].consignee_ids")
                raise
            shipper = consignee = None
            if s.HasField("shipper"):
                shipper = manifest_party(s.shipper, shipper_ids, f"shipments[{i}].shipper")
            if s.HasField("consignee"):
                consignee = manifest_party(s.consignee, consignee_ids, f"shipments[{i}].consignee")
            goods = s.goods_description  # each read of a string field builds a new str
            if len(goods) > 4000:
                raise InvalidArgument(
                    f"is {len(goods)} characters; at most 4000",
                    field=f"shipments[{i}].goods_description",
                )
            if shipper is not None:
                shipper_ids = tuple(sorted(shipper.ids))
            if consignee is not None:
                consignee_ids = tuple(sorted(consignee.ids))
            if (
                not shipper_ids
                and not consignee_ids
                and not (
                    (shipper is not None and shipper.names) or (consignee is not None and consignee.names)
                )
            ):
                raise InvalidArgument(
                    "needs at least one identifier (shipper_ids, consignee_ids, shipper.ids) "
                    "or a shipper or consignee name",
                    field=f"shipments[{i}].shipper_ids",
                )
            queries.append(ShipmentQuery(s.reference, shipper_ids, consignee_ids, shipper, consignee, goods))
        return list(self._gw.screener.screen(queries))

    def _designation_match(self, d: DesignationHit) -> bytes:
        """One designation hit as a serialised DesignationMatch, built once per (statement as
        held, recognition, match)."""
        key = (*_held(d.stored), d.recognised, d.match)
        data = self._matches.get(key)
        if data is None:
            data = exchange_pb2.DesignationMatch(
                provenance=provenance(d.stored),
                designation=designation_to_proto(d.designation),
                recognised=d.recognised,
                match=match_to_proto(d.match),
            ).SerializeToString()
            self._remember(key, data)
        return data

    def _flag_match(self, f: FlagHit) -> bytes:
        """One flag hit as a serialised FlagMatch, built once per (statement as held, action, match)."""
        key = (*_held(f.stored), f.action, f.match)
        data = self._matches.get(key)
        if data is None:
            data = exchange_pb2.FlagMatch(
                provenance=provenance(f.stored),
                flag=flag_to_proto(f.flag),
                action=f.action.name,
                match=match_to_proto(f.match),
            ).SerializeToString()
            self._remember(key, data)
        return data

    def _remember(self, key: tuple[Any, ...], data: bytes) -> None:
        # Bounded by starting over when full: a plain dict stays safe to share between the
        # worker threads of concurrent Screens (each operation is atomic), unlike an LRU's
        # reordering; the hits of a screening stream repeat, so it refills at once. Kept
        # serialised: a few hundred bytes, where a message object holds several KB.
        if len(self._matches) >= MATCH_CACHE:
            self._matches.clear()
        self._matches[key] = data

    # ------------------------------------------------------------ Search

    async def Search(self, request: exchange_pb2.SearchRequest, context: Any) -> exchange_pb2.SearchResponse:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        name = request.name
        if not name.strip():
            raise InvalidArgument("required: the name to search for", field="name")
        if len(name) > DEFAULT_LIMITS.max_name_length:
            raise InvalidArgument(
                f"is {len(name)} characters; at most {DEFAULT_LIMITS.max_name_length}", field="name"
            )
        validate_manifest_party(Party(legal_name=name), field="search")
        country = request.country
        if country and (len(country) != 2 or not country.isascii() or not country.isupper()):
            raise InvalidArgument(
                f"{country[:8]!r} is not an ISO 3166-1 alpha-2 code like CN", field="country"
            )
        if request.limit > MAX_SEARCH_LIMIT:
            raise InvalidArgument(f"{request.limit} is more than {MAX_SEARCH_LIMIT}", field="limit")
        limit = request.limit or 10
        hits = await asyncio.to_thread(self._gw.screener.search, name, country=country, limit=limit)
        reader = current_principal().agency
        now = self._gw.screener.now()
        candidates = []
        for hit in hits:
            entries = []
            for s in hit.statements:
                env = s.envelope
                if env.body is not None and not env.header.readable_by(reader):
                    env = env.redact()
                current, status = self._currency(s, now)
                entries.append(
                    exchange_pb2.LookupEntry(
                        provenance=provenance(s),
                        envelope=envelope_to_proto(env),
                        current=current,
                        status=status,
                    )
                )
            candidates.append(
                exchange_pb2.SearchCandidate(
                    party=party_to_proto(hit.party), match=match_to_proto(hit.match), entries=entries
                )
            )
        return exchange_pb2.SearchResponse(candidates=candidates)

    # ------------------------------------------------------------ Lookup

    async def Lookup(self, request: exchange_pb2.LookupRequest, context: Any) -> exchange_pb2.LookupResponse:
        if not request.HasField("id"):
            raise InvalidArgument("required: a party identifier (scheme and value)", field="id")
        party = party_key(request.id, "id")
        # most parties asked about are named by no statement: the memory index proves it
        # (at the store's current position) with no store read of the party and no
        # worker thread, and the answer is the same empty one the store would give
        if self._gw.screener.index.names_nobody(party):
            return exchange_pb2.LookupResponse()
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        stored = await asyncio.to_thread(
            self._gw.store.lookup, *party, include_history=request.include_history
        )
        reader = current_principal().agency
        now = self._gw.screener.now()
        entries = []
        for s in stored:
            env = s.envelope
            # defence in depth: never hand a body to a caller outside its audience
            if env.body is not None and not env.header.readable_by(reader):
                env = env.redact()
            current, status = self._currency(s, now)
            entries.append(
                exchange_pb2.LookupEntry(
                    provenance=provenance(s), envelope=envelope_to_proto(env), current=current, status=status
                )
            )
        return exchange_pb2.LookupResponse(entries=entries)

    def _currency(self, s: StoredStatement, now: Any) -> tuple[bool, str]:  # noqa: PLR0911 - one return per reason
        if s.withdrawn_by:
            return False, f"withdrawn by {s.withdrawn_by[0]}#{s.withdrawn_by[1]}"
        if s.superseded_by:
            return False, f"superseded by {s.superseded_by[0]}#{s.superseded_by[1]}"
        if s.expires_at is not None and s.expires_at <= now:
            return False, f"expired {s.expires_at:%Y-%m-%dT%H:%M:%SZ}"
        if s.violation is not None:
            return False, f"kept as evidence only ({s.violation.split(':', 1)[0]})"
        env = s.envelope
        if env.body is not None and env.header.body_type == BodyType.DESIGNATION.value:
            try:
                body = decode_body(BodyType.DESIGNATION, env.body)
            except InvalidArgument:
                # never indexed by admission; left by an older gateway until rebuild-index
                return False, "undecodable body"
            if isinstance(body, Designation) and body.status is not None and body.status.value != "CERTIFIED":
                return False, body.status.value.lower()
        return True, "current"

    # ------------------------------------------------------------ Subscribe

    async def GetDirectory(
        self, request: exchange_pb2.GetDirectoryRequest, context: Any
    ) -> exchange_pb2.GetDirectoryResponse:
        if request.have_digest and not HEX_DIGEST.fullmatch(request.have_digest):
            raise InvalidArgument("must be 64 lowercase hex digits (or empty)", field="have_digest")
        if request.have_version >= 2**63:
            raise InvalidArgument(f"{request.have_version} is out of range", field="have_version")
        version, digest, documents, conflicting = await asyncio.to_thread(
            self._gw.directory_versions, request.have_version, request.have_digest
        )
        return exchange_pb2.GetDirectoryResponse(
            version=version, digest=digest, documents=documents, conflicting=conflicting
        )

    async def Subscribe(
        self, request: exchange_pb2.SubscribeRequest, context: Any
    ) -> AsyncIterator[exchange_pb2.SubscribeEvent]:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        body_types = subscribe_body_types(request)
        # partners' `borderx doctor` compares clocks with this (key ids and windows are time-bound)
        await context.send_initial_metadata(((SERVER_TIME_HEADER, datetime.now(UTC).isoformat()),))
        follow = FollowRequest(
            reader=current_principal().agency,
            have=dict(request.have),
            have_digests=dict(request.have_digests),
            issuers=frozenset(request.issuers),
            body_types=frozenset(body_types),
            follow=request.follow,
        )
        caller = current_principal()
        if caller.role == "gateway" and request.directory_version:
            self._gw.directory_announced(caller.agency, request.directory_version, request.directory_digest)
        principal = str(caller)
        stream = FollowerStream(self._gw.store, self._gw.feed, follow)
        try:
            async for event in stream.events():
                if isinstance(event, Envelope):
                    yield exchange_pb2.SubscribeEvent(statement=envelope_to_proto(event))
                elif isinstance(event, list):
                    batch = exchange_pb2.StatementBatch(statements=[envelope_to_proto(e) for e in event])
                    yield exchange_pb2.SubscribeEvent(batch=batch)
                elif isinstance(event, SignedCosignature):
                    yield exchange_pb2.SubscribeEvent(cosignature=signed_cosignature_to_proto(event))
                else:
                    yield exchange_pb2.SubscribeEvent(checkpoint=signed_checkpoint_to_proto(event))
        finally:
            # the audit trail of whose bodies went to whom (counts per issuer, never content)
            if stream.sent:
                audit.info(
                    "audit.statements_sent",
                    to=principal,
                    bodies={i: n[0] for i, n in stream.sent.items() if n[0]},
                    headers_only={i: n[1] for i, n in stream.sent.items() if n[1]},
                )
