"""``borderx keys id FILE``: a statement-signing key's id as the directory wants it.

The key id is the lowercase hex SHA-256 of the raw 32-byte Ed25519 public key
(:func:`borderx.directory.model.key_id_for`, the one definition the directory checks
against). FILE may hold the private key (PKCS#8 PEM, as ``[signing] key`` names it) or
the public key (SubjectPublicKeyInfo PEM, as a partner would send it); only the public
half is read from either.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from borderx.directory.model import key_id_for
from borderx.errors import ConfigError

EXIT_CODES = "Exit status: 0 printed; 2 the file cannot be read or holds no Ed25519 key."


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser(
        "keys",
        help="statement-signing keys: their ids for the directory",
        description="Statement-signing keys (Ed25519).",
        epilog=EXIT_CODES,
    )
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    key_id = keys_sub.add_parser(
        "id",
        help="print a signing key's id (hex SHA-256 of the raw public key)",
        description="Print a signing key's id as the directory lists it: the lowercase hex SHA-256 of "
        "the raw 32-byte Ed25519 public key. FILE is the private key (PKCS#8 PEM) or the public key "
        "(SubjectPublicKeyInfo PEM). With --output json, also the directory's algorithm and "
        "public_key (base64 of the raw key) fields.",
        epilog=EXIT_CODES,
    )
    key_id.add_argument("file", type=Path, metavar="FILE", help="Ed25519 private or public key, PEM")
    key_id.add_argument(
        "--output", choices=["table", "json"], default="table", help="output format (default table)"
    )
    key_id.set_defaults(func=run_id)


def public_key_of(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in a private or public key PEM file; ConfigError says what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from exc
    if b"PRIVATE KEY" in data:
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            raise ConfigError(
                f"{path}: the private key is encrypted; decrypt it or give its public key"
            ) from None
        except ValueError:
            raise ConfigError(f"{path}: not a PEM private key") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise ConfigError(f"{path}: not an Ed25519 key; statement-signing keys are Ed25519")
        return private.public_key()
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError:
        raise ConfigError(f"{path}: holds no PEM private or public key") from None
    if not isinstance(public, Ed25519PublicKey):
        raise ConfigError(f"{path}: not an Ed25519 key; statement-signing keys are Ed25519")
    return public


def run_id(args: argparse.Namespace) -> int:
    raw = public_key_of(args.file).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = key_id_for(raw)
    if args.output == "json":
        print(
            json.dumps({"key_id": kid, "algorithm": "ed25519", "public_key": base64.b64encode(raw).decode()})
        )
    else:
        print(kid)
    return 0
