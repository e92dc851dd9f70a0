"""Five real gateway processes replicating over mutual TLS through proxies: DESIGN §7 checked end to end."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc, statement_pb2
from borderx.statements.bodies import Evidence, FlagCategory, PartyId
from tests.conftest import channel, creds_for
from tests.federation.conftest import FederationFactory
from tests.integration.helpers import designation, flag, platform

ALL = ["US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC"]


def test_full_mesh_converges_and_bodies_reach_only_their_audience(federation: FederationFactory) -> None:
    fed = federation(ALL)
    for agency in ALL:
        fed.publish(agency, [designation(agency, (platform(f"{agency}-{i}"),)) for i in range(3)])
    secret = fed.publish("US-CBP", [flag((platform("secret"),), FlagCategory.IPR_COUNTERFEIT, Evidence.CONFIRMED)],
                         audience=("CA-CBSA",))[0]  # fmt: skip
    heads = fed.wait_converged()
    assert {issuer: seq for issuer, (seq, _) in heads.items()} == {
        a: (4 if a == "US-CBP" else 3) for a in ALL
    }
    for agency in ALL:
        assert not fed.missing(agency)
        statements = {(i, s): has_body for i, s, _, has_body in fed.statements(agency)}
        assert len(statements) == 16  # nothing lost, nothing twice
        assert statements[secret] is (agency in ("US-CBP", "CA-CBSA"))  # the header alone elsewhere
        assert not fed.alarms(agency)


def test_relay_through_a_third_gateway_when_the_direct_link_is_cut(federation: FederationFactory) -> None:
    fed = federation(["AU-ABF", "NZ-CS", "CA-CBSA"])
    fed.cut("CA-CBSA", "AU-ABF")  # both directions of the AU-ABF ↔ CA-CBSA link
    fed.publish("AU-ABF", [designation("AU-ABF", (platform("relayed"),))])
    fed.wait_for("CA-CBSA", "AU-ABF", 1, timeout=15)
    stored = fed.store("CA-CBSA").get("AU-ABF", 1)
    assert stored is not None and stored.received_from == "NZ-CS"
    fed.restore("CA-CBSA", "AU-ABF")
    fed.wait_converged()


def test_partition_then_heal_converges_with_nothing_lost_or_duplicated(federation: FederationFactory) -> None:
    fed = federation(ALL)
    fed.partition(["US-CBP", "AU-ABF"], ["NZ-CS", "CA-CBSA", "GB-HMRC"])
    for round_ in range(3):
        for agency in ALL:
            fed.publish(agency, [designation(agency, (platform(f"p{round_}-{agency}"),))])
    time.sleep(0.5)
    assert fed.heads("US-CBP").get("NZ-CS") is None  # the partition holds
    fed.heal()
    heads = fed.wait_converged()
    assert all(seq == 3 for seq, _ in heads.values())
    for agency in ALL:
        assert not fed.missing(agency)
        keys = [(i, s) for i, s, _, _ in fed.statements(agency)]
        assert len(keys) == len(set(keys)) == 15


def test_kill_9_a_receiving_gateway_mid_stream_ten_times(federation: FederationFactory) -> None:
    fed = federation(["AU-ABF", "NZ-CS", "CA-CBSA"])
    stop = threading.Event()
    failures: list[BaseException] = []

    def publish_forever() -> None:
        n = 0
        while not stop.is_set():
            try:
                fed.publish("AU-ABF", [designation("AU-ABF", (platform(f"k{n}-{j}"),)) for j in range(20)])
            except BaseException as exc:
                failures.append(exc)
                return
            n += 1

    publisher = threading.Thread(target=publish_forever)
    publisher.start()
    try:
        for _ in range(10):
            time.sleep(0.3)
            fed.kill9("CA-CBSA")
            time.sleep(0.1)
            fed.restart("CA-CBSA")
    finally:
        stop.set()
        publisher.join(30)
    assert not failures, failures
    heads = fed.wait_converged(timeout=60)
    total = heads["AU-ABF"][0]
    assert total >= 200
    keys = [(i, s) for i, s, _, _ in fed.statements("CA-CBSA")]
    assert keys == sorted(set(keys)) and len(keys) == total
    assert not fed.missing("CA-CBSA")
    assert not fed.alarms("CA-CBSA")


def test_screening_at_au_abf_reflects_partner_designations(federation: FederationFactory, pki: Path) -> None:
    fed = federation(["US-CBP", "AU-ABF", "NZ-CS"])
    nz_trader, us_trader = platform("kiwi-exports"), platform("yankee-imports")
    fed.publish("NZ-CS", [designation("NZ-CS", (nz_trader,))])
    fed.publish("US-CBP", [designation("US-CBP", (us_trader,))])
    fed.wait_converged()
    results = screen(fed, pki, "AU-ABF", [nz_trader, us_trader])
    nz, us = results
    assert exchange_pb2.Recommendation.Name(nz.recommendation) == "EXPEDITE"
    assert [d.recognised for d in nz.designations] == [True]  # AU–NZ arrangement (2016)
    assert exchange_pb2.Recommendation.Name(us.recommendation) == "STANDARD"
    assert [d.recognised for d in us.designations] == [False]  # no US–AU arrangement: shown, not recognised
    assert us.designations[0].provenance.issuer == "US-CBP"


def screen(fed, pki: Path, agency: str, parties: list[PartyId]) -> list[exchange_pb2.ScreeningResult]:  # type: ignore[no-untyped-def]
    shipments = [
        exchange_pb2.Shipment(
            reference=p.value, shipper_ids=[statement_pb2.PartyId(scheme=p.scheme, value=p.value)]
        )
        for p in parties
    ]
    gw = fed.gateway(agency)
    with channel(gw.target, creds_for(pki, agency, "service", server_agency=agency)) as ch:
        return list(
            exchange_pb2_grpc.ExchangeStub(ch)
            .Screen(exchange_pb2.ScreenRequest(shipments=shipments), timeout=10)
            .results
        )


def test_equivocation_is_detected_by_every_gateway_that_sees_both_versions(
    federation: FederationFactory, pki: Path
) -> None:
    from datetime import UTC, datetime

    from borderx.screening.index import index_effects
    from borderx.statements.body_codec import encode_body
    from borderx.statements.model import GENESIS_DIGEST
    from borderx.statements.signing import load_signing_key, sign_statement
    from borderx.store import NewStatement

    fed = federation(["AU-ABF", "NZ-CS", "CA-CBSA"])
    fed.terminate("CA-CBSA")
    fed.publish("NZ-CS", [designation("NZ-CS", (platform("honest"),))])
    fed.wait_for("AU-ABF", "NZ-CS", 1)
    # NZ-CS's key signs a different statement at the same seq; CA-CBSA holds that one
    body = encode_body(designation("NZ-CS", (platform("forked"),)))
    fork = sign_statement(load_signing_key(pki / "NZ-CS" / "signing.key"), issuer="NZ-CS", seq=1,
                          prev_digest=GENESIS_DIGEST, issued_at=datetime.now(UTC), body_type="designation", body=body)  # fmt: skip
    fed.store("CA-CBSA").append([NewStatement(fork, "NZ-CS", index_effects(fork))])
    fed.restart("CA-CBSA")
    deadline = time.monotonic() + 20
    seen: dict[str, bool] = {}
    # partners see equivocation; NZ-CS itself sees proof that its own key signed a statement
    # it never made (the loudest alarm), and never suspends itself
    expected = {"AU-ABF": "equivocation", "NZ-CS": "own_chain", "CA-CBSA": "equivocation"}
    while time.monotonic() < deadline:
        seen = {a: any(x.kind == kind for x in fed.status(a).alarms) for a, kind in expected.items()}
        if all(seen.values()):
            break
        time.sleep(0.1)
    assert all(seen.values()), seen
    for agency in ("AU-ABF", "NZ-CS", "CA-CBSA"):
        status = fed.status(agency)
        suspended = [i.suspended for i in status.issuers if i.issuer == "NZ-CS"]
        assert suspended == ([False] if agency == "NZ-CS" else [True])
    # NZ-CS can still publish: a forgery in its name does not silence it
    fed.publish("NZ-CS", [designation("NZ-CS", (platform("after"),))])


def test_a_seller_flagged_by_name_at_nz_cs_is_screened_by_name_at_au_abf(
    federation: FederationFactory, pki: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from borderx.statements.bodies import Address, Party, Severity, ViolationFlag

    fed = federation(["AU-ABF", "NZ-CS"])
    seller = Party(
        legal_name="Yiwu Kaixin Gifts Co Ltd",
        address=Address(lines=("88 Binhe Road",), city="Yiwu", postal_code="322000", country="CN"),
        phones=("+86 579 8555 1234",),  # normalised to E.164 by NZ-CS's Publish
    )
    observed = datetime.now(UTC) - timedelta(days=1)
    fed.publish(
        "NZ-CS",
        [
            ViolationFlag(
                subject=seller,
                category=FlagCategory.IPR_COUNTERFEIT,
                evidence=Evidence.CONFIRMED,
                severity=Severity.HIGH,
                observed_at=observed,
            )
        ],
    )
    fed.wait_converged()
    gw = fed.gateway("AU-ABF")
    shipments = [
        exchange_pb2.Shipment(
            reference="by-name",
            shipper=statement_pb2.Party(
                legal_name="KAIXIN GIFTS (YIWU)", address=statement_pb2.Address(country="CN")
            ),
        ),
        exchange_pb2.Shipment(
            reference="by-phone", shipper=statement_pb2.Party(legal_name="KX", phones=["+8657985551234"])
        ),
    ]
    with channel(gw.target, creds_for(pki, "AU-ABF", "service", server_agency="AU-ABF")) as ch:
        results = exchange_pb2_grpc.ExchangeStub(ch).Screen(
            exchange_pb2.ScreenRequest(shipments=shipments), timeout=10
        )
    by_name, by_phone = results.results
    assert exchange_pb2.Recommendation.Name(by_name.recommendation) == "EXAMINE", list(by_name.reasons)
    assert by_name.flags[0].match.basis == "NAME" and by_name.flags[0].provenance.received_from == "NZ-CS"
    assert exchange_pb2.Recommendation.Name(by_phone.recommendation) == "HOLD"
    assert by_phone.flags[0].match.basis == "CONTACT"
