"""TUF root rotation for the directory: every refusal of the trust rules, and the holder."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx.directory.model import (
    Directory,
    DirectoryHolder,
    document_text,
    key_id_for,
    load_directory_key,
    sign_document,
)
from borderx.directory.trust import (
    choose_at_start,
    root_result,
    update_result,
    verify_root,
    verify_update,
)
from borderx.errors import ConfigError, DirectoryRefused

NOW = datetime.now(UTC)
ALL = ("US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC")


@pytest.fixture
def keys(pki: Path) -> dict[str, Ed25519PrivateKey]:
    return {a: load_directory_key(pki / a / "directory.key") for a in ALL}


@pytest.fixture
def v1_doc(pki: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pki / "directory.json").read_text())["signed"]
    return data


@pytest.fixture
def v1(pki: Path) -> Directory:
    return Directory.load(pki / "directory.json")


def signed(doc: dict[str, Any], *signers: Ed25519PrivateKey) -> Directory:
    text = document_text(doc, [])
    for key in signers:
        text = sign_document(text, key)
    return Directory.loads(text)


def successor(doc: dict[str, Any], **changes: Any) -> dict[str, Any]:
    new = json.loads(json.dumps(doc))
    new["version"] = doc["version"] + 1
    new.update(changes)
    return new


def key_entry(key: Ed25519PrivateKey) -> dict[str, str]:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"key_id": key_id_for(raw), "algorithm": "ed25519", "public_key": base64.b64encode(raw).decode()}


def refused(reason: str, match: str) -> Any:
    class Check:
        def __enter__(self) -> None:
            self.ctx = pytest.raises(DirectoryRefused, match=match)
            self.info = self.ctx.__enter__()

        def __exit__(self, *exc: Any) -> bool:
            handled = self.ctx.__exit__(*exc)
            assert self.info.value.reason == reason
            return bool(handled)

    return Check()


# ---------------------------------------------------------------- first configuration


def test_the_dev_directory_is_a_valid_root(v1: Directory) -> None:
    verify_root(v1, now=NOW)
    result = root_result(v1, now=NOW)
    assert result.ok and result.thresholds[0].signed == tuple(sorted(ALL))


def test_root_under_its_own_threshold(v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]) -> None:
    two = signed(v1_doc, keys["US-CBP"], keys["AU-ABF"])
    with refused(
        "threshold", r"signed by 2 of the 3 agencies v1 requires \(signed: AU-ABF, US-CBP; not yet: "
    ):
        verify_root(two, now=NOW)
    verify_root(signed(v1_doc, keys["US-CBP"], keys["AU-ABF"], keys["NZ-CS"]), now=NOW)


def test_root_unsigned(v1_doc: dict[str, Any]) -> None:
    with refused("threshold", "signed by 0 of the 3"):
        verify_root(signed(v1_doc), now=NOW)


def test_root_expired(v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]) -> None:
    doc = dict(v1_doc, expires="2020-01-02T00:00:00Z", issued_at="2020-01-01T00:00:00Z")
    with refused("expired", "directory v1 expired 2020-01-02T00:00:00Z; now is "):
        verify_root(signed(doc, *keys.values()), now=NOW)


# ---------------------------------------------------------------- signature sets


def test_duplicate_key_id(v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]) -> None:
    doc = json.loads(signed(v1_doc, keys["US-CBP"], keys["AU-ABF"], keys["NZ-CS"]).dumps())
    doc["signatures"].append(doc["signatures"][0])
    with refused("duplicate_key", "signed twice"):
        verify_root(Directory.loads(json.dumps(doc)), now=NOW)


def test_unknown_key_id(v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]) -> None:
    stranger = Ed25519PrivateKey.generate()
    with refused("unknown_key", "not a directory key of the trusted or the new version"):
        verify_root(signed(v1_doc, *keys.values(), stranger), now=NOW)


def test_statement_key_cannot_sign_a_directory(
    v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey], pki: Path
) -> None:
    statement_key = serialization.load_pem_private_key((pki / "US-CBP" / "signing.key").read_bytes(), None)
    assert isinstance(statement_key, Ed25519PrivateKey)
    with refused("unknown_key", "not a directory key"):
        verify_root(signed(v1_doc, keys["AU-ABF"], keys["NZ-CS"], statement_key), now=NOW)


def test_signature_over_another_draft(v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]) -> None:
    good = json.loads(signed(v1_doc, *keys.values()).dumps())
    good["signed"]["agencies"][0]["name"] = "edited after signing"
    with refused("bad_signature", "US-CBP's key .* does not verify over this document"):
        verify_root(Directory.loads(json.dumps(good)), now=NOW)


def test_an_agency_counts_once_however_many_keys_sign(
    v1: Directory, v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]
) -> None:
    extra = Ed25519PrivateKey.generate()
    doc = successor(v1_doc)
    doc["agencies"][0]["directory_keys"].append(key_entry(extra))
    two_agencies_three_keys = signed(doc, keys["US-CBP"], extra, keys["AU-ABF"])
    with refused("threshold", "signed by 2 of the 3 agencies v1 requires"):
        verify_update(v1, two_agencies_three_keys, now=NOW)


# ---------------------------------------------------------------- successors


def test_successor_over_both_thresholds(
    v1: Directory, v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]
) -> None:
    v2 = signed(successor(v1_doc), keys["US-CBP"], keys["NZ-CS"], keys["GB-HMRC"])
    verify_update(v1, v2, now=NOW)
    result = update_result(v1, v2, now=NOW)
    assert result.ok and [t.version for t in result.thresholds] == [1, 2]
    assert result.thresholds[0].unsigned == ("AU-ABF", "CA-CBSA")


def test_successor_under_the_current_threshold(
    v1: Directory, v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]
) -> None:
    v2 = signed(successor(v1_doc), keys["US-CBP"], keys["NZ-CS"])
    with refused("threshold", r"directory v2 is signed by 2 of the 3 agencies v1 requires"):
        verify_update(v1, v2, now=NOW)


def test_successor_under_its_own_raised_threshold(
    v1: Directory, v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]
) -> None:
    v2 = signed(successor(v1_doc, threshold=4), keys["US-CBP"], keys["NZ-CS"], keys["AU-ABF"])
    with refused("threshold", "signed by 3 of the 4 agencies v2 requires"):
        verify_update(v1, v2, now=NOW)
    verify_update(v1, signed(successor(v1_doc, threshold=4), *keys.values()), now=NOW)


def test_rotated_key_must_sign_for_the_new_version_and_old_for_the_old(
    v1: Directory, v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]
) -> None:
    new_au = Ed25519PrivateKey.generate()
    doc = successor(v1_doc)
    doc["agencies"][1]["directory_keys"] = [key_entry(new_au)]
    # AU-ABF's old key counts for v1 only: v2 sees 2 of its agencies
    with refused("threshold", "signed by 2 of the 3 agencies v2 requires"):
        verify_update(v1, signed(doc, keys["US-CBP"], keys["NZ-CS"], keys["AU-ABF"]), now=NOW)
    # AU-ABF's new key counts for v2 only: v1 sees 2 of its agencies
    with refused("threshold", "signed by 2 of the 3 agencies v1 requires"):
        verify_update(v1, signed(doc, keys["US-CBP"], keys["NZ-CS"], new_au), now=NOW)
    verify_update(v1, signed(doc, keys["US-CBP"], keys["NZ-CS"], new_au, keys["AU-ABF"]), now=NOW)


def test_rollback_conflict_gap_federation_expiry(
    v1: Directory, v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]
) -> None:
    v2_doc = successor(v1_doc)
    v2 = signed(v2_doc, *keys.values())
    with refused("rollback", "directory version 1 is older than the trusted version 2; refusing a rollback"):
        verify_update(v2, v1, now=NOW)
    edited = json.loads(json.dumps(v1_doc))
    edited["agencies"][0]["name"] = "edited on disk"
    with refused("conflict", r"directory v1 \(digest .*\) differs from the trusted v1"):
        verify_update(v1, signed(edited, *keys.values()), now=NOW)
    with refused("gap", "directory v3 does not follow the trusted v1; apply v2 first"):
        verify_update(v1, signed(successor(v2_doc), *keys.values()), now=NOW)
    with refused("federation", "is for federation 'other.test'"):
        verify_update(v1, signed(successor(v1_doc, federation="other.test"), *keys.values()), now=NOW)
    stale = successor(v1_doc, issued_at="2020-01-01T00:00:00Z", expires="2020-02-01T00:00:00Z")
    with refused("expired", "directory v2 expired 2020-02-01T00:00:00Z"):
        verify_update(v1, signed(stale, *keys.values()), now=NOW)
    # the same version with more signatures is the same document: nothing to apply
    same = signed(v1_doc, keys["US-CBP"], keys["AU-ABF"], keys["NZ-CS"])
    assert same.digest == v1.digest and update_result(v1, same, now=NOW).same
    verify_update(v1, same, now=NOW)


# ---------------------------------------------------------------- start and holder


def test_choose_at_start(v1: Directory, v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]) -> None:
    assert choose_at_start(None, v1, now=NOW).record
    with refused("threshold", "signed by 1 of the 3"):
        choose_at_start(None, signed(v1_doc, keys["US-CBP"]), now=NOW)
    v2 = signed(successor(v1_doc), *keys.values())
    same = choose_at_start(v1, v1, now=NOW)
    assert same.use is v1 and not same.record and same.refused is None
    newer = choose_at_start(v1, v2, now=NOW)
    assert newer.use is v2 and newer.record
    stale = choose_at_start(v2, v1, now=NOW)
    assert stale.use is v2 and stale.stale and not stale.record and stale.refused is None
    unsigned_edit = signed(successor(v1_doc))
    refused_edit = choose_at_start(v1, unsigned_edit, now=NOW)
    assert refused_edit.use is v1 and refused_edit.refused is not None
    assert refused_edit.refused[0] == "threshold"


def test_holder_persists_before_installing_and_keeps_the_old_on_refusal(
    v1: Directory, v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]
) -> None:
    persisted: list[int] = []
    seen: list[int] = []
    holder = DirectoryHolder(v1, persist=lambda d: persisted.append(d.version))
    holder.on_change(lambda d: seen.append(d.version))
    assert holder.replace(v1) is False
    with pytest.raises(DirectoryRefused):
        holder.replace(signed(successor(v1_doc), keys["US-CBP"]))
    assert holder.current is v1 and persisted == [] and seen == []
    v2 = signed(successor(v1_doc), *keys.values())
    assert holder.replace(v2) is True
    assert holder.current is v2 and persisted == [2] and seen == [2]

    def failing(_d: Directory) -> None:
        raise ConfigError("store unavailable")

    other = DirectoryHolder(v1, persist=failing)
    with pytest.raises(ConfigError, match="store unavailable"):
        other.replace(v2)
    assert other.current is v1  # not recorded, not trusted


def test_sign_document_replaces_the_same_signer(
    v1_doc: dict[str, Any], keys: dict[str, Ed25519PrivateKey]
) -> None:
    text = sign_document(document_text(v1_doc, []), keys["US-CBP"])
    again = sign_document(text, keys["US-CBP"])
    assert len(json.loads(again)["signatures"]) == 1
    with pytest.raises(ConfigError, match="not valid JSON"):
        sign_document("{", keys["US-CBP"])
