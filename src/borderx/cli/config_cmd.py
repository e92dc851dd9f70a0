"""``borderx config init --agency ID --directory FILE --out gateway.toml``: a ready,
commented gateway config for a member of the federation.

The agency must be listed in the directory (its entry comes first: certs/README.md). The
config's ``listen`` defaults to the agency's endpoint in the directory; file names default
to the ones ``borderx pki init`` uses, next to the config (``gateway.pem``, ``gateway.key``,
``signing.key``), and every path in it is written relative to the config's folder, as
:mod:`borderx.config` resolves them. The written file is loaded back with
:func:`borderx.config.load_config` before the command reports success, so what it writes
is what a gateway reads.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from borderx.config import check_host_port, load_config
from borderx.directory.model import Directory
from borderx.errors import ConfigError

EXIT_CODES = (
    "Exit status: 0 written; 2 usage or configuration error (agency not in the directory, "
    "file exists without --force, bad address)."
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = sub.add_parser(
        "config",
        help="gateway configuration files",
        description="Gateway configuration files (TOML, see borderx/config.py).",
        epilog=EXIT_CODES,
    )
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    init = config_sub.add_parser(
        "init",
        help="write a ready, commented gateway.toml for a member of the directory",
        description="Write a commented gateway config for AGENCY, a member of the directory FILE: "
        "listen on its directory endpoint, the TLS certificate and key, the signing key, a SQLite "
        "store, replication from every other member, and the screening policy to fill in. Then "
        "run `borderx doctor --config OUT`.",
        epilog=EXIT_CODES,
    )
    init.add_argument(
        "--agency", required=True, metavar="ID", help="this gateway's agency id, e.g. SG-CUSTOMS"
    )
    init.add_argument(
        "--directory", required=True, type=Path, metavar="FILE", help="the federation directory"
    )
    init.add_argument("--out", required=True, type=Path, metavar="FILE", help="the config file to write")
    init.add_argument(
        "--listen", metavar="HOST:PORT", help="gRPC listen address (default: the directory endpoint)"
    )
    init.add_argument(
        "--cert",
        default="gateway.pem",
        metavar="PATH",
        help="TLS certificate (default gateway.pem next to the config; a path with a folder is read from here)",
    )
    init.add_argument(
        "--key",
        default="gateway.key",
        metavar="PATH",
        help="TLS private key (default gateway.key next to the config)",
    )
    init.add_argument(
        "--signing-key",
        default="signing.key",
        metavar="PATH",
        help="Ed25519 signing key (default signing.key next to the config)",
    )
    init.add_argument(
        "--store", metavar="URL", help="sqlite:///file.db or postgresql://… (default sqlite:///<agency>.db)"
    )
    init.add_argument("--force", action="store_true", help="overwrite an existing file")
    init.set_defaults(func=run_init)


def _relative(path: str | Path, base: Path) -> str:
    """``path`` as the config should name it: relative to the config's folder unless given absolute."""
    p = Path(path)
    if p.is_absolute():
        return str(p)
    return os.path.relpath(Path.cwd() / p, base.resolve())


def _quoted(value: str) -> str:
    # TOML basic strings: escape what a path could carry
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(
    *,
    agency: str,
    name: str,
    federation: str,
    version: int,
    listen: str,
    directory: str,
    store: str,
    cert: str,
    key: str,
    signing_key: str,
    partners: list[str],
) -> str:
    peers = ", ".join(_quoted(p) for p in partners)
    return f"""\
# borderx gateway configuration for {agency} ({name}), a member of {federation}
# (written from directory v{version} by `borderx config init`). Paths are relative to this
# file. Check it with `borderx doctor --config <this file>`; run it with `borderx serve
# --config <this file>`. Every setting is documented in borderx/config.py.

agency = {_quoted(agency)}
listen = {_quoted(listen)}              # HOST:PORT for gRPC over mutual TLS (0.0.0.0:PORT in a container)
directory = {_quoted(directory)}        # the federation directory; SIGHUP reloads a newer version
store = {_quoted(store)}                # sqlite:///file.db, or postgresql://USER@HOST/DB for replicas

[tls]
# this gateway's certificate: issued by {agency}'s own CA (listed in the directory), one URI
# SAN spiffe://{federation}/agency/{agency}/gateway, serverAuth + clientAuth, DNS/IP SANs for
# the address partners dial. The key is an unencrypted PEM, mode 0600 (doctor fails otherwise).
cert = {_quoted(cert)}
key = {_quoted(key)}

[signing]
# the Ed25519 statement-signing key whose id (`borderx keys id {signing_key}`) the directory
# lists under {agency}; mode 0600. Without it the gateway relays but cannot publish.
key = {_quoted(signing_key)}

[limits]
max_message_bytes = 16777216   # bytes, per request or response message
max_screen_batch = 10000        # shipments per Screen call
max_publish_batch = 1000        # statements per Publish call

[federation]
# replication: by default from every other member of the directory, as it grows; `peers`
# narrows it. Endpoints come from the directory; override one under [federation.endpoints]
# when a partner is reached through a proxy.
enabled = true
# peers = [{peers}]
# [federation.endpoints]
# {partners[0] if partners else "XX-PARTNER"} = "gateway.partner.example:50051"

# [observability]
# health_listen = "0.0.0.0:8081"   # plaintext gRPC health only, for probes without a certificate
# metrics_listen = "0.0.0.0:9090"  # Prometheus /metrics (deploy/grafana, deploy/prometheus)

# Screening policy. Mutual recognition: partner programmes (and levels; [] = all) this agency
# recognises under an arrangement; its own programme is always recognised. Fill in yours:
[policy.recognise]
# NZ_SES = []
# UK_AEO = ["AEO_S", "AEO_F"]

# Flag category x evidence -> action overrides (EXPEDITE, STANDARD, EXAMINE, HOLD); the
# defaults are in borderx/screening/policy.py.
# [policy.flags.DE_MINIMIS_SPLITTING]
# SUSPECTED = "EXAMINE"
"""


def run_init(args: argparse.Namespace) -> int:
    directory = Directory.load(args.directory)
    if args.agency not in directory.agencies:
        raise ConfigError(
            f"--agency: {args.agency} is not in directory {args.directory} ({directory.federation} "
            f"v{directory.version}; members: {', '.join(directory.agencies)}); its entry must be added "
            "first (see certs/README.md)"
        )
    entry = directory.agencies[args.agency]
    listen = args.listen or entry.endpoint
    if not listen:
        raise ConfigError(
            f"--listen: the directory gives no endpoint for {args.agency}; pass --listen HOST:PORT"
        )
    check_host_port(listen, "--listen")
    out: Path = args.out
    if out.exists() and not args.force:
        raise ConfigError(f"--out: {out} exists; pass --force to overwrite it")
    base = out.parent if str(out.parent) else Path()
    if not base.is_dir():
        raise ConfigError(f"--out: folder {base} does not exist")
    store = args.store or f"sqlite:///{args.agency.lower()}.db"
    text = render(
        agency=args.agency,
        name=entry.name,
        federation=directory.federation,
        version=directory.version,
        listen=listen,
        directory=_relative(args.directory, base),
        store=store,
        cert=_relative(args.cert, base) if Path(args.cert).parent != Path() else args.cert,
        key=_relative(args.key, base) if Path(args.key).parent != Path() else args.key,
        signing_key=(
            _relative(args.signing_key, base) if Path(args.signing_key).parent != Path() else args.signing_key
        ),
        partners=[a for a in directory.agencies if a != args.agency],
    )
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text)
    try:
        load_config(tmp)  # what we write is what the gateway reads
    except ConfigError:
        tmp.unlink()
        raise
    tmp.replace(out)
    print(f"wrote {out} for {args.agency} (listen {listen}); check it with `borderx doctor --config {out}`")
    return 0
