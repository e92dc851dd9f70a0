"""Directory loading fails closed on every inconsistency (``doc`` is the ``signed`` part).

Which versions are trusted (signatures, thresholds, rollback) is tested in test_trust.py."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from borderx.directory.model import Directory, canonical_bytes, document_text
from borderx.errors import ConfigError, KeyNotValid, KeyRevoked, UnknownIssuer, UnknownKey


@pytest.fixture
def doc(pki: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pki / "directory.json").read_text())["signed"]
    return data


def load(doc: dict[str, Any]) -> Directory:
    return Directory.loads(document_text(doc, []))


def test_round_trip(doc: dict[str, Any], pki: Path) -> None:
    directory = Directory.load(pki / "directory.json")
    assert json.loads(directory.dumps()) == json.loads((pki / "directory.json").read_text())
    assert directory.to_json() == doc


def test_digest_is_over_canonical_signed_bytes_whatever_the_layout(doc: dict[str, Any]) -> None:
    spaced = Directory.loads(json.dumps({"signatures": [], "signed": doc}, indent=7, sort_keys=True))
    compact = Directory.loads(json.dumps({"signed": doc, "signatures": []}, separators=(",", ":")))
    assert spaced.signed_bytes == compact.signed_bytes == canonical_bytes(doc)
    assert spaced.digest == compact.digest == hashlib.sha256(canonical_bytes(doc)).hexdigest()
    assert canonical_bytes({"b": 1, "a": ["é", '"']}) == b'{"a":["\xc3\xa9","\\""],"b":1}'


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"format": "borderx-directory/1", "agencies": []}', "unsigned borderx-directory/1 document"),
        ("[]", "with 'signed' and 'signatures'"),
        ('{"signed": {}, "signatures": [], "extra": 1}', "unexpected top-level field"),
        ('{"signed": {}, "signatures": {}}', "signatures: must be a list"),
        ('{"signed": {}, "signatures": [{"keyid": "ab"}]}', "exactly 'keyid' and 'sig'"),
        ('{"signed": {}, "signatures": [{"keyid": "AB", "sig": ""}]}', "64 lowercase hex"),
        ('{"signed": {}, "signatures": [{"keyid": "' + "a" * 64 + '", "sig": "00"}]}', "128 lowercase hex"),
        ('{"signed": {"x": 1.5}, "signatures": []}', "cannot be put in canonical JSON"),
        ('{"signed": {"version": 1, "version": 2}, "signatures": []}', "key 'version' appears twice"),
    ],
)
def test_refuses_malformed_envelopes(document: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Directory.loads(document)


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
        (lambda d: d.pop("expires"), "expires: expected an ISO 8601"),
        (lambda d: d.update(expires=d["issued_at"]), "is not after issued_at"),
        (lambda d: d.update(threshold=0), "threshold must be an integer from 1 to the number of agencies"),
        (lambda d: d.update(threshold=6), r"threshold must be an integer from 1 .* \(5\), got 6"),
        (lambda d: d.update(threshold=True), "threshold must be an integer"),
        (lambda d: d.update(version=2**63), "version must be a positive integer"),
        (lambda d: d["agencies"][0].update(directory_keys=[]), "directory_keys must list at least one"),
        (
            lambda d: d["agencies"][1]["directory_keys"].append(d["agencies"][0]["directory_keys"][0]),
            "already listed for US-CBP",
        ),
        (
            lambda d: d["agencies"][0]["directory_keys"].append(d["agencies"][0]["signing_keys"][0]),
            "already listed for US-CBP",
        ),
        (lambda d: d["agencies"][0]["directory_keys"][0].update(key_id="00" * 32), "is not the SHA-256"),
        (
            lambda d: d["agencies"][1].update(programmes=["CTPAT"]),
            "programme CTPAT is already owned by US-CBP",
        ),
        (lambda d: d["agencies"][0].update(programmes=["ctpat"]), "is not a programme name"),
        (lambda d: d["agencies"][0].update(programmes=["CTPAT", "CTPAT"]), "lists a programme twice"),
        (lambda d: d["agencies"][0].update(programmes="CTPAT"), "programmes must be a list"),
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


def test_programme_owners_come_from_the_directory(doc: dict[str, Any]) -> None:
    doc["agencies"][0]["programmes"] = ["CTPAT", "US_TEST"]
    owners = load(doc).programme_owners()
    assert owners["US_TEST"] == "US-CBP" and owners["AU_ATT"] == "AU-ABF"
    with pytest.raises(TypeError):
        owners["X"] = "Y"  # type: ignore[index]


def test_unreadable_or_invalid_json(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read it"):
        Directory.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        Directory.load(tmp_path / "bad.json")
