"""The Makefile's promises that a dry run (`make -n`) can show without running anything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def dry_run(*args: str) -> list[str]:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    run = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    )
    return run.stdout.splitlines()


def test_demo_on_another_port_makes_a_pki_for_that_port() -> None:
    lines = dry_run("demo", "PORT=6123", "PKI=/nonexistent/borderx-pki-6123")
    assert ".venv/bin/borderx pki init --out /nonexistent/borderx-pki-6123 --base-port 6123" in lines
    assert ".venv/bin/borderx demo --pki /nonexistent/borderx-pki-6123 --base-port 6123" in lines


def test_demo_on_another_port_defaults_to_its_own_pki_folder() -> None:
    lines = dry_run("demo", "PORT=6123")
    assert ".venv/bin/borderx demo --pki certs/dev-6123 --base-port 6123" in lines


def test_demo_on_the_default_port_uses_certs_dev() -> None:
    assert ".venv/bin/borderx demo --pki certs/dev --base-port 50051" in dry_run("demo")
