"""``borderx search "NAME" [--country CC] [--limit N]``: candidate parties by name (Exchange.Search).

What an officer types when a parcel looks wrong: the parties this gateway holds
statements about whose names resemble NAME, best score first, each with how it matched
(score and evidence) and its current statements (as ``borderx lookup`` shows them).
``--output json`` prints a list of candidates with ``party``, ``match`` and ``entries``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Protocol, TextIO

import grpc

from borderx._proto.borderx.v1 import exchange_pb2, exchange_pb2_grpc
from borderx.cli.client import add_client_flags, call, to_dict
from borderx.cli.import_cmd import positive_int
from borderx.cli.lookup_cmd import describe_body, entry_view
from borderx.cli.rpc import report as report_rpc_error
from borderx.cli.screen_cmd import match_view


class SearchStub(Protocol):
    """What the CLI needs of ``ExchangeStub``: a fake with this method stands in for it in tests."""

    def Search(self, request: Any, *, timeout: float | None = ...) -> Any:  # noqa: N802 - the RPC's name
        ...


def search(
    stub: SearchStub, name: str, *, country: str = "", limit: int = 10, timeout: float | None = None
) -> Any:
    """The ``SearchResponse`` for ``name``."""
    request = exchange_pb2.SearchRequest(name=name, country=country, limit=limit)
    return stub.Search(request, timeout=timeout)


def candidate_view(candidate: Any) -> dict[str, Any]:
    """One candidate as plain data (what ``--output json`` prints)."""
    return {
        "party": to_dict(candidate.party),
        "match": match_view(candidate.match),
        "entries": [entry_view(e).as_json() for e in candidate.entries],
    }


def print_candidates(response: Any, name: str, out: TextIO | None = None) -> None:
    stream = out if out is not None else sys.stdout
    if not response.candidates:
        stream.write(f"no party held resembles {name!r}\n")
        return
    for candidate in response.candidates:
        party, match = candidate.party, candidate.match
        country = f" ({party.address.country})" if party.address.country else ""
        stream.write(f"{match.score:.2f}  {party.legal_name}{country}\n")
        stream.write(f"    {', '.join(match.evidence)}\n")
        for entry in candidate.entries:
            view = entry_view(entry)
            state = "current" if view.current else f"not current: {view.status}"
            stream.write(f"    {view.ref}  {view.kind}  {state}\n")
            if view.body is not None:
                for line in describe_body(view.body)[:1]:
                    stream.write(f"        {line}\n")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "search",
        help="candidate parties by name, with scores and their statements (Exchange.Search)",
        description="List the parties this gateway holds statements about whose names resemble NAME "
        "(legal forms, punctuation, case, word order and syllable spacing do not matter), best "
        "first, with the score, what agreed and contradicted, and their current statements.",
    )
    parser.add_argument("name", metavar="NAME", help='a legal or trading name, e.g. "Hongda Trading"')
    parser.add_argument(
        "--country", default="", help="ISO 3166-1 alpha-2; a different country counts against"
    )
    parser.add_argument(
        "--limit", type=positive_int, default=10, help="candidates to list (default 10, at most 100)"
    )
    add_client_flags(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    country = args.country.strip().upper()
    try:
        response = call(
            args,
            lambda channel, timeout: search(
                exchange_pb2_grpc.ExchangeStub(channel),
                args.name,
                country=country,
                limit=args.limit,
                timeout=timeout,
            ),
        )
    except grpc.RpcError as exc:
        return report_rpc_error(exc)
    if args.output == "json":
        json.dump([candidate_view(c) for c in response.candidates], sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print_candidates(response, args.name)
    return 0
