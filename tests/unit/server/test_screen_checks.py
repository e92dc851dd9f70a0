"""The cheap route of Screen's per-shipment checks refuses what the full checks refuse (server/exchange.py).

``shipment_text_is_plain`` may send a harmless shipment to ``check_shipment_text`` but must
never pass one that ``check_shipment_text`` refuses; ``party_keys`` remembers normal forms,
never refusals, and names the field of every refusal; a hit's message follows the
statement as held (verification, arrival), not only its content.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx._proto.borderx.v1 import exchange_pb2, statement_pb2
from borderx.errors import InvalidArgument
from borderx.screening.engine import DesignationHit
from borderx.screening.names import Match
from borderx.server.exchange import (
    MAX_HS_CODES,
    ExchangeServicer,
    check_shipment_text,
    party_keys,
    shipment_text_is_plain,
)
from borderx.statements.body_codec import encode_body
from borderx.statements.model import GENESIS_DIGEST
from borderx.statements.rules import check_text
from borderx.statements.signing import Signer, sign_statement
from borderx.store.base import StoredStatement
from tests.bench._world import designation_body

MAX = 256
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _shipment(**fields: object) -> exchange_pb2.Shipment:
    base: dict[str, object] = {
        "reference": "ref-1",
        "shipper_ids": [statement_pb2.PartyId(scheme="PLATFORM", value="shop:seller-1")],
        "origin_country": "CN",
        "declared_value": statement_pb2.Money(currency="USD", minor_units=100),
        "hs_codes": ["610910"],
        "platform": "shop",
    }
    base.update(fields)
    return exchange_pb2.Shipment(**base)  # type: ignore[arg-type]


def _refused_field(shipment: exchange_pb2.Shipment) -> str | None:
    try:
        check_shipment_text(shipment, "shipments[0]", max_chars=MAX)
    except InvalidArgument as exc:
        return exc.field
    return None


def test_every_character_check_text_refuses_is_unprintable() -> None:
    refused = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        try:
            check_text(char, "f", max_length=MAX)
        except InvalidArgument:
            refused.append(char)
    assert len(refused) > 60  # C0, C1, separators and bidi controls
    assert not [c for c in refused if c.isprintable()]


BAD = ("\n", "\x00", "\x1b", "\x85", "\u2028", "\u202e", "\u2066")


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        (lambda v: {"reference": f"ref{v}"}, "shipments[0].reference"),
        (lambda v: {"origin_country": v}, "shipments[0].origin_country"),
        (lambda v: {"platform": f"shop{v}"}, "shipments[0].platform"),
        (lambda v: {"hs_codes": ["610910", f"64{v}"]}, "shipments[0].hs_codes[1]"),
        (
            lambda v: {"declared_value": statement_pb2.Money(currency=f"US{v}", minor_units=1)},
            "shipments[0].declared_value.currency",
        ),
        (
            lambda v: {"shipper_ids": [statement_pb2.PartyId(scheme=f"PLATFORM{v}", value="shop:a")]},
            "shipments[0].shipper_ids[0].scheme",
        ),
        (
            lambda v: {"consignee_ids": [statement_pb2.PartyId(scheme="PLATFORM", value=f"shop:a{v}")]},
            "shipments[0].consignee_ids[0].value",
        ),
    ],
)
def test_a_refused_character_in_any_field_leaves_the_cheap_route(bad, fields, field) -> None:  # type: ignore[no-untyped-def]
    shipment = _shipment(**fields(bad))
    assert not shipment_text_is_plain(shipment, max_chars=MAX)
    assert _refused_field(shipment) == field


def test_an_overlong_field_or_too_many_codes_leaves_the_cheap_route() -> None:
    long = _shipment(consignee_ids=[statement_pb2.PartyId(scheme="PLATFORM", value="shop:" + "a" * MAX)])
    assert not shipment_text_is_plain(long, max_chars=MAX)
    assert _refused_field(long) == "shipments[0].consignee_ids[0].value"
    many = _shipment(hs_codes=["610910"] * (MAX_HS_CODES + 1))
    assert not shipment_text_is_plain(many, max_chars=MAX)
    assert _refused_field(many) == "shipments[0].hs_codes"


def test_plain_shipments_take_the_cheap_route_and_pass_the_full_check() -> None:
    at_limit = _shipment(reference="r" * MAX, platform="p" * MAX)  # together over the limit, each within
    for shipment in (
        _shipment(),
        _shipment(declared_value=None, hs_codes=[]),
        _shipment(reference="ß é 中"),
        at_limit,
    ):
        assert shipment_text_is_plain(shipment, max_chars=MAX)
        assert _refused_field(shipment) is None
    # harmless but unprintable: the full check decides (and passes it)
    nbsp = _shipment(reference="ref\u00a01")
    assert not shipment_text_is_plain(nbsp, max_chars=MAX)
    assert _refused_field(nbsp) is None


def _ids(*values: tuple[str, str]) -> list[statement_pb2.PartyId]:
    return [statement_pb2.PartyId(scheme=s, value=v) for s, v in values]


def test_party_keys_remember_normal_forms_and_never_refusals() -> None:
    good = ("ABN", "51 824 753 556")
    assert party_keys(_ids(good), "f") == (("ABN", "51824753556"),)
    # the same spelling again (remembered), another spelling of it, and repeats folded
    assert party_keys(_ids(good, ("abn", "51824753556"), good), "f") == (("ABN", "51824753556"),)
    for _ in range(2):  # a refusal is decided afresh every time, with its own field path
        with pytest.raises(InvalidArgument) as exc:
            party_keys(_ids(good, ("ABN", "51 824 753 557")), "shipments[7].shipper_ids")
        assert exc.value.field == "shipments[7].shipper_ids[1].value"
        assert "mod-89" in str(exc.value)
    with pytest.raises(InvalidArgument) as exc:
        party_keys(_ids(("NOPE", "x")), "shipments[0].consignee_ids")
    assert exc.value.field == "shipments[0].consignee_ids[0].scheme"


def _stored(*, verified: bool, received_from: str) -> StoredStatement:
    env = sign_statement(
        Signer(Ed25519PrivateKey.generate()),
        issuer="AU-ABF",
        seq=1,
        prev_digest=GENESIS_DIGEST,
        issued_at=NOW,
        body_type="designation",
        body=encode_body(designation_body(1)),
    )
    return StoredStatement(env, b"", received_from, NOW, verified=verified)


def test_a_hit_message_follows_the_statement_as_held() -> None:
    servicer = ExchangeServicer(SimpleNamespace())  # type: ignore[arg-type]
    match = Match("ACCOUNT", 1.0, "shipper", ("PLATFORM account agrees",))
    pending = _stored(verified=False, received_from="AU-ABF")
    checked = StoredStatement(pending.envelope, b"", "AU-ABF", NOW, verified=True)
    body = designation_body(1)

    def match_of(hit: DesignationHit) -> exchange_pb2.DesignationMatch:
        return exchange_pb2.DesignationMatch.FromString(servicer._designation_match(hit))

    first = match_of(DesignationHit(pending, body, True, match))
    assert not first.provenance.verified and first.recognised
    # reused, not rebuilt
    assert servicer._designation_match(
        DesignationHit(pending, body, True, match)
    ) is servicer._designation_match(DesignationHit(pending, body, True, match))
    later = match_of(DesignationHit(checked, body, True, match))
    assert later.provenance.verified and later != first
    unrecognised = match_of(DesignationHit(checked, body, False, match))
    assert not unrecognised.recognised
    assert later.designation == unrecognised.designation and later.designation.party.legal_name
