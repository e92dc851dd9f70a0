"""Client flags shared by every command that calls a gateway, and the channel they make.

``--target HOST:PORT`` and either ``--pki DIR --agency ID [--role operator|service]`` (the
dev-PKI layout) or explicit ``--ca/--cert/--key``; ``--output table|json``. Without
``--target``, the agency's endpoint from ``DIR/directory.json`` is used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import json_format
from google.protobuf.message import Message

from borderx.directory.model import Directory
from borderx.errors import ConfigError

T = TypeVar("T")


def add_client_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument(
        "--target",
        metavar="HOST:PORT",
        help="gateway address (default: the agency's endpoint in the PKI directory)",
    )
    group.add_argument("--pki", metavar="DIR", type=Path, help="dev PKI folder made by `borderx pki init`")
    group.add_argument("--agency", metavar="ID", help="with --pki: whose credentials to use, e.g. US-CBP")
    group.add_argument(
        "--role",
        choices=["operator", "service"],
        default="operator",
        help="with --pki: which certificate (default operator)",
    )
    group.add_argument(
        "--ca", metavar="FILE", type=Path, help="CA bundle that signed the gateway's certificate"
    )
    group.add_argument("--cert", metavar="FILE", type=Path, help="client certificate (PEM)")
    group.add_argument("--key", metavar="FILE", type=Path, help="client private key (PEM)")
    group.add_argument(
        "--timeout", type=float, default=30.0, help="per-call deadline in seconds (default 30)"
    )
    parser.add_argument(
        "--output", choices=["table", "json"], default="table", help="output format (default table)"
    )


@dataclass(frozen=True)
class ClientCredentials:
    target: str
    ca: bytes
    cert: bytes
    key: bytes


def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{flag} {path}: cannot read it ({exc.strerror})") from exc


def credentials_from_args(args: argparse.Namespace) -> ClientCredentials:
    target: str | None = args.target
    if args.pki is not None:
        if not args.agency:
            raise ConfigError("--pki needs --agency (whose credentials to use)")
        folder = args.pki / args.agency
        ca = _read(args.ca, "--ca") if args.ca else _read(args.pki / args.agency / "ca.pem", "--pki")
        cert = _read(args.cert or folder / f"{args.role}.pem", "--cert")
        key = _read(args.key or folder / f"{args.role}.key", "--key")
        if target is None:
            directory = Directory.load(args.pki / "directory.json")
            target = directory.agency(args.agency).endpoint
            # the gateway's certificate is issued by its own agency's CA
    else:
        if not (args.ca and args.cert and args.key):
            raise ConfigError("give either --pki DIR --agency ID, or all of --ca, --cert and --key")
        ca, cert, key = _read(args.ca, "--ca"), _read(args.cert, "--cert"), _read(args.key, "--key")
    if not target:
        raise ConfigError("--target HOST:PORT is required without --pki")
    return ClientCredentials(target=target, ca=ca, cert=cert, key=key)


def open_channel(creds: ClientCredentials) -> grpc.Channel:
    tls = grpc.ssl_channel_credentials(
        root_certificates=creds.ca, private_key=creds.key, certificate_chain=creds.cert
    )
    return grpc.secure_channel(creds.target, tls)


def call(args: argparse.Namespace, fn: Callable[[grpc.Channel, float], T]) -> T:
    """Open a channel from the flags, run ``fn(channel, timeout)``, close the channel."""
    creds = credentials_from_args(args)
    with open_channel(creds) as channel:
        return fn(channel, float(args.timeout))


def to_dict(message: Message) -> dict[str, Any]:
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def print_message(message: Message, output: str) -> None:
    data = to_dict(message)
    if output == "json":
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    print_table(data)


def print_table(data: dict[str, Any]) -> None:
    width = max((len(k) for k in data), default=0)
    for key, value in data.items():
        shown = (json.dumps(value) if value else "-") if isinstance(value, (list, dict)) else value
        print(f"{key.ljust(width)}  {shown}")
