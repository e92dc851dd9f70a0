"""DSSE JSON form of an envelope, for exchange with tools outside borderx.

This module owns the mapping between ``Envelope`` and the DSSE JSON envelope
(https://github.com/secure-systems-lab/dsse, "envelope.md")::

    {"payloadType": "application/vnd.borderx.statement.v1+protobuf",
     "payload": "<base64 of the header bytes as signed>",
     "signatures": [{"keyid": "<hex sha256 of the raw public key>", "sig": "<base64>"}],
     "body": "<base64 of the body bytes>"}           # absent when redacted

``payload`` is the signed header, so any DSSE verifier checks the signatures with the
issuer's directory key; ``body`` is a borderx extension, bound to the payload by the
header's ``body_digest`` (DSSE verifiers ignore it; borderx checks it).

Invariants kept here: bytes go through base64 untouched (never re-serialised); reading is
strict — unknown members, a wrong payload type, non-base64 text, or an unparseable header
are ``MalformedHeader`` errors naming what is wrong. Both standard and URL-safe base64 are
read, as the DSSE spec allows; standard base64 with padding is written.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from borderx.errors import MalformedHeader, SignatureSetInvalid
from borderx.statements.encoding import MAX_ENVELOPE_BYTES, MAX_SIGNATURES, decode_header
from borderx.statements.model import PAYLOAD_TYPE_STATEMENT, Envelope, Signature

_ENVELOPE_KEYS = frozenset({"payloadType", "payload", "signatures", "body"})
_SIGNATURE_KEYS = frozenset({"keyid", "sig"})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedHeader(f"DSSE {what} must be a base64 string, got {type(value).__name__}")
    # bound the work before decoding anything an attacker sent
    if len(value) > MAX_ENVELOPE_BYTES * 4 // 3 + 4:
        raise MalformedHeader(f"DSSE {what} is {len(value)} characters, over the envelope limit")
    altchars = b"-_" if ("-" in value or "_" in value) else None
    try:
        return base64.b64decode(value, altchars=altchars, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedHeader(f"DSSE {what} is not valid base64") from None


def to_dsse_json(env: Envelope) -> dict[str, Any]:
    """The DSSE JSON object for ``env`` (``body`` omitted when redacted)."""
    out: dict[str, Any] = {
        "payloadType": PAYLOAD_TYPE_STATEMENT,
        "payload": _b64(env.header_bytes),
        "signatures": [{"keyid": s.key_id, "sig": _b64(s.sig)} for s in env.signatures],
    }
    if env.body is not None:
        out["body"] = _b64(env.body)
    return out


def from_dsse_json(doc: Any) -> Envelope:
    """Strictly read a DSSE JSON object (as parsed by ``json.loads``) into an Envelope."""
    if not isinstance(doc, dict):
        raise MalformedHeader(f"DSSE envelope must be a JSON object, got {type(doc).__name__}")
    unknown = set(doc) - _ENVELOPE_KEYS
    # members we do not know might carry meaning we would silently drop
    if unknown:
        raise MalformedHeader(f"DSSE envelope has unknown member(s) {sorted(map(str, unknown))}")
    for required in ("payloadType", "payload", "signatures"):
        if required not in doc:
            raise MalformedHeader(f"DSSE envelope has no {required!r}")
    # the payload type is part of what was signed; another type is another kind of document
    if doc["payloadType"] != PAYLOAD_TYPE_STATEMENT:
        raise MalformedHeader(
            f"DSSE payloadType is {str(doc['payloadType'])[:80]!r}, expected {PAYLOAD_TYPE_STATEMENT!r}"
        )
    header_bytes = _unb64(doc["payload"], "payload")
    header = decode_header(header_bytes)
    sigs = doc["signatures"]
    if not isinstance(sigs, list):
        raise MalformedHeader("DSSE signatures must be a list")
    if len(sigs) > MAX_SIGNATURES:
        raise SignatureSetInvalid(
            f"DSSE envelope carries {len(sigs)} signatures, the limit is {MAX_SIGNATURES}"
        )
    signatures = []
    for i, s in enumerate(sigs):
        if not isinstance(s, dict) or set(s) != _SIGNATURE_KEYS:
            raise MalformedHeader(f"DSSE signatures[{i}] must be an object with exactly 'keyid' and 'sig'")
        if not isinstance(s["keyid"], str):
            raise MalformedHeader(f"DSSE signatures[{i}].keyid must be a string")
        signatures.append(Signature(s["keyid"], _unb64(s["sig"], f"signatures[{i}].sig")))
    body: bytes | None = None
    if "body" in doc:
        body = _unb64(doc["body"], "body")
        # an empty body cannot be told from a redacted one on the protobuf wire
        if not body:
            raise MalformedHeader("DSSE body is present but empty; omit it for a redacted envelope")
    return Envelope(header_bytes=header_bytes, signatures=tuple(signatures), body=body, header=header)
