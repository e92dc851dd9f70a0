"""certs/README.md's onboarding of a sixth agency (SG-CUSTOMS), followed as written: the
shell steps run literally (openssl, certs/issue-with-openssl.sh, ``borderx keys id``), the
page's directory entry validates in the directory model, and ``borderx config init`` plus
``doctor`` accept the result. (Seeing its statements replicated by running members without
a restart needs directory-reload reconciliation of links, built on another branch.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from borderx.directory.model import Directory, key_id_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "certs" / "README.md"
SG = "SG-CUSTOMS"


def block(marker: str) -> str:
    found = re.search(rf"<!-- {marker} -->\n```\w+\n(.*?)```", PAGE.read_text(), re.S)
    assert found, marker
    return found[1]


def add_entry(directory: Path, entry: dict[str, object]) -> None:
    doc = json.loads(directory.read_text())
    doc["agencies"].append(entry)
    doc["version"] += 1
    directory.write_text(json.dumps(doc, indent=2))


def test_the_page_s_entry_validates_in_the_directory_model(pki: Path, tmp_path: Path) -> None:
    entry = json.loads(block("onboarding-entry"))
    path = tmp_path / "directory.json"
    shutil.copy(pki / "directory.json", path)
    add_entry(path, entry)
    directory = Directory.load(path)
    agency = directory.agency(SG)
    assert agency.endpoint == "127.0.0.1:50056"
    key = agency.signing_keys[0]
    assert key.key_id == key_id_for(key.raw) == entry["signing_keys"][0]["key_id"]  # type: ignore[index]
    assert directory.key(key.key_id).agency == SG


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the page's steps use the openssl CLI")
def test_the_page_s_steps_as_written_give_a_config_doctor_accepts(pki: Path, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "certs").mkdir(parents=True)
    shutil.copy(ROOT / "certs" / "issue-with-openssl.sh", root / "certs")
    shutil.copytree(pki, root / "certs" / "dev")
    (root / ".venv").symlink_to(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")).resolve())
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block("onboarding-steps")],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    key = json.loads(run.stdout.strip().splitlines()[-1])
    folder = root / "certs" / "sg-customs"
    assert (folder / "signing.key").stat().st_mode & 0o077 == 0
    # step 4, as the federation does it: the page's entry with this agency's own CA and key
    entry = json.loads(block("onboarding-entry"))
    now = datetime.now(UTC)
    entry["ca_certificates"] = [(folder / "ca.pem").read_text()]
    entry["signing_keys"] = [
        {
            **key,
            "valid_from": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "valid_until": (now + timedelta(days=730)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "active",
        }
    ]
    add_entry(root / "certs" / "dev" / "directory.json", entry)
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block("onboarding-config")],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ok: 0 error(s)" in run.stdout, run.stdout
    config = (folder / "gateway.toml").read_text()
    assert 'agency = "SG-CUSTOMS"' in config and 'listen = "127.0.0.1:50056"' in config
