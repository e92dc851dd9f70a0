"""``borderx serve --config FILE [--listen HOST:PORT]``: run one gateway until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from borderx.config import load_config
from borderx.errors import ConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser(
        "serve",
        help="run a gateway",
        description="Run a gateway over mutual TLS until SIGTERM or SIGINT (SIGHUP reloads the directory).",
    )
    serve.add_argument(
        "--config", required=True, type=Path, metavar="FILE", help="gateway TOML configuration"
    )
    serve.add_argument(
        "--listen", metavar="HOST:PORT", help="override the config's listen address (port 0: any free port)"
    )
    serve.add_argument("--store", metavar="URL", help="override the config's store URL")
    serve.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="AGENCY=HOST:PORT",
        help="reach peer AGENCY at HOST:PORT instead of its directory endpoint (repeatable)",
    )
    serve.add_argument(
        "--ready-file",
        type=Path,
        metavar="FILE",
        help="write the bound port to FILE once listening (for scripts and tests)",
    )
    serve.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from borderx.server.app import serve  # noqa: PLC0415 - keeps other commands' start-up light

    endpoints = {}
    for item in args.endpoint:
        agency, sep, endpoint = item.partition("=")
        if not sep:
            raise ConfigError(f"--endpoint {item!r}: write AGENCY=HOST:PORT")
        endpoints[agency] = endpoint
    config = load_config(args.config).with_overrides(
        listen=args.listen, store_url=args.store, endpoints=endpoints
    )

    def ready(port: int) -> None:
        if args.ready_file:
            tmp = args.ready_file.with_suffix(".tmp")
            tmp.write_text(f"{port}\n")
            tmp.replace(args.ready_file)

    asyncio.run(serve(config, ready=ready))
    # the gateway has stopped cleanly; a repeated SIGTERM from a supervisor must not turn
    # that into a death by signal while the interpreter exits
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return 0
