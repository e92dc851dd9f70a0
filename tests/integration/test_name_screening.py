"""Screening by name, contact and account through a real AU-ABF gateway over mutual TLS (issue #13).

Partner flags on sellers known only by name, address and contacts are signed with the
partners' real keys and stored as replication stores them; a home service screens
manifests that spell the sellers differently, and an operator searches by name. The CLI
runs the same through ``borderx import``/``screen``/``search``.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import grpc
import pytest

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc, statement_pb2
from borderx.cli import main
from borderx.statements.bodies import (
    Address,
    Evidence,
    FlagCategory,
    Party,
    PartyId,
    Severity,
    ViolationFlag,
)
from tests.conftest import GatewayThread, channel, creds_for, gateway_config
from tests.integration.helpers import NOW, Issuers, designation

AU = "AU-ABF"
HONGDA = Party(
    legal_name="SHENZHEN HONGDA TRADING CO LTD",
    address=Address(lines=("12 Bao An Road",), city="Shenzhen", postal_code="518000", country="CN"),
    emails=("sales@hongda.example",),
)


def counterfeit(subject: Party) -> ViolationFlag:
    return ViolationFlag(
        subject=subject,
        category=FlagCategory.IPR_COUNTERFEIT,
        evidence=Evidence.CONFIRMED,
        severity=Severity.HIGH,
        observed_at=NOW - timedelta(days=2),
    )


@pytest.fixture(scope="module")
def au(pki: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    gw = GatewayThread(gateway_config(pki, AU, tmp_path_factory.mktemp("names")))
    world = Issuers(pki, gw.gateway.store, receiver=AU)
    world.put("NZ-CS", counterfeit(HONGDA))
    trusted = designation("CA-CBSA", (PartyId("PLATFORM", "shop:maple-goods"),))
    world.put("CA-CBSA", trusted)
    yield gw
    gw.stop()


def stub(
    gw: GatewayThread, pki: Path, role: str = "service"
) -> tuple[grpc.Channel, exchange_pb2_grpc.ExchangeStub]:
    ch = channel(gw.target, creds_for(pki, AU, role, server_agency=AU))
    return ch, exchange_pb2_grpc.ExchangeStub(ch)


def party(name: str, **fields: object) -> statement_pb2.Party:
    return statement_pb2.Party(legal_name=name, **fields)  # type: ignore[arg-type]


def test_screen_by_name_contact_and_account(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    shipments = [
        # a name alone, spelt another way: EXAMINE, not HOLD
        exchange_pb2.Shipment(
            reference="by-name",
            shipper=party(
                "Shenzhen Hong Da Trading Company Limited", address=statement_pb2.Address(country="CN")
            ),
            goods_description="phone cases",
        ),
        # the seller's e-mail, in another case: the flag's full action
        exchange_pb2.Shipment(reference="by-mail", shipper=party("HD Shop", emails=["Sales@HongDa.example"])),
        # a different distinctive word: no match
        exchange_pb2.Shipment(
            reference="other", shipper=party("Shenzhen Hongxin Trading Co Ltd", address=HONGDA_ADDRESS)
        ),
        # the seller account in shipper.ids: ACCOUNT, recognised CA_PIP → EXPEDITE
        exchange_pb2.Shipment(
            reference="by-account",
            shipper=party(
                "Maple Goods", ids=[statement_pb2.PartyId(scheme="PLATFORM", value="shop:maple-goods")]
            ),
        ),
        # the trusted trader's name without its account: never expedited
        exchange_pb2.Shipment(reference="copycat", shipper=party("Trader shop:maple-goods")),
    ]
    ch, s = stub(au, pki)
    with ch:
        response = s.Screen(exchange_pb2.ScreenRequest(shipments=shipments), timeout=30)
    results = {r.reference: r for r in response.results}
    name = exchange_pb2.Recommendation.Name

    by_name = results["by-name"]
    assert name(by_name.recommendation) == "EXAMINE", list(by_name.reasons)
    [flag] = by_name.flags
    assert (flag.match.basis, flag.match.party) == ("NAME", "shipper")
    assert flag.match.score >= 0.85 and "country CN = CN" in flag.match.evidence
    assert name(flag.action) == "EXAMINE"
    assert any("NAME 0." in r for r in by_name.reasons)

    assert name(results["by-mail"].recommendation) == "HOLD"
    assert results["by-mail"].flags[0].match.basis == "CONTACT"
    assert name(results["other"].recommendation) == "STANDARD" and not results["other"].flags

    account = results["by-account"]
    assert name(account.recommendation) == "EXPEDITE", list(account.reasons)
    assert account.designations[0].match.basis == "ACCOUNT" and account.designations[0].recognised

    copycat = results["copycat"]
    assert name(copycat.recommendation) == "STANDARD"
    assert [d.recognised for d in copycat.designations] == [False]
    assert copycat.designations[0].match.basis == "NAME"
    assert any("identity not proven" in r for r in copycat.reasons)


HONGDA_ADDRESS = statement_pb2.Address(
    lines=["12 Bao An Road"], city="Shenzhen", postal_code="518000", country="CN"
)


@pytest.mark.parametrize(
    ("shipment", "field", "code"),
    [
        (exchange_pb2.Shipment(reference="x"), "shipments[0].shipper_ids", grpc.StatusCode.INVALID_ARGUMENT),
        (
            exchange_pb2.Shipment(reference="x", shipper=party("A", emails=["nope"])),
            "shipments[0].shipper.emails[0]",
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            exchange_pb2.Shipment(reference="x", shipper=party("A", phones=["12"])),
            "shipments[0].shipper.phones[0]",
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            exchange_pb2.Shipment(reference="x", consignee=party("A\u202eB")),
            "shipments[0].consignee.legal_name",
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
)
def test_bad_manifest_parties_are_refused_naming_the_field(au, pki: Path, shipment, field: str, code) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki)
    with ch, pytest.raises(grpc.RpcError) as caught:
        s.Screen(exchange_pb2.ScreenRequest(shipments=[shipment]), timeout=10)
    assert caught.value.code() == code
    assert field in caught.value.details()


def test_search_by_name(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    ch, s = stub(au, pki, role="operator")
    with ch:
        found = s.Search(exchange_pb2.SearchRequest(name="hongda trading", country="CN"), timeout=10)
        assert [c.party.legal_name for c in found.candidates] == ["SHENZHEN HONGDA TRADING CO LTD"]
        [candidate] = found.candidates
        assert candidate.match.basis == "NAME" and candidate.match.score >= 0.85
        assert [(e.provenance.issuer, e.current) for e in candidate.entries] == [("NZ-CS", True)]
        assert not s.Search(exchange_pb2.SearchRequest(name="Hongxin Trading"), timeout=10).candidates
        for request, field in (
            (exchange_pb2.SearchRequest(name=" "), "name"),
            (exchange_pb2.SearchRequest(name="x", country="cn"), "country"),
            (exchange_pb2.SearchRequest(name="x", limit=1000), "limit"),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                s.Search(request, timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in caught.value.details()


def test_search_is_for_home_systems_only(au, pki: Path) -> None:  # type: ignore[no-untyped-def]
    with (
        channel(au.target, creds_for(pki, "NZ-CS", "gateway", server_agency=AU)) as ch,
        pytest.raises(grpc.RpcError) as caught,
    ):
        exchange_pb2_grpc.ExchangeStub(ch).Search(exchange_pb2.SearchRequest(name="hongda"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


def cli(gw: GatewayThread, pki: Path, *args: str, role: str = "service") -> list[str]:
    return [*args, "--target", gw.target, "--pki", str(pki), "--agency", AU, "--role", role]


def test_cli_import_screen_and_search_by_name(
    au, pki: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    flags = tmp_path / "flags.csv"
    flags.write_text(
        "category,evidence,severity,observed_at,expires_at,legal_name,country,identifiers,summary,"
        "trading_names,address,emails,phones\n"
        f"IPR_COUNTERFEIT,CONFIRMED,HIGH,{(NOW - timedelta(days=1)):%Y-%m-%d},,Yiwu Kaixin Gifts Co Ltd,CN,,"
        'fake watches,Kaixin Gifts;KX Gifts,"88 Binhe Road, Yiwu 322000",kx@kaixin.example,+86 579 8555 1234\n'
    )
    assert main([*cli(au, pki, "import", str(flags))]) == 0, capsys.readouterr()
    capsys.readouterr()

    manifest = tmp_path / "screen.csv"
    manifest.write_text(
        "reference,identifiers,origin,declared_value,currency,hs_codes,shipper_name,shipper_address,"
        "shipper_country,shipper_email,shipper_phone,consignee_name,consignee_address,consignee_country,"
        "consignee_identifiers,goods_description\n"
        "AWB1,,CN,,,,KAIXIN GIFTS CO.,,CN,,,Jane Citizen,1 George St Sydney,AU,,watches\n"
        "AWB2,,CN,,,,Somebody Else,,CN,,+86 579 8555 1234,,,,,watches\n"
        "AWB3,,CN,,,,Yiwu Kaiyuan Gifts Co Ltd,88 Binhe Road,CN,,,,,,,watches\n"
    )
    assert main([*cli(au, pki, "screen", str(manifest)), "--output", "json"]) == 0
    views = {v["reference"]: v for v in json.loads(capsys.readouterr().out)}
    assert views["AWB1"]["recommendation"] == "EXAMINE"
    assert views["AWB1"]["flags"][0]["match"]["basis"] == "NAME"
    assert views["AWB1"]["flags"][0]["match"]["party"] == "shipper"
    assert views["AWB2"]["recommendation"] == "HOLD"
    assert views["AWB2"]["flags"][0]["match"]["basis"] == "CONTACT"
    assert views["AWB3"]["recommendation"] == "STANDARD"

    assert (
        main([*cli(au, pki, "search", "kaixin gifts", "--country", "CN", "--limit", "3"), "--output", "json"])
        == 0
    )
    [candidate] = json.loads(capsys.readouterr().out)
    assert candidate["party"]["legal_name"] == "Yiwu Kaixin Gifts Co Ltd"
    assert candidate["party"]["phones"] == ["+8657985551234"]
    assert candidate["match"]["basis"] == "NAME" and candidate["match"]["score"] >= 0.85
    assert candidate["entries"][0]["current"] is True
    assert main([*cli(au, pki, "search", "kaixin gifts", role="operator")]) == 0
    assert "Yiwu Kaixin Gifts Co Ltd (CN)" in capsys.readouterr().out
