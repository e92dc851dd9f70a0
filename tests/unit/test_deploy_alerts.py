"""deploy/prometheus: the alerting rules pass ``promtool check rules``, and
``promtool test rules`` runs one unit test per alert (Debian's ``prometheus`` package ships
promtool; ``make test`` installs it when absent on a Debian machine run as root)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
RULES = PROMETHEUS / "borderx-alerts.yaml"
TESTS = PROMETHEUS / "borderx-alerts.test.yaml"
REQUIRED = {
    "BorderxPeerDown",
    "BorderxReplicationLagGrowing",
    "BorderxCheckpointStale",
    "BorderxEquivocation",
    "BorderxOwnChainAlarm",
    "BorderxDirectoryDivergence",
    "BorderxCertificateExpiringSoon",
}


def alerts() -> set[str]:
    return {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip(
            "promtool is not installed: `apt-get install -y prometheus` (Debian) or `make promtool`, "
            "then run these tests again"
        )
    return found


def test_the_issue_s_alerts_are_all_there() -> None:
    assert alerts() >= REQUIRED


def test_every_alert_has_a_unit_test_that_expects_it_to_fire() -> None:
    cases = yaml.safe_load(TESTS.read_text())["tests"]
    firing = {
        a["alertname"] for case in cases for a in case.get("alert_rule_test", []) if a.get("exp_alerts")
    }
    quiet = {
        a["alertname"] for case in cases for a in case.get("alert_rule_test", []) if not a.get("exp_alerts")
    }
    assert firing == alerts()
    # and every alert but the two "no time, no doubt" expiry ones is also shown not to fire too early
    assert quiet >= alerts() - {"BorderxCertificateExpiringSoon", "BorderxSigningKeyExpiringSoon"}


def test_promtool_check_rules() -> None:
    run = subprocess.run(
        [promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, check=False, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in run.stdout + run.stderr


def test_promtool_test_rules() -> None:
    run = subprocess.run(
        [promtool(), "test", "rules", TESTS.name],
        cwd=PROMETHEUS,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout + run.stderr
