"""``borderx store …``: maintenance of a gateway's store, run while that gateway is stopped.

- ``rebuild-index --config FILE``: drop the derived screening index and recompute it from
  the stored envelopes (the store is the truth; the index is derived).
- ``migrate --config FILE``: apply pending schema migrations and print the version.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from borderx.config import load_config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    store = sub.add_parser("store", help="store maintenance (rebuild-index, migrate)", description=__doc__)
    actions = store.add_subparsers(dest="store_command", metavar="ACTION", required=True)
    rebuild = actions.add_parser(
        "rebuild-index",
        help="recompute the screening index from the stored envelopes",
        description="Drop the derived screening index and recompute it from the stored envelopes, in one transaction.",
    )
    migrate = actions.add_parser(
        "migrate", help="apply pending schema migrations", description="Apply pending schema migrations."
    )
    for parser in (rebuild, migrate):
        parser.add_argument(
            "--config", required=True, type=Path, metavar="FILE", help="the gateway's TOML configuration"
        )
        parser.add_argument("--store", metavar="URL", help="override the config's store URL")
        parser.add_argument(
            "--output", choices=["table", "json"], default="table", help="output format (default table)"
        )
    rebuild.set_defaults(func=run_rebuild)
    migrate.set_defaults(func=run_migrate)


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from borderx.store import open_store  # noqa: PLC0415

    config = load_config(args.config).with_overrides(store_url=args.store)
    return open_store(config.store_url)


def _print(args: argparse.Namespace, data: dict[str, object], line: str) -> None:
    print(json.dumps(data) if args.output == "json" else line)


def run_rebuild(args: argparse.Namespace) -> int:
    from borderx.screening.index import index_effects  # noqa: PLC0415

    with _open(args) as store:
        start = time.perf_counter()
        count = store.rebuild_index(index_effects)
        seconds = time.perf_counter() - start
        _print(
            args,
            {"store": store.location, "indexed": count, "seconds": round(seconds, 3)},
            f"rebuilt the screening index of {store.location}: {count} statements in {seconds:.2f} s",
        )
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    with _open(args) as store:
        version = store.migrate()
        _print(
            args,
            {"store": store.location, "schema_version": version},
            f"{store.location}: schema version {version}",
        )
    return 0
