"""``borderx store …``: maintenance of a gateway's store, run while that gateway is stopped.

- ``rebuild-index --config FILE``: drop the derived screening index and recompute it from
  the stored envelopes (the store is the truth; the index is derived).
- ``migrate --config FILE``: apply pending schema migrations and print the version.
- ``copy --from URL --to URL --directory FILE``: move a gateway's store to another backend
  (e.g. SQLite to PostgreSQL), admitting every envelope on the way exactly as a live gateway
  would (signature, key, chain, body rules, memberships, time: DESIGN §8); checkpoints,
  suspensions, alarms and own-chain/bad-signature evidence come along (equivocation pairs
  stay in the source).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from borderx.config import load_config
from borderx.errors import BorderxError

if TYPE_CHECKING:
    from borderx.directory.model import Directory
    from borderx.statements.intake import IntakePolicy
    from borderx.store import Store


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
    copy = actions.add_parser(
        "copy",
        help="copy a store to another URL, verifying every envelope and chain",
        description="Copy every statement (verified: signature, key window, chain), checkpoint, suspension "
        "and alarm from one store to another, e.g. SQLite to PostgreSQL. "
        "Run it while the gateway is stopped; the destination must be empty or hold a prefix of the source.",
    )
    copy.add_argument("--from", dest="source", required=True, metavar="URL", help="source store URL")
    copy.add_argument("--to", dest="target", required=True, metavar="URL", help="destination store URL")
    copy.add_argument(
        "--directory",
        required=True,
        type=Path,
        metavar="FILE",
        help="federation directory.json, for the keys",
    )
    copy.add_argument(
        "--agency",
        metavar="ID",
        help="the agency whose store this is (default: the issuer of the statements it published itself)",
    )
    copy.add_argument(
        "--output", choices=["table", "json"], default="table", help="output format (default table)"
    )
    copy.set_defaults(func=run_copy)
    migrate.set_defaults(func=run_migrate)


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from borderx.store import open_store  # noqa: PLC0415

    config = load_config(args.config).with_overrides(store_url=args.store)
    return open_store(config.store_url)


def _print(args: argparse.Namespace, data: dict[str, object], line: str) -> None:
    print(json.dumps(data) if args.output == "json" else line)


def run_rebuild(args: argparse.Namespace) -> int:
    from borderx.directory.model import Directory  # noqa: PLC0415
    from borderx.server.app import intake_policy  # noqa: PLC0415
    from borderx.statements.intake import Reindexer  # noqa: PLC0415
    from borderx.store import open_store  # noqa: PLC0415

    config = load_config(args.config).with_overrides(store_url=args.store)
    directory = Directory.load(config.directory_path)
    with open_store(config.store_url) as store:
        start = time.perf_counter()
        # the same admission as every other door: a statement that no longer passes (a
        # rule, a revoked key) stays stored as evidence and leaves the index
        reindexer = Reindexer(store, directory=directory, policy=intake_policy(config))
        count = store.rebuild_index(reindexer)
        seconds = time.perf_counter() - start
        _print(
            args,
            {
                "store": store.location,
                "indexed": count,
                "violations": len(reindexer.violations),
                "seconds": round(seconds, 3),
            },
            f"rebuilt the screening index of {store.location}: {count} statements in {seconds:.2f} s"
            + (f"; {len(reindexer.violations)} kept as evidence only" if reindexer.violations else ""),
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


COPY_PAGE = 1000


def _home_of(source: Store) -> str:
    """The agency a store belongs to: the issuer of the statements it published itself."""
    for issuer in sorted(source.heads()):
        first = source.get(issuer, 1)
        if first is not None and first.received_from == "":
            return issuer
    return ""


def _copy_cosignatures(source: Store, target: Store, directory: Directory, policy: IntakePolicy) -> None:
    """Every cosignature of ``source`` through admission into ``target`` (a refused one is left behind)."""
    from borderx.errors import RuleViolation  # noqa: PLC0415
    from borderx.statements.intake import StoreView, admit_cosignature  # noqa: PLC0415

    cursor = 0
    while page := source.cosignatures_after(cursor, COPY_PAGE):
        for cursor, scos in page:  # noqa: B007 - the last id is the next page's cursor
            try:
                admission = admit_cosignature(
                    scos,
                    directory=directory,
                    policy=policy,
                    view=StoreView(target),
                    held=target.cosignatures_at(scos.issuer, scos.seq),
                    received_at=datetime.now(UTC),
                )
            except RuleViolation:
                continue  # the witness broke a rule: it never counted at the source either
            if admission.fresh:
                target.put_cosignature(scos)


def run_copy(args: argparse.Namespace) -> int:
    from borderx.directory.model import Directory  # noqa: PLC0415
    from borderx.screening.index import index_effects  # noqa: PLC0415
    from borderx.statements.intake import IntakePolicy, StoreView, admit, admit_checkpoint  # noqa: PLC0415
    from borderx.statements.model import GENESIS_DIGEST  # noqa: PLC0415
    from borderx.store import IndexEffects, NewStatement, open_store  # noqa: PLC0415

    directory = Directory.load(args.directory)
    start = time.perf_counter()
    copied = violations = 0
    with open_store(args.source) as source, open_store(args.target) as target:
        policy = IntakePolicy(home=args.agency or _home_of(source), indexer=index_effects)
        # the witnesses first: a statement under a since-retired key is admitted on them
        _copy_cosignatures(source, target, directory, policy)
        for issuer, head in sorted(source.heads().items()):
            held = target.head(issuer)
            pos, prev = (held.seq, held.digest) if held else (0, GENESIS_DIGEST)
            if held is not None:
                mine = source.get(issuer, held.seq)
                if mine is None or mine.envelope.digest != held.digest:
                    raise BorderxError(
                        f"{issuer}: the destination's seq {held.seq} differs from the source's; refusing"
                    )
            while pos < head.seq:
                page = source.read_range(issuer, pos, COPY_PAGE)
                view = StoreView(target)
                view.expect([s.envelope for s in page])
                entries = []
                for stored in page:
                    env = stored.envelope
                    if env.seq != pos + 1 or env.header.prev_digest != prev:
                        raise BorderxError(f"{issuer}: the source chain breaks at seq {env.seq}")
                    if not stored.verified and stored.violation:
                        # its deferred signature check failed: it stays evidence only
                        kind = env.header.body_type if env.body is not None else ""
                        entries.append(
                            NewStatement(
                                env,
                                stored.received_from,
                                IndexEffects.refused(kind, stored.violation),
                                verified=False,
                            )
                        )
                        violations += 1
                        pos, prev = env.seq, env.digest
                        continue
                    # the one admission path, never trust: a store file could have been edited
                    # (a bad signature or a forged own statement refuses the copy)
                    admission = admit(
                        env,
                        directory=directory,
                        policy=policy,
                        view=view,
                        received_at=stored.received_at,
                        received_from="" if issuer == policy.home else stored.received_from,
                        # a check still pending at the source stays pending at the destination
                        vouched=not stored.verified,
                    )
                    view.add(admission, stored.received_at)
                    violations += admission.violation is not None
                    entries.append(admission.entry(stored.received_from))
                    pos, prev = env.seq, env.digest
                target.append(entries)
                copied += len(entries)
            for checkpoint in source.checkpoints_between(issuer, 0, head.seq):
                admit_checkpoint(
                    checkpoint,
                    directory=directory,
                    policy=policy,
                    view=StoreView(target),
                    received_at=datetime.now(UTC),
                )
                target.put_checkpoint(checkpoint)
        for issuer, suspension in source.suspended_issuers().items():
            target.suspend_issuer(issuer, suspension.reason)
        for alarm in source.alarms(include_acknowledged=True):
            target.raise_alarm(alarm.kind, alarm.issuer, alarm.detail, peer=alarm.peer)
        for proof in source.evidence():
            target.record_evidence(
                proof.kind,
                proof.issuer,
                proof.seq,
                proof.detail,
                envelopes=proof.envelopes,
                checkpoints=proof.checkpoints,
                reported_by=proof.reported_by,
            )
        seconds = time.perf_counter() - start
        _print(
            args,
            {
                "from": source.location,
                "to": target.location,
                "statements": copied,
                "violations": violations,
                "seconds": round(seconds, 3),
            },
            f"copied {copied} verified statements from {source.location} to {target.location} in {seconds:.1f} s"
            + (f" ({violations} kept as evidence only)" if violations else ""),
        )
    return 0
