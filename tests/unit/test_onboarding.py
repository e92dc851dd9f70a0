"""certs/README.md's onboarding of a sixth agency (SG-CUSTOMS), followed as written: the
shell steps run literally (openssl, certs/issue-with-openssl.sh, ``borderx keys id``,
``borderx directory key``), the page's entry validates in a signed directory, the ceremony
(propose, three members sign, verify) runs as written, and ``borderx config init`` plus
``doctor`` accept the result. ``tests/federation/test_onboarding_live.py`` follows the same
page against a running federation."""

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


def test_the_page_s_entry_validates_in_the_directory_model(pki: Path) -> None:
    from borderx.identity.devpki import sign_as_members

    entry = json.loads(block("onboarding-entry"))
    signed = json.loads((pki / "directory.json").read_text())["signed"]
    signed["agencies"].append(entry)
    signed["version"] += 1
    directory = Directory.loads(sign_as_members(pki, signed, ["US-CBP", "AU-ABF", "NZ-CS"]))
    assert directory.programme_owners()["SG_STP"] == SG
    agency = directory.agency(SG)
    assert agency.endpoint == "127.0.0.1:50056"
    key = agency.signing_keys[0]
    assert key.key_id == key_id_for(key.raw) == entry["signing_keys"][0]["key_id"]  # type: ignore[index]
    assert directory.key(key.key_id).agency == SG


def write_entry(folder: Path, printed: str) -> dict[str, object]:
    """Step 4 as the agency does it: the page's entry with its own CA and step 3's two keys."""
    directory_key, signing_key = (json.loads(line) for line in _json_documents(printed))
    assert (folder / "signing.key").stat().st_mode & 0o077 == 0
    entry = json.loads(block("onboarding-entry"))
    now = datetime.now(UTC)
    entry["ca_certificates"] = [(folder / "ca.pem").read_text()]
    entry["directory_keys"] = [directory_key]
    entry["signing_keys"] = [
        {
            **signing_key,
            "valid_from": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "valid_until": (now + timedelta(days=730)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": "active",
        }
    ]
    (folder / "entry.json").write_text(json.dumps(entry, indent=2))
    return entry


def _json_documents(printed: str) -> list[str]:
    """The JSON documents step 3 printed (one indented, one on a line), each as one string."""
    decoder = json.JSONDecoder()
    text, out, pos = printed.strip(), [], 0
    while pos < len(text):
        obj, end = decoder.raw_decode(text, pos)
        out.append(json.dumps(obj))
        pos = end
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


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
    folder = root / "certs" / "sg-customs"
    write_entry(folder, run.stdout)
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block("onboarding-ceremony")],
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
