"""deploy/grafana and deploy/prometheus name only metrics a running gateway exports, and
certificate and key expiry is visible in GetStatus, ``borderx status`` and the metric."""

from __future__ import annotations

import dataclasses
import json
import re
import socket
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from borderx._proto.borderx.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    exchange_pb2,
    exchange_pb2_grpc,
    statement_pb2,
)
from borderx.cli import main
from borderx.config import FederationConfig, ObservabilityConfig
from borderx.statements.body_codec import designation_to_proto
from tests.conftest import GatewayThread, channel, creds_for, gateway_config
from tests.integration.helpers import designation, platform

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "borderx-dashboard.json"
RULES = ROOT / "deploy" / "prometheus" / "borderx-alerts.yaml"
AU = "AU-ABF"
METRIC = re.compile(r"\bborderx_[a-z_]+\b")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def gateway(pki: Path, tmp_path: Path) -> Iterator[GatewayThread]:
    # one peer that never answers: its link exists, so per-peer series are exported
    config = dataclasses.replace(
        gateway_config(pki, AU, tmp_path),
        observability=ObservabilityConfig(metrics_listen="127.0.0.1:0"),
        federation=FederationConfig(
            peers=("NZ-CS",), endpoints={"NZ-CS": f"127.0.0.1:{closed_port()}"}, checkpoint_seconds=0.1
        ),
    )
    gw = GatewayThread(config)
    yield gw
    gw.stop()


def scrape(gw: GatewayThread) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{gw.running.metrics_port}/metrics", timeout=10) as reply:
        return reply.read().decode()


def exported(text: str) -> set[str]:
    """Names with a sample, and the families declared (a labelled counter with no event yet
    has its HELP line and no sample, e.g. verification failures on a healthy gateway)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("borderx_"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
        elif line.startswith("# HELP borderx_"):
            names.add(line.split(" ")[2])
    return names


def referenced() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    return {m for e in exprs for m in METRIC.findall(e)}


def exercise(gw: GatewayThread, pki: Path) -> None:
    """A publish (so a chain, a checkpoint and stored counters exist) and a Screen."""
    with channel(gw.target, creds_for(pki, AU, "service", server_agency=AU)) as ch:
        stub = exchange_pb2_grpc.ExchangeStub(ch)
        draft = exchange_pb2.Draft(designation=designation_to_proto(designation(AU, (platform("m"),))))
        stub.Publish(exchange_pb2.PublishRequest(items=[exchange_pb2.PublishItem(draft=draft)]), timeout=10)
        shipment = exchange_pb2.Shipment(
            reference="r", shipper_ids=[statement_pb2.PartyId(scheme="PLATFORM", value="shop:m")]
        )
        stub.Screen(exchange_pb2.ScreenRequest(shipments=[shipment]), timeout=10)


def test_every_metric_the_dashboard_and_rules_name_is_exported(gateway: GatewayThread, pki: Path) -> None:
    exercise(gateway, pki)
    # the checkpointer signs the new head within checkpoint_seconds: wait for it, not for a time
    deadline = time.monotonic() + 30
    text = scrape(gateway)
    while "borderx_checkpoint_age_seconds{" not in text and time.monotonic() < deadline:
        time.sleep(0.1)
        text = scrape(gateway)
    names = referenced()
    assert len(names) >= 15, names
    missing = sorted(n for n in names if n not in exported(text))
    assert missing == [], f"named in deploy/ but not exported: {missing}"
    assert 'borderx_peer_connected{peer="NZ-CS"} 0.0' in text
    assert 'borderx_open_alarms{kind="own_chain"} 0.0' in text
    assert 'borderx_open_alarms{kind="directory_divergence"} 0.0' in text
    screened = {
        ln.split('"')[1]: float(ln.rsplit(" ", 1)[1])
        for ln in text.splitlines()
        if ln.startswith("borderx_screening_recommendations_total{")
    }
    assert set(screened) == {"EXPEDITE", "STANDARD", "EXAMINE", "HOLD"}
    assert sum(screened.values()) == 1.0  # the one shipment screened


def test_dashboard_is_grafana_json_with_one_target_per_panel_at_least() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["panels"]
    assert all(p["targets"] and p["datasource"]["type"] == "prometheus" for p in dashboard["panels"])
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for wanted in ("lag", "stream", "checkpoint", "alarms", "rpc", "latency", "errors", "store", "screening"):
        assert wanted in titles, wanted


def test_expiry_in_get_status_the_metric_and_the_cli(
    gateway: GatewayThread, pki: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with channel(gateway.target, creds_for(pki, AU, "operator", server_agency=AU)) as ch:
        status = admin_pb2_grpc.AdminStub(ch).GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    own = x509.load_pem_x509_certificate((pki / AU / "gateway.pem").read_bytes())
    first = status.expiries[0]
    assert (first.kind, first.agency, first.subject) == (
        "gateway_certificate",
        AU,
        format(own.serial_number, "x"),
    )
    expected_days = (own.not_valid_after_utc - datetime.now(UTC)).total_seconds() / 86400
    assert abs(first.days_left - expected_days) < 0.1
    kinds = {(e.agency, e.kind) for e in status.expiries[1:]}
    assert ("NZ-CS", "ca_certificate") in kinds and ("NZ-CS", "signing_key") in kinds
    text = scrape(gateway)
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith("borderx_expiry_seconds{") and "gateway_certificate" in ln
    )
    assert abs(float(line.rsplit(" ", 1)[1]) / 86400 - expected_days) < 0.1
    args = ["--target", gateway.target, "--pki", str(pki), "--agency", AU, "--role", "operator"]
    assert main(["status", *args]) == 0
    out = capsys.readouterr().out
    assert "DAYS LEFT" in out
    row = next(ln for ln in out.splitlines() if "gateway_certificate" in ln)
    assert row.startswith(AU) and f"{expected_days:.0f}" in row.split()
    assert main(["status", *args, "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["expiries"][0]["kind"] == "gateway_certificate"
