"""``borderx doctor --config FILE``: check a gateway's configuration without starting it.

Prints every check of :mod:`borderx.doctor` as OK, WARN or FAIL with the problem and its
fix. Exit status: 0 when nothing failed (warnings allowed), 1 when any check failed, 2
when the configuration itself cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from borderx.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from borderx.doctor import Check

DEFAULT_TIMEOUT = 3.0  # kept equal to borderx.doctor.DEFAULT_TIMEOUT (not imported: --help stays fast)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = sub.add_parser(
        "doctor",
        help="check a gateway's configuration, certificates, keys, store and peers",
        description=(
            "Check a gateway's configuration without starting it: TLS certificate and key, its chain "
            "to the agency's CA in the directory and its SPIFFE ID, expiry, the directory, the "
            "signing key, the store, and (unless --no-network) each peer and its clock. Each "
            "problem is named with its fix. Exit status: 0 no failures (warnings allowed), "
            "1 a check failed, 2 the configuration cannot be read."
        ),
    )
    doctor.add_argument("--config", metavar="FILE", type=Path, required=True, help="the gateway's TOML")
    doctor.add_argument(
        "--output", choices=["table", "json"], default="table", help="output format (default table)"
    )
    doctor.add_argument(
        "--no-network",
        dest="network",
        action="store_false",
        help="do not contact peers (no reachability, certificate or clock checks against them)",
    )
    doctor.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"deadline of each network step: connect, handshake, each call (default {DEFAULT_TIMEOUT:g})",
    )
    doctor.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from borderx.doctor import has_errors, run_checks  # noqa: PLC0415 - loaded only when run

    checks = run_checks(args.config, timeout=args.timeout, network=args.network)
    config_unreadable = checks[0].name == "config" and not checks[0].ok
    if args.output == "json":
        print_json(checks, args.config)
    else:
        print_table(checks)
    if config_unreadable:
        print(f"borderx: {checks[0].problem}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_FAILED if has_errors(checks) else EXIT_OK


def summary(checks: list[Check]) -> dict[str, int]:
    return {
        "checks": len(checks),
        "errors": sum(1 for c in checks if c.status == "FAIL"),
        "warnings": sum(1 for c in checks if c.status == "WARN"),
    }


def print_json(checks: list[Check], config: Path) -> None:
    counts = summary(checks)
    document = {
        "config": str(config),
        "ok": counts["errors"] == 0,
        **counts,
        "results": [c.to_json() for c in checks],
    }
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_table(checks: list[Check]) -> None:
    width = max(len(c.name) for c in checks)
    indent = " " * (4 + 2 + width + 2)
    for check in checks:
        text = check.detail if check.ok else check.problem
        print(f"{check.status:<4}  {check.name:<{width}}  {text}")
        if not check.ok and check.fix:
            print(f"{indent}fix: {check.fix}")
    counts = summary(checks)
    verdict = "FAILED" if counts["errors"] else "ok"
    print(
        f"\n{verdict}: {counts['errors']} error(s), {counts['warnings']} warning(s), {counts['checks']} checks"
    )
