"""``borderx pki init``: make a development PKI (see borderx.identity.devpki for the layout)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from borderx.identity.devpki import DEFAULT_AGENCIES, DEFAULT_BASE_PORT, DEFAULT_FEDERATION, init_pki


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pki = sub.add_parser("pki", help="development PKI", description="Development PKI for a local federation.")
    pki_sub = pki.add_subparsers(dest="pki_command", metavar="ACTION", required=True)
    init = pki_sub.add_parser(
        "init",
        help="write a dev PKI: per agency a CA, gateway/operator/service certificates, a signing key, a config",
        description="Write a dev PKI: for each agency its own CA, gateway, operator and service "
        "certificates, an Ed25519 statement-signing key, an Ed25519 directory key and a gateway.toml; "
        "plus directory.json, signed by every agency's directory key (threshold: a majority).",
    )
    init.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="DIR",
        help="folder to write (must be empty unless --force)",
    )
    init.add_argument(
        "--federation", default=DEFAULT_FEDERATION, help=f"trust domain (default {DEFAULT_FEDERATION})"
    )
    init.add_argument(
        "--agencies",
        default=",".join(DEFAULT_AGENCIES),
        help=f"comma-separated agency ids, in port order (default {','.join(DEFAULT_AGENCIES)})",
    )
    init.add_argument(
        "--base-port",
        type=int,
        default=DEFAULT_BASE_PORT,
        help=f"port of the first agency's gateway (default {DEFAULT_BASE_PORT})",
    )
    init.add_argument("--force", action="store_true", help="overwrite a non-empty folder")
    init.add_argument(
        "--output", choices=["table", "json"], default="table", help="output format (default table)"
    )
    init.set_defaults(func=run_init)


def run_init(args: argparse.Namespace) -> int:
    agencies = [a.strip() for a in args.agencies.split(",") if a.strip()]
    directory = init_pki(
        args.out, federation=args.federation, agencies=agencies, base_port=args.base_port, force=args.force
    )
    if args.output == "json":
        print(
            json.dumps(
                {
                    "federation": directory.federation,
                    "directory": str(args.out / "directory.json"),
                    "agencies": [
                        {"id": a.id, "endpoint": a.endpoint, "folder": str(args.out / a.id)}
                        for a in directory.agencies.values()
                    ],
                }
            )
        )
        return 0
    print(f"wrote a dev PKI for {directory.federation} to {args.out}:")
    for agency in directory.agencies.values():
        print(f"  {agency.id:<8} {agency.endpoint:<16} {args.out / agency.id}/")
    print(f"  directory {args.out / 'directory.json'} (version {directory.version})")
    return 0
