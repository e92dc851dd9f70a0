"""The ``borderx`` command line: ``main(argv) -> int``, one module per command group.

Each command module exposes ``register(subparsers)``, which adds its parser(s) and sets
``func`` to a callable ``(args) -> int``. This module is the one place that maps borderx
errors to exit codes: 0 ok, 1 the command ran and found a failure, 2 usage or
configuration error, 3 the gateway refused or could not be reached.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from borderx import __version__
from borderx.errors import BorderxError, ConfigError, InvalidArgument

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_REMOTE = 3

#: What every command's --help says of its exit status when its module says nothing more precise.
EXIT_CODES_LOCAL = "Exit status: 0 ok; 1 the command ran and found a failure; 2 usage or configuration error."
EXIT_CODES_CLIENT = (
    "Exit status: 0 ok; 1 the command ran and found a failure; 2 usage or configuration error; "
    "3 the gateway refused the call or could not be reached."
)


def _mentions_exit_codes(parser: argparse.ArgumentParser) -> bool:
    text = f"{parser.description or ''} {parser.epilog or ''}"
    return "Exit status:" in text or "Exit:" in text


def name_exit_codes(parser: argparse.ArgumentParser) -> None:
    """Give every parser that does not name its exit codes the ones :func:`main` maps to.

    A command that talks to a gateway (it has ``--target``) also names 3. Commands with
    codes of their own (doctor, demo, import …) say so in their description or epilog.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                name_exit_codes(child)
    if parser.prog == "borderx" or _mentions_exit_codes(parser):
        return
    client = any("--target" in a.option_strings for a in parser._actions)
    codes = EXIT_CODES_CLIENT if client else EXIT_CODES_LOCAL
    parser.epilog = f"{parser.epilog}\n{codes}" if parser.epilog else codes


def build_parser() -> argparse.ArgumentParser:
    from borderx.cli import commands  # noqa: PLC0415 - keeps `borderx --version` fast

    parser = argparse.ArgumentParser(
        prog="borderx",
        description="borderx: share signed known-shipper designations and violation flags among customs agencies.",
    )
    parser.add_argument("--version", action="version", version=f"borderx {__version__}")
    parser.add_argument(
        "--log-format",
        choices=["json", "console"],
        default="json",
        help="log format on stderr (default: json)",
    )
    parser.add_argument("--log-level", default="info", help="debug, info, warning or error (default: info)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in commands.MODULES:
        module.register(sub)
    name_exit_codes(parser)
    parser.epilog = EXIT_CODES_CLIENT
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from borderx.logging import configure_logging  # noqa: PLC0415

    configure_logging(fmt=args.log_format, level=args.log_level)
    try:
        return int(args.func(args))
    except (ConfigError, InvalidArgument) as exc:
        print(f"borderx: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BorderxError as exc:
        print(f"borderx: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: stop quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
