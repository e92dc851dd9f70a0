"""What ``borderx demo`` shows once its gateways are up: sample data, then statements flowing.

It publishes the sample designations and flags at their issuers' gateways, then publishes
one designation at AU-ABF and one flag at US-CBP and times their arrival at every gateway
(polling Lookup), and finally screens the designated shipper everywhere to show mutual
recognition at work (AU_ATT is recognised by NZ-CS and CA-CBSA, not by US-CBP or GB-HMRC).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc, statement_pb2
from borderx.cli.publish_cmd import draft_item
from borderx.cli.samples import sample_statements
from borderx.statements.bodies import (
    Body,
    Designation,
    DesignationStatus,
    Evidence,
    FlagCategory,
    Outcome,
    Party,
    PartyId,
    Severity,
    ViolationFlag,
)

ARRIVAL_TIMEOUT = 15.0


@contextmanager
def _stub(pki: Path, agency: str, port: int, role: str) -> Iterator[exchange_pb2_grpc.ExchangeStub]:
    folder = pki / agency
    creds = grpc.ssl_channel_credentials(
        root_certificates=(folder / "ca.pem").read_bytes(),
        private_key=(folder / f"{role}.key").read_bytes(),
        certificate_chain=(folder / f"{role}.pem").read_bytes(),
    )
    with grpc.secure_channel(f"localhost:{port}", creds) as channel:
        yield exchange_pb2_grpc.ExchangeStub(channel)


def publish_samples(pki: Path, ports: dict[str, int], say: Callable[[str], None]) -> None:
    by_issuer: dict[str, list[exchange_pb2.PublishItem]] = {}
    for sample in sample_statements():
        if sample.issuer in ports:
            by_issuer.setdefault(sample.issuer, []).append(draft_item(sample.body, sample.audience))
    for issuer, items in by_issuer.items():
        with _stub(pki, issuer, ports[issuer], "service") as stub:
            reply = stub.Publish(
                exchange_pb2.PublishRequest(idempotency_key=f"demo-samples-{issuer}", items=items), timeout=30
            )
        say(
            f"  {issuer:<8} published {len(reply.statements)} sample statements"
            + (" (already there)" if reply.replayed else "")
        )


def _arrival(
    pki: Path, ports: dict[str, int], party: PartyId, issuer: str, start: float
) -> dict[str, float | None]:
    pid = statement_pb2.PartyId(scheme=party.scheme, value=party.value)
    arrived: dict[str, float | None] = dict.fromkeys(ports)
    with _stub_many(pki, ports) as stubs:
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        while any(v is None for v in arrived.values()) and time.monotonic() < deadline:
            for agency, stub in stubs.items():
                if arrived[agency] is not None:
                    continue
                reply = stub.Lookup(exchange_pb2.LookupRequest(id=pid), timeout=5)
                if any(e.provenance.issuer == issuer for e in reply.entries):
                    arrived[agency] = time.monotonic() - start
            time.sleep(0.002)
    return arrived


@contextmanager
def _stub_many(pki: Path, ports: dict[str, int]) -> Iterator[dict[str, exchange_pb2_grpc.ExchangeStub]]:
    channels = []
    stubs = {}
    try:
        for agency, port in ports.items():
            folder = pki / agency
            creds = grpc.ssl_channel_credentials(
                root_certificates=(folder / "ca.pem").read_bytes(),
                private_key=(folder / "operator.key").read_bytes(),
                certificate_chain=(folder / "operator.pem").read_bytes(),
            )
            channel = grpc.secure_channel(f"localhost:{port}", creds)
            channels.append(channel)
            stubs[agency] = exchange_pb2_grpc.ExchangeStub(channel)
        yield stubs
    finally:
        for channel in channels:
            channel.close()


def show_flow(pki: Path, ports: dict[str, int], say: Callable[[str], None]) -> bool:
    """Publish one designation at AU-ABF and one flag at US-CBP; time their arrival everywhere."""
    now = datetime.now(UTC)
    tag = now.strftime("%H%M%S")
    trader = PartyId("PLATFORM", f"shopfront:kangaroo-outfitters-{tag}")
    showcase: list[tuple[str, Body, PartyId]] = []
    if "AU-ABF" in ports:
        showcase.append(
            (
                "AU-ABF",
                Designation(
                    party=Party(legal_name=f"Kangaroo Outfitters Pty Ltd ({tag})", ids=(trader,)),
                    programme="AU_ATT",
                    member_id=f"ATT-{tag}",
                    status=DesignationStatus.CERTIFIED,
                    valid_from=now - timedelta(days=1),
                    valid_until=now + timedelta(days=365),
                    consent_to_share=True,
                ),
                trader,
            )
        )
    seller = PartyId("PLATFORM", f"marketplace:fake-sneakers-{tag}")
    if "US-CBP" in ports:
        showcase.append(
            (
                "US-CBP",
                ViolationFlag(
                    subject=Party(legal_name=f"Fast Sneaker Trading Co ({tag})", ids=(seller,)),
                    category=FlagCategory.IPR_COUNTERFEIT,
                    evidence=Evidence.CONFIRMED,
                    outcomes=(Outcome.SEIZURE,),
                    severity=Severity.HIGH,
                    observed_at=now - timedelta(hours=2),
                    expires_at=now + timedelta(days=365),
                    summary="Counterfeit branded footwear seized at JFK, 40 parcels",
                ),
                seller,
            )
        )
    ok = True
    for issuer, body, party in showcase:
        what = "designation" if isinstance(body, Designation) else "flag"
        with _stub(pki, issuer, ports[issuer], "service") as stub:
            stub.Lookup(
                exchange_pb2.LookupRequest(id=statement_pb2.PartyId(scheme=party.scheme, value=party.value))
            )
            start = time.monotonic()  # the channel is up: time the statement, not the TLS handshake
            stub.Publish(exchange_pb2.PublishRequest(items=[draft_item(body)]), timeout=10)
        arrived = _arrival(pki, ports, party, issuer, start)
        say(f"\n{what} published at {issuer} for {party.scheme}:{party.value}:")
        for agency, seconds in arrived.items():
            shown = f"{seconds * 1000:7.1f} ms" if seconds is not None else "  not arrived"
            say(f"  {agency:<8} {shown}")
            ok = ok and seconds is not None
    if "AU-ABF" in ports:
        say(f"\nscreening a parcel from {trader.value} at every gateway:")
        shipment = exchange_pb2.Shipment(
            reference="DEMO-1",
            shipper_ids=[statement_pb2.PartyId(scheme=trader.scheme, value=trader.value)],
            origin_country="AU",
        )
        with _stub_many(pki, ports) as stubs:
            for agency, stub in stubs.items():
                result = stub.Screen(exchange_pb2.ScreenRequest(shipments=[shipment]), timeout=10).results[0]
                rec = exchange_pb2.Recommendation.Name(result.recommendation)
                say(f"  {agency:<8} {rec:<9} {result.reasons[0] if result.reasons else ''}")
    return ok
