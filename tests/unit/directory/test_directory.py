"""Directory loading fails closed on every inconsistency, and reload refuses rollbacks."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from borderx.directory.model import Directory, DirectoryHolder
from borderx.errors import ConfigError, KeyNotValid, KeyRevoked, UnknownIssuer, UnknownKey


@pytest.fixture
def doc(pki: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pki / "directory.json").read_text())
    return data


def load(doc: dict[str, Any]) -> Directory:
    return Directory.loads(json.dumps(doc))


def test_round_trip(doc: dict[str, Any]) -> None:
    directory = load(doc)
    assert json.loads(directory.dumps()) == doc


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(format="x"), "format is 'x'"),
        (lambda d: d.update(federation=""), "federation must be a non-empty"),
        (lambda d: d.update(version=0), "version must be a positive integer"),
        (lambda d: d.update(agencies=[]), "agencies must be a non-empty list"),
        (lambda d: d["agencies"].append(copy.deepcopy(d["agencies"][0])), "is listed twice"),
        (lambda d: d["agencies"][0].update(id="usa"), "is not an agency id"),
        (lambda d: d["agencies"][0].update(ca_certificates=[]), "at least one PEM certificate"),
        (lambda d: d["agencies"][0].update(ca_certificates=["nope"]), "not a PEM certificate"),
        (
            lambda d: d["agencies"][0]["signing_keys"][0].update(key_id="00" * 32),
            "is not the SHA-256 of the key",
        ),
        (lambda d: d["agencies"][0]["signing_keys"][0].update(public_key="AAAA"), "is 3 bytes"),
        (lambda d: d["agencies"][0]["signing_keys"][0].update(algorithm="rsa"), "not supported"),
        (lambda d: d["agencies"][0]["signing_keys"][0].update(status="lost"), "status 'lost'"),
        (
            lambda d: d["agencies"][0]["signing_keys"][0].update(valid_until="2000-01-01T00:00:00Z"),
            "is not after valid_from",
        ),
        (lambda d: d["agencies"][0]["signing_keys"][0].update(valid_from="2026-01-01"), "has no time zone"),
        (
            lambda d: d["agencies"][1]["signing_keys"].append(d["agencies"][0]["signing_keys"][0]),
            "already listed for US-CBP",
        ),
        (lambda d: d["agencies"][0].update(revoked_serials=["xyz"]), "is not a hex serial"),
        (
            lambda d: d["agencies"][1]["ca_certificates"].append(d["agencies"][0]["ca_certificates"][0]),
            r"agencies\[1\]: ca_certificates\[1\] .* is already listed for US-CBP; each agency needs its own CA",
        ),
    ],
)
def test_refuses_inconsistent_documents(doc: dict[str, Any], mutate: Any, message: str) -> None:
    mutate(doc)
    with pytest.raises(ConfigError, match=message):
        load(doc)


def test_leaf_certificate_is_not_accepted_as_a_ca(doc: dict[str, Any], pki: Path) -> None:
    doc["agencies"][0]["ca_certificates"] = [(pki / "US-CBP" / "gateway.pem").read_text()]
    with pytest.raises(ConfigError, match="is not a CA"):
        load(doc)


def test_key_lookup_and_windows(doc: dict[str, Any]) -> None:
    directory = load(doc)
    key = directory.agency("AU-ABF").signing_keys[0]
    assert directory.key(key.key_id).agency == "AU-ABF"
    assert directory.key_valid_at(key.key_id, key.valid_from + timedelta(seconds=1)) is key
    with pytest.raises(KeyNotValid, match="is valid from"):
        directory.key_valid_at(key.key_id, key.valid_from - timedelta(seconds=1))
    assert key.valid_until is not None
    with pytest.raises(KeyNotValid, match="expired"):
        directory.key_valid_at(key.key_id, key.valid_until)
    with pytest.raises(UnknownKey, match="is not in directory v1"):
        directory.key("ab" * 32)
    with pytest.raises(UnknownIssuer, match="'FR-DGDDI' is not in directory"):
        directory.agency("FR-DGDDI")


def test_revoked_key_is_refused_at_any_time(doc: dict[str, Any]) -> None:
    doc["agencies"][0]["signing_keys"][0]["status"] = "revoked"
    directory = load(doc)
    key = directory.agency("US-CBP").signing_keys[0]
    with pytest.raises(KeyRevoked, match="is revoked"):
        directory.key_valid_at(key.key_id, key.valid_from + timedelta(days=1))
    assert directory.keys_of("US-CBP", key.valid_from + timedelta(days=1)) == []


def test_rotation_by_overlapping_windows(doc: dict[str, Any]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from borderx.directory.model import format_time, key_id_for

    old = doc["agencies"][1]["signing_keys"][0]
    start = datetime.now(UTC) + timedelta(days=30)
    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    doc["agencies"][1]["signing_keys"].append(
        {
            "key_id": key_id_for(raw),
            "algorithm": "ed25519",
            "public_key": base64.b64encode(raw).decode(),
            "valid_from": format_time(start),
            "valid_until": None,
            "status": "active",
        }
    )
    directory = load(doc)
    assert [k.key_id for k in directory.keys_of("AU-ABF", datetime.now(UTC))] == [old["key_id"]]
    both = directory.keys_of("AU-ABF", start + timedelta(days=1))
    assert {k.key_id for k in both} == {old["key_id"], key_id_for(raw)}


def test_reload_refuses_rollback_other_federation_and_silent_edits(
    doc: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "directory.json"
    doc["version"] = 3
    path.write_text(json.dumps(doc))
    holder = DirectoryHolder(Directory.load(path), path=path)
    assert holder.reload() is False  # same document
    seen: list[int] = []
    holder.on_change(lambda d: seen.append(d.version))
    doc["version"] = 2
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="older than the loaded version 3; refusing a rollback"):
        holder.reload()
    doc["version"] = 3
    doc["agencies"][0]["name"] = "edited"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match="changed content without a new version"):
        holder.reload()
    doc["version"] = 4
    path.write_text(json.dumps(doc))
    assert holder.reload() is True
    assert holder.current.version == 4 and seen == [4]
    doc["version"] = 5
    doc["federation"] = "other.test"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"is for federation 'other\.test'"):
        holder.reload()
    assert holder.current.version == 4


def test_unreadable_or_invalid_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        Directory.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Directory.load(tmp_path / "bad.json")
