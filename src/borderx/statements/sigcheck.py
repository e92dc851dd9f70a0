"""Ed25519 checks in bulk, for a worker process: the only import is ``cryptography``.

``check_many`` is what ``federation.sigcheck`` hands to its process pool; it must stay
importable cheaply in a freshly spawned interpreter.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def check_many(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
    """For each (raw public key, signature, signed message): whether the signature verifies."""
    out = []
    keys: dict[bytes, Ed25519PublicKey] = {}
    for raw, sig, message in items:
        key = keys.get(raw)
        if key is None:
            key = keys[raw] = Ed25519PublicKey.from_public_bytes(raw)
        try:
            key.verify(sig, message)
        except InvalidSignature:
            out.append(False)
        else:
            out.append(True)
    return out
