"""The directory document and its validation.

Document format (JSON): an envelope of ``signed`` and ``signatures``, as TUF's metadata::

    {
      "signed": {
        "format": "borderx-directory/2",
        "federation": "border5.test",
        "version": 1,
        "issued_at": "2026-11-27T00:00:00Z",
        "expires": "2027-11-27T00:00:00Z",
        "threshold": 3,
        "agencies": [
          {
            "id": "US-CBP",
            "name": "U.S. Customs and Border Protection",
            "endpoint": "127.0.0.1:50051",
            "programmes": ["CTPAT"],
            "ca_certificates": ["-----BEGIN CERTIFICATE-----\\n…"],
            "signing_keys": [
              {"key_id": "<hex sha256 of raw key>", "algorithm": "ed25519",
               "public_key": "<base64 of the raw 32 bytes>",
               "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2028-01-01T00:00:00Z",
               "status": "active"}
            ],
            "directory_keys": [
              {"key_id": "<hex sha256 of raw key>", "algorithm": "ed25519",
               "public_key": "<base64 of the raw 32 bytes>"}
            ],
            "revoked_serials": ["4f1a…"]
          }
        ]
      },
      "signatures": [{"keyid": "<directory key id>", "sig": "<hex Ed25519 signature>"}]
    }

The bytes signed are the **canonical JSON** of ``signed`` (securesystemslib's
``encode_canonical``, the form TUF signs: keys sorted, no insignificant whitespace, only
``\\`` and ``"`` escaped, no floats), computed from the object as parsed, so whitespace or
key order in the file never matters. The directory's **digest** is the hex SHA-256 of those
bytes: adding a signature does not change which version a document is. Whether a version
may be trusted (thresholds of directory keys, version order, expiry) is decided in
:mod:`borderx.directory.trust`; this module only parses and validates.

Invariants kept here: agency ids are unique and well-formed; every agency has at least one
CA certificate, and each is a CA, and at least one directory key; every key id is the
SHA-256 of its raw key and is unique across the whole federation, statement-signing and
directory keys together (so a key id names exactly one agency and one purpose); key windows
are ordered; each programme has exactly one owner; ``1 <= threshold <= number of agencies``.
Revoked serials are hex, per agency (serials are only unique per CA).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from securesystemslib.exceptions import FormatError
from securesystemslib.formats import encode_canonical

from borderx.directory.trust import verify_update
from borderx.errors import (
    ConfigError,
    DirectoryRefused,
    KeyNotValid,
    KeyRevoked,
    UnknownIssuer,
    UnknownKey,
)

FORMAT = "borderx-directory/2"
AGENCY_ID_PATTERN = re.compile(r"^[A-Z]{2}-[A-Z0-9]{2,16}$")
PROGRAMME_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]{1,31}$")
KEY_STATUSES = frozenset({"active", "revoked"})


def canonical_bytes(signed: Any) -> bytes:
    """The bytes a directory signature covers: canonical JSON of ``signed`` (TUF's form).

    Raises ConfigError for what canonical JSON cannot encode (floats, non-string keys).
    """
    try:
        return str(encode_canonical(signed)).encode("utf-8")
    except FormatError as exc:
        raise ConfigError(f"signed: cannot be put in canonical JSON ({exc})") from exc


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
class DirectoryKey:
    """One directory key of one agency: it signs directory versions, never statements."""

    key_id: str
    agency: str
    public_key: Ed25519PublicKey = field(repr=False, compare=False)
    raw: bytes = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "algorithm": "ed25519",
            "public_key": base64.b64encode(self.raw).decode(),
        }


@dataclass(frozen=True)
class Signature:
    """One signature over a directory's canonical ``signed`` bytes."""

    key_id: str
    sig: bytes = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {"keyid": self.key_id, "sig": self.sig.hex()}


@dataclass(frozen=True)
class Agency:
    id: str
    name: str
    endpoint: str
    ca_certificates: tuple[x509.Certificate, ...] = field(repr=False)
    signing_keys: tuple[SigningKey, ...]
    revoked_serials: frozenset[int] = frozenset()
    #: the trusted-trader programmes this agency owns: only it designates in them
    programmes: tuple[str, ...] = ()
    #: keys that sign directory versions (DESIGN §2), apart from the statement keys
    directory_keys: tuple[DirectoryKey, ...] = ()

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
            "programmes": list(self.programmes),
            "signing_keys": [k.to_json() for k in self.signing_keys],
            "directory_keys": [k.to_json() for k in self.directory_keys],
            "revoked_serials": sorted(format(s, "x") for s in self.revoked_serials),
        }


@dataclass(frozen=True)
class Directory:
    """A validated, immutable version of the federation directory.

    ``signed_bytes`` are the canonical bytes its signatures cover and ``digest`` their
    SHA-256; ``document`` is the file as received (kept as evidence and persisted).
    """

    federation: str
    version: int
    issued_at: datetime
    agencies: Mapping[str, Agency]
    _keys: Mapping[str, SigningKey] = field(repr=False)
    expires: datetime
    threshold: int
    _directory_keys: Mapping[str, DirectoryKey] = field(repr=False)
    signatures: tuple[Signature, ...] = ()
    signed_bytes: bytes = field(default=b"", repr=False)
    document: bytes = field(default=b"", repr=False)
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

    def directory_key(self, key_id: str) -> DirectoryKey | None:
        """The directory key named ``key_id``, or None when this version lists no such key."""
        return self._directory_keys.get(key_id)

    @property
    def directory_keys(self) -> Mapping[str, DirectoryKey]:
        return MappingProxyType(dict(self._directory_keys))

    @cached_property
    def _owners(self) -> Mapping[str, str]:
        return MappingProxyType({p: a.id for a in self.agencies.values() for p in a.programmes})

    def programme_owners(self) -> Mapping[str, str]:
        """Programme → the agency that owns it (only the owner designates in it)."""
        return self._owners

    def trust_bundle_pem(self) -> bytes:
        """Every member CA, for the TLS layer. Which CA may vouch for which agency is checked later."""
        return b"".join(a.ca_pem for a in self.agencies.values())

    # ------------------------------------------------------------ (de)serialisation

    def to_json(self) -> dict[str, Any]:
        """The ``signed`` part, as a JSON object."""
        return {
            "format": FORMAT,
            "federation": self.federation,
            "version": self.version,
            "issued_at": format_time(self.issued_at),
            "expires": format_time(self.expires),
            "threshold": self.threshold,
            "agencies": [a.to_json() for a in self.agencies.values()],
        }

    def dumps(self) -> str:
        """The whole document (``signed`` and ``signatures``), indented for people."""
        return document_text(self.to_json(), [s.to_json() for s in self.signatures])

    @classmethod
    def load(cls, path: str | Path) -> Directory:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(f"directory {path}: cannot read it ({exc.strerror})") from exc
        return cls.loads(data, source=str(path))

    @classmethod
    def loads(cls, data: bytes | str, *, source: str = "directory") -> Directory:
        """Parse and validate a whole document; signatures are parsed, not judged (see trust)."""
        raw = data.encode() if isinstance(data, str) else data
        try:
            doc = json.loads(raw, object_pairs_hook=_unique_keys)
        except _DuplicateKey as exc:
            # two values for one key read differently by different parsers: what one member
            # signed must be what every member reads
            raise ConfigError(f"{source}: key {exc.args[0]!r} appears twice in one object") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: not valid JSON ({exc})") from exc
        if not isinstance(doc, dict) or "signed" not in doc:
            if isinstance(doc, dict) and doc.get("format") == "borderx-directory/1":
                raise ConfigError(
                    f"{source}: an unsigned borderx-directory/1 document; a directory must now be "
                    "signed by its members (see certs/README.md, 'The directory ceremony')"
                )
            raise ConfigError(f"{source}: expected a JSON object with 'signed' and 'signatures'")
        unknown = sorted(set(doc) - {"signed", "signatures"})
        if unknown:
            raise ConfigError(f"{source}: unexpected top-level field(s) {unknown}")
        signatures = _parse_signatures(doc.get("signatures"), f"{source}: signatures")
        signed_bytes = canonical_bytes(doc["signed"])
        directory = cls.from_json(doc["signed"], source=f"{source}: signed")
        return replace(
            directory,
            signatures=signatures,
            signed_bytes=signed_bytes,
            document=raw,
            digest=hashlib.sha256(signed_bytes).hexdigest(),
        )

    @classmethod
    def from_json(cls, doc: Any, *, source: str = "directory") -> Directory:
        """Validate a ``signed`` object; the result has no signatures and no digest."""
        if not isinstance(doc, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        if doc.get("format") != FORMAT:
            raise ConfigError(f"{source}: format is {doc.get('format')!r}, expected {FORMAT!r}")
        federation = doc.get("federation")
        if not isinstance(federation, str) or not federation:
            raise ConfigError(f"{source}: federation must be a non-empty trust domain name")
        version = doc.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1 or version >= 2**63:
            raise ConfigError(f"{source}: version must be a positive integer, got {version!r}")
        issued_at = parse_time(doc.get("issued_at"), f"{source}: issued_at")
        expires = parse_time(doc.get("expires"), f"{source}: expires")
        if expires <= issued_at:
            raise ConfigError(
                f"{source}: expires {format_time(expires)} is not after issued_at {format_time(issued_at)}"
            )
        entries = doc.get("agencies")
        if not isinstance(entries, list) or not entries:
            # an empty trust set would make every check vacuous: refuse it
            raise ConfigError(f"{source}: agencies must be a non-empty list")
        agencies, keys, directory_keys = _index_agencies(entries, source)
        threshold = doc.get("threshold")
        if (
            not isinstance(threshold, int)
            or isinstance(threshold, bool)
            or not 1 <= threshold <= len(agencies)
        ):
            raise ConfigError(
                f"{source}: threshold must be an integer from 1 to the number of agencies "
                f"({len(agencies)}), got {threshold!r}"
            )
        return cls(
            federation=federation,
            version=version,
            issued_at=issued_at,
            agencies=agencies,
            _keys=keys,
            expires=expires,
            threshold=threshold,
            _directory_keys=directory_keys,
        )


def _index_agencies(
    entries: list[Any], source: str
) -> tuple[dict[str, Agency], dict[str, SigningKey], dict[str, DirectoryKey]]:
    agencies: dict[str, Agency] = {}
    keys: dict[str, SigningKey] = {}
    directory_keys: dict[str, DirectoryKey] = {}
    owners: dict[str, str] = {}
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
        listed: tuple[SigningKey | DirectoryKey, ...] = (*agency.signing_keys, *agency.directory_keys)
        for key in listed:
            if key.key_id in keys or key.key_id in directory_keys:
                # one key id must name exactly one agency and one purpose, or a statement
                # could be attributed to the wrong issuer, or a statement key sign a directory
                other = keys[key.key_id].agency if key.key_id in keys else directory_keys[key.key_id].agency
                raise ConfigError(
                    f"{source}: agencies[{i}]: key id {key.key_id[:16]}… is already listed for {other}"
                )
            if isinstance(key, SigningKey):
                keys[key.key_id] = key
            else:
                directory_keys[key.key_id] = key
        for programme in agency.programmes:
            if programme in owners:
                # two owners would let either designate in the other's programme
                raise ConfigError(
                    f"{source}: agencies[{i}]: programme {programme} is already owned by {owners[programme]}"
                )
            owners[programme] = agency.id
        agencies[agency.id] = agency
    return agencies, keys, directory_keys


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def document_text(signed: Mapping[str, Any], signatures: Iterable[Mapping[str, str]]) -> str:
    """A directory document as people read it (the signatures cover ``signed``'s canonical form)."""
    return json.dumps({"signed": signed, "signatures": list(signatures)}, indent=2, ensure_ascii=False) + "\n"


def sign_document(data: bytes | str, key: Ed25519PrivateKey, *, source: str = "directory") -> str:
    """``data`` with one more signature, by ``key``, over its ``signed`` part as written.

    A signature already made by the same key is replaced (re-signing is idempotent). The
    ``signed`` object is kept as parsed, never rebuilt from the model, so what every signer
    signs is the same canonical bytes. Raises ConfigError for a document that is not valid.
    """
    Directory.loads(data, source=source)  # refuse to sign what no gateway would parse
    doc = json.loads(data)
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_id = key_id_for(raw)
    sig = key.sign(canonical_bytes(doc["signed"]))
    others = [s for s in doc["signatures"] if s.get("keyid") != key_id]
    return document_text(doc["signed"], [*others, Signature(key_id, sig).to_json()])


def load_directory_key(path: Path) -> Ed25519PrivateKey:
    """An agency's directory key (PKCS#8 PEM, as ``borderx pki init`` or ``openssl genpkey`` write it)."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"directory key {path}: cannot read it ({exc.strerror})") from exc
    except ValueError as exc:
        raise ConfigError(f"directory key {path}: not a PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"directory key {path}: not an Ed25519 key")
    return key


def _parse_signatures(value: Any, where: str) -> tuple[Signature, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: must be a list of {{keyid, sig}} objects")
    out = []
    for j, entry in enumerate(value):
        if not isinstance(entry, dict) or set(entry) != {"keyid", "sig"}:
            raise ConfigError(f"{where}[{j}]: expected an object with exactly 'keyid' and 'sig'")
        keyid, sig = entry["keyid"], entry["sig"]
        if not isinstance(keyid, str) or not re.fullmatch(r"[0-9a-f]{64}", keyid):
            raise ConfigError(f"{where}[{j}]: keyid must be 64 lowercase hex digits")
        if not isinstance(sig, str) or not re.fullmatch(r"[0-9a-f]{128}", sig):
            raise ConfigError(f"{where}[{j}]: sig must be an Ed25519 signature in 128 lowercase hex digits")
        out.append(Signature(keyid, bytes.fromhex(sig)))
    return tuple(out)


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
    dir_entries = entry.get("directory_keys")
    if not isinstance(dir_entries, list) or not dir_entries:
        # an agency without a directory key could never take part in a directory change
        raise ConfigError(f"{where}: directory_keys must list at least one Ed25519 key")
    directory_keys = tuple(
        _parse_directory_key(k, agency_id, f"{where}: directory_keys[{j}]") for j, k in enumerate(dir_entries)
    )
    programmes = _parse_programmes(entry.get("programmes", []), where)
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
        programmes=tuple(programmes),
        directory_keys=directory_keys,
    )


def _parse_programmes(programmes: Any, where: str) -> list[str]:
    if not isinstance(programmes, list) or not all(isinstance(p, str) for p in programmes):
        raise ConfigError(f"{where}: programmes must be a list of programme names")
    for j, programme in enumerate(programmes):
        if not PROGRAMME_PATTERN.fullmatch(programme):
            raise ConfigError(
                f"{where}: programmes[{j}]: {programme!r} is not a programme name like AU_ATT "
                "(upper case, digits, underscores)"
            )
    if len(set(programmes)) != len(programmes):
        raise ConfigError(f"{where}: programmes lists a programme twice")
    return programmes


def _raw_ed25519(entry: dict[str, Any], where: str) -> bytes:
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
    return raw


def _parse_directory_key(entry: Any, agency_id: str, where: str) -> DirectoryKey:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected an object")
    raw = _raw_ed25519(entry, where)
    return DirectoryKey(
        key_id=key_id_for(raw), agency=agency_id, public_key=Ed25519PublicKey.from_public_bytes(raw), raw=raw
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
    raw = _raw_ed25519(entry, where)
    expected = key_id_for(raw)
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

    ``current`` is read lock-free (an attribute read is atomic). ``replace`` installs only a
    version that :func:`borderx.directory.trust.verify_update` accepts as the successor of
    the current one (thresholds of old and new directory keys, version order, expiry), and
    only after ``persist`` recorded it: an attacker who can write one gateway's file can
    neither change what it trusts nor roll it back, not even across a restart.
    """

    def __init__(
        self,
        directory: Directory,
        *,
        path: Path | None = None,
        persist: Callable[[Directory], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        guard: Callable[[Directory], None] | None = None,
    ) -> None:
        self._current = directory
        self._path = path
        self._persist = persist
        #: the gateway's own check of a verified successor (raises DirectoryRefused): a
        #: version the members signed may still cut this gateway off (see ``home_guard``)
        self.guard = guard
        self._clock = clock
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
        """Install ``new``; False when it is the current version already. Raises DirectoryRefused."""
        with self._lock:
            old = self._current
            if new.version == old.version and new.digest == old.digest:
                return False
            verify_update(old, new, now=self._clock())
            if self.guard is not None:
                self.guard(new)
            if self._persist is not None:
                self._persist(new)
            self._current = new
        for callback in list(self._listeners):
            callback(new)
        return True

    def reload(self) -> bool:
        if self._path is None:
            raise ConfigError("this directory was not loaded from a file; nothing to reload")
        return self.replace(Directory.load(self._path))


def home_guard(agency: str, signing_key_id: str | None) -> Callable[[Directory], None]:
    """A check that a successor still lets this gateway speak for ``agency``.

    A threshold of members may sign a version that drops this agency, or the key this
    gateway signs with (a rotation applied before the gateway switched keys, or a hostile
    majority). Installing it would leave the gateway signing statements every member
    refuses, or serving a federation it is no longer part of, without anyone noticing: it is
    refused (``drops_home``) with an alarm, and the operator decides (switch the signing key
    first, then apply the version again).
    """

    def check(new: Directory) -> None:
        if agency not in new.agencies:
            raise DirectoryRefused(
                f"directory v{new.version} no longer lists this gateway's agency {agency}",
                reason="drops_home",
            )
        if signing_key_id is None:
            return
        usable = {k.key_id for k in new.agency(agency).signing_keys if k.status != "revoked"}
        if signing_key_id not in usable:
            raise DirectoryRefused(
                f"directory v{new.version} no longer lists this gateway's signing key {signing_key_id[:16]}… "
                f"of {agency} as usable; switch [signing] key to a listed key first",
                reason="drops_home",
            )

    return check


def build_directory(
    *,
    federation: str,
    version: int,
    issued_at: datetime,
    agencies: Iterable[Agency],
    expires: datetime,
    threshold: int,
) -> Directory:
    """Assemble an unsigned Directory from parts (used by the PKI tool), validated like a loaded one."""
    doc = {
        "format": FORMAT,
        "federation": federation,
        "version": version,
        "issued_at": format_time(issued_at),
        "expires": format_time(expires),
        "threshold": threshold,
        "agencies": [a.to_json() for a in agencies],
    }
    return Directory.loads(document_text(doc, []))
