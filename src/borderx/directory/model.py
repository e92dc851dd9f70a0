"""The directory document and its validation.

Document format (JSON, ``"format": "borderx-directory/1"``)::

    {
      "format": "borderx-directory/1",
      "federation": "border5.test",
      "version": 1,
      "issued_at": "2026-11-27T00:00:00Z",
      "agencies": [
        {
          "id": "US-CBP",
          "name": "U.S. Customs and Border Protection",
          "endpoint": "127.0.0.1:50051",
          "ca_certificates": ["-----BEGIN CERTIFICATE-----\\n…"],
          "signing_keys": [
            {"key_id": "<hex sha256 of raw key>", "algorithm": "ed25519",
             "public_key": "<base64 of the raw 32 bytes>",
             "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2028-01-01T00:00:00Z",
             "status": "active"}
          ],
          "revoked_serials": ["4f1a…"]
        }
      ]
    }

Invariants kept here: agency ids are unique and well-formed; every agency has at least one
CA certificate, and each is a CA; every key id is the SHA-256 of its raw key and is unique
across the whole federation (so a key id names exactly one agency); key windows are
ordered. Revoked serials are hex, per agency (serials are only unique per CA).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from borderx.errors import (
    ConfigError,
    KeyNotValid,
    KeyRevoked,
    UnknownIssuer,
    UnknownKey,
)

FORMAT = "borderx-directory/1"
AGENCY_ID_PATTERN = re.compile(r"^[A-Z]{2}-[A-Z0-9]{2,16}$")
KEY_STATUSES = frozenset({"active", "revoked"})


def key_id_for(raw_public_key: bytes) -> str:
    """Key id = lowercase hex SHA-256 of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(raw_public_key).hexdigest()


def parse_time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected an ISO 8601 timestamp, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{where}: {value!r} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        raise ConfigError(f"{where}: {value!r} has no time zone; write it in UTC with a trailing Z")
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SigningKey:
    """One statement-signing key of one agency."""

    key_id: str
    agency: str
    public_key: Ed25519PublicKey = field(repr=False, compare=False)
    raw: bytes = field(repr=False)
    valid_from: datetime
    valid_until: datetime | None
    status: str = "active"

    def check_valid_at(self, when: datetime) -> None:
        """Raise unless this key may have signed something issued at ``when``.

        A revoked key is refused whatever the time: once a key is known to be stolen, the
        thief can backdate ``issued_at``, so no statement under it can be trusted.
        """
        if self.status == "revoked":
            raise KeyRevoked(f"key {self.key_id[:16]}… of {self.agency} is revoked")
        if when < self.valid_from:
            raise KeyNotValid(
                f"key {self.key_id[:16]}… of {self.agency} is valid from {format_time(self.valid_from)}, "
                f"statement issued {format_time(when)}"
            )
        if self.valid_until is not None and when >= self.valid_until:
            raise KeyNotValid(
                f"key {self.key_id[:16]}… of {self.agency} expired {format_time(self.valid_until)}, "
                f"statement issued {format_time(when)}"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "algorithm": "ed25519",
            "public_key": base64.b64encode(self.raw).decode(),
            "valid_from": format_time(self.valid_from),
            "valid_until": format_time(self.valid_until) if self.valid_until else None,
            "status": self.status,
        }


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    endpoint: str
    ca_certificates: tuple[x509.Certificate, ...] = field(repr=False)
    signing_keys: tuple[SigningKey, ...]
    revoked_serials: frozenset[int] = frozenset()

    @property
    def ca_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.ca_certificates)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "endpoint": self.endpoint,
            "ca_certificates": [
                c.public_bytes(serialization.Encoding.PEM).decode() for c in self.ca_certificates
            ],
            "signing_keys": [k.to_json() for k in self.signing_keys],
            "revoked_serials": sorted(format(s, "x") for s in self.revoked_serials),
        }


@dataclass(frozen=True)
class Directory:
    """A validated, immutable version of the federation directory."""

    federation: str
    version: int
    issued_at: datetime
    agencies: Mapping[str, Agency]
    _keys: Mapping[str, SigningKey] = field(repr=False)
    digest: str = ""

    # ------------------------------------------------------------ queries

    def agency(self, agency_id: str) -> Agency:
        try:
            return self.agencies[agency_id]
        except KeyError:
            raise UnknownIssuer(
                f"agency {agency_id!r} is not in directory v{self.version} of {self.federation}"
            ) from None

    def key(self, key_id: str) -> SigningKey:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKey(
                f"key id {key_id[:16]}… is not in directory v{self.version} of {self.federation}"
            ) from None

    def key_valid_at(self, key_id: str, when: datetime) -> SigningKey:
        """The key named ``key_id``, checked valid at ``when``; raises otherwise."""
        key = self.key(key_id)
        key.check_valid_at(when)
        return key

    def keys_of(self, agency_id: str, when: datetime | None = None) -> list[SigningKey]:
        """The agency's keys; with ``when``, only those valid (and not revoked) at that time."""
        keys = self.agency(agency_id).signing_keys
        if when is None:
            return list(keys)
        return [
            k
            for k in keys
            if k.status != "revoked"
            and k.valid_from <= when
            and (k.valid_until is None or when < k.valid_until)
        ]

    def trust_bundle_pem(self) -> bytes:
        """Every member CA, for the TLS layer. Which CA may vouch for which agency is checked later."""
        return b"".join(a.ca_pem for a in self.agencies.values())

    # ------------------------------------------------------------ (de)serialisation

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "federation": self.federation,
            "version": self.version,
            "issued_at": format_time(self.issued_at),
            "agencies": [a.to_json() for a in self.agencies.values()],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def load(cls, path: str | Path) -> Directory:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"directory {path}: cannot read it ({exc.strerror})") from exc
        return cls.loads(data, source=str(path))

    @classmethod
    def loads(cls, data: bytes | str, *, source: str = "directory") -> Directory:
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from exc
        directory = cls.from_json(doc, source=source)
        raw = data.encode() if isinstance(data, str) else data
        return _with_digest(directory, hashlib.sha256(raw).hexdigest())

    @classmethod
    def from_json(cls, doc: Any, *, source: str = "directory") -> Directory:
        if not isinstance(doc, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        if doc.get("format") != FORMAT:
            raise ConfigError(f"{source}: format is {doc.get('format')!r}, expected {FORMAT!r}")
        federation = doc.get("federation")
        if not isinstance(federation, str) or not federation:
            raise ConfigError(f"{source}: federation must be a non-empty trust domain name")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ConfigError(f"{source}: version must be a positive integer, got {version!r}")
        issued_at = parse_time(doc.get("issued_at"), f"{source}: issued_at")
        entries = doc.get("agencies")
        if not isinstance(entries, list) or not entries:
            # an empty trust set would make every check vacuous: refuse it
            raise ConfigError(f"{source}: agencies must be a non-empty list")
        agencies: dict[str, Agency] = {}
        keys: dict[str, SigningKey] = {}
        ca_owners: dict[bytes, str] = {}
        for i, entry in enumerate(entries):
            agency = _parse_agency(entry, f"{source}: agencies[{i}]")
            if agency.id in agencies:
                raise ConfigError(f"{source}: agencies[{i}]: agency {agency.id} is listed twice")
            for j, ca in enumerate(agency.ca_certificates):
                # one CA under two agencies could mint either agency's identities, which
                # breaks "an agency's certificates chain to that agency's own CA"; compared
                # by public key, so a re-issued or renamed copy of the same CA is caught too
                owner_key = ca.public_key().public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                owner = ca_owners.get(owner_key)
                if owner is not None and owner != agency.id:
                    raise ConfigError(
                        f"{source}: agencies[{i}]: ca_certificates[{j}] ({ca.subject.rfc4514_string()}) "
                        f"is already listed for {owner}; each agency needs its own CA"
                    )
                ca_owners[owner_key] = agency.id
            for key in agency.signing_keys:
                if key.key_id in keys:
                    # one key id must name exactly one agency, or a statement could be
                    # attributed to the wrong issuer
                    raise ConfigError(
                        f"{source}: agencies[{i}]: key id {key.key_id[:16]}… is already listed "
                        f"for {keys[key.key_id].agency}"
                    )
                keys[key.key_id] = key
            agencies[agency.id] = agency
        return cls(federation=federation, version=version, issued_at=issued_at, agencies=agencies, _keys=keys)


def _with_digest(directory: Directory, digest: str) -> Directory:
    return Directory(
        federation=directory.federation,
        version=directory.version,
        issued_at=directory.issued_at,
        agencies=directory.agencies,
        _keys=directory._keys,
        digest=digest,
    )


def _parse_agency(entry: Any, where: str) -> Agency:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected an object")
    agency_id = entry.get("id")
    if not isinstance(agency_id, str) or not AGENCY_ID_PATTERN.fullmatch(agency_id):
        raise ConfigError(f"{where}: id {agency_id!r} is not an agency id of the form CC-NAME (e.g. AU-ABF)")
    where = f"{where} ({agency_id})"
    name = entry.get("name", agency_id)
    endpoint = entry.get("endpoint", "")
    if not isinstance(name, str) or not isinstance(endpoint, str):
        raise ConfigError(f"{where}: name and endpoint must be strings")
    pems = entry.get("ca_certificates")
    if not isinstance(pems, list) or not pems:
        raise ConfigError(f"{where}: ca_certificates must list at least one PEM certificate")
    cas = tuple(_parse_ca(pem, f"{where}: ca_certificates[{j}]") for j, pem in enumerate(pems))
    key_entries = entry.get("signing_keys", [])
    if not isinstance(key_entries, list):
        raise ConfigError(f"{where}: signing_keys must be a list")
    keys = tuple(_parse_key(k, agency_id, f"{where}: signing_keys[{j}]") for j, k in enumerate(key_entries))
    serials = entry.get("revoked_serials", [])
    if not isinstance(serials, list):
        raise ConfigError(f"{where}: revoked_serials must be a list of hex strings")
    revoked = set()
    for j, s in enumerate(serials):
        try:
            revoked.add(int(str(s).removeprefix("0x"), 16))
        except ValueError:
            raise ConfigError(f"{where}: revoked_serials[{j}]: {s!r} is not a hex serial") from None
    return Agency(
        id=agency_id,
        name=name,
        endpoint=endpoint,
        ca_certificates=cas,
        signing_keys=keys,
        revoked_serials=frozenset(revoked),
    )


def _parse_ca(pem: Any, where: str) -> x509.Certificate:
    if not isinstance(pem, str):
        raise ConfigError(f"{where}: expected a PEM string")
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError as exc:
        raise ConfigError(f"{where}: not a PEM certificate ({exc})") from exc
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        bc = None
    if bc is None or not bc.ca:
        raise ConfigError(f"{where}: certificate {cert.subject.rfc4514_string()} is not a CA")
    return cert


def _parse_key(entry: Any, agency_id: str, where: str) -> SigningKey:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected an object")
    if entry.get("algorithm", "ed25519") != "ed25519":
        raise ConfigError(f"{where}: algorithm {entry.get('algorithm')!r} is not supported; use ed25519")
    try:
        raw = base64.b64decode(entry.get("public_key", ""), validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ConfigError(f"{where}: public_key must be base64 of the raw 32-byte Ed25519 key") from None
    if len(raw) != 32:
        raise ConfigError(f"{where}: public_key is {len(raw)} bytes, an Ed25519 key is 32")
    expected = key_id_for(raw)
    if entry.get("key_id") != expected:
        raise ConfigError(
            f"{where}: key_id {str(entry.get('key_id'))[:16]}… is not the SHA-256 of the key "
            f"(expected {expected[:16]}…)"
        )
    valid_from = parse_time(entry.get("valid_from"), f"{where}: valid_from")
    until_raw = entry.get("valid_until")
    valid_until = None if until_raw is None else parse_time(until_raw, f"{where}: valid_until")
    if valid_until is not None and valid_until <= valid_from:
        raise ConfigError(
            f"{where}: valid_until {format_time(valid_until)} is not after valid_from {format_time(valid_from)}"
        )
    status = entry.get("status", "active")
    if status not in KEY_STATUSES:
        raise ConfigError(f"{where}: status {status!r} is not one of {sorted(KEY_STATUSES)}")
    return SigningKey(
        key_id=expected,
        agency=agency_id,
        public_key=Ed25519PublicKey.from_public_bytes(raw),
        raw=raw,
        valid_from=valid_from,
        valid_until=valid_until,
        status=status,
    )


class DirectoryHolder:
    """The directory a running gateway uses, swappable at runtime.

    ``current`` is read lock-free (an attribute read is atomic); ``replace`` and ``reload``
    refuse a document of another federation or an older version, which stops an attacker
    who can write the file from rolling membership back to a version with a stolen key.
    """

    def __init__(self, directory: Directory, *, path: Path | None = None) -> None:
        self._current = directory
        self._path = path
        self._lock = threading.Lock()
        self._listeners: list[Any] = []

    @property
    def current(self) -> Directory:
        return self._current

    @property
    def path(self) -> Path | None:
        return self._path

    def on_change(self, callback: Any) -> None:
        """Call ``callback(new_directory)`` after each successful replacement."""
        self._listeners.append(callback)

    def replace(self, new: Directory) -> bool:
        """Install ``new``; return False when it is the same document. Raises ConfigError on refusal."""
        with self._lock:
            old = self._current
            if new.federation != old.federation:
                raise ConfigError(
                    f"directory is for federation {new.federation!r}, this gateway is in {old.federation!r}"
                )
            if new.version < old.version:
                raise ConfigError(
                    f"directory version {new.version} is older than the loaded version {old.version}; "
                    "refusing a rollback"
                )
            if new.version == old.version:
                if new.digest and new.digest == old.digest:
                    return False
                raise ConfigError(
                    f"directory version {new.version} changed content without a new version number; "
                    "bump 'version'"
                )
            self._current = new
        for callback in list(self._listeners):
            callback(new)
        return True

    def reload(self) -> bool:
        if self._path is None:
            raise ConfigError("this directory was not loaded from a file; nothing to reload")
        return self.replace(Directory.load(self._path))


def build_directory(
    *, federation: str, version: int, issued_at: datetime, agencies: Iterable[Agency]
) -> Directory:
    """Assemble a Directory from parts (used by the PKI tool), validated like a loaded one."""
    doc = {
        "format": FORMAT,
        "federation": federation,
        "version": version,
        "issued_at": format_time(issued_at),
        "agencies": [a.to_json() for a in agencies],
    }
    return Directory.loads(json.dumps(doc, indent=2) + "\n")
