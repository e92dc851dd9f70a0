"""Gateway configuration: the only place TOML is read.

One TOML file per gateway. Relative paths are resolved against the folder of the file,
so a config travels with the files it names. Everything is validated once, here, into
frozen dataclasses with documented units and defaults, and passed on explicitly.

    agency = "AU-ABF"                       # this gateway's agency id
    listen = "127.0.0.1:50052"              # host:port for gRPC over mutual TLS
    directory = "../directory.json"         # federation directory (DESIGN §2)
    store = "sqlite:///au-abf.db"           # sqlite:///path or postgresql://…

    [tls]
    cert = "gateway.pem"                    # this gateway's certificate (server + client auth)
    key = "gateway.key"

    [signing]
    key = "signing.key"                     # Ed25519 PKCS#8 PEM, listed in the directory

    [limits]
    max_message_bytes = 16777216            # per message, bytes
    max_screen_batch = 10000                # shipments per Screen call
    max_publish_batch = 1000                # statements per Publish call
    max_connection_age_seconds = 3600       # connections re-handshake at least this often
    max_connection_age_grace_seconds = 300  # then open streams get this long to finish
    max_shipment_identifiers = 64           # shipper + consignee identifiers per shipment
    max_screen_identifiers = 100000         # identifiers per Screen call, all shipments
    max_text_chars = 256                    # reference and other free-text Screen fields, characters
    idempotency_ttl_seconds = 86400         # how long a Publish receipt replays its idempotency key

    [policy.recognise]                      # partner programmes recognised (see screening/policy.py)
    NZ_SES = []

    [policy.flags.UNDERVALUATION]           # flag category × evidence → action overrides
    SUSPECTED = "STANDARD"

    [policy.matching]                       # name/contact matching thresholds, 0..1 (see screening/policy.py)
    review = 0.85                           # a NAME match from here raises scrutiny (at most EXAMINE)

    [observability]                         # plaintext health-only gRPC and Prometheus listeners
    health_listen = "0.0.0.0:8081"          # empty/absent = off
    metrics_listen = "0.0.0.0:9090"

    [federation]                            # replication (see FederationConfig)
    peers = ["NZ-CS", "CA-CBSA"]            # default: every other member of the directory
    max_clock_skew_seconds = 300            # how far ahead of receipt a statement may be dated
    witness_quorum = 2                      # distinct witnesses whose cosignatures prove when a statement existed
    witness_grace_seconds = 300             # how long after a key retired its statements may still be first seen
    [federation.endpoints]                  # optional overrides of directory endpoints
    NZ-CS = "127.0.0.1:7001"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from borderx.directory.model import AGENCY_ID_PATTERN
from borderx.errors import ConfigError
from borderx.screening.policy import ScreeningPolicy, policy_from_toml


@dataclass(frozen=True)
class Limits:
    """``[limits]``: what one call may ask of a gateway. docs/operators.md lists each with the
    status a client gets past it (RESOURCE_EXHAUSTED naming the limit, or INVALID_ARGUMENT
    naming the field for text). ``max_connection_age_seconds``: a client connection is
    closed (GOAWAY) after about this long, so every peer re-handshakes with current TLS
    material; ``max_connection_age_grace_seconds``: how long its open streams then get to
    finish.
    """

    max_message_bytes: int = 16 * 1024 * 1024
    max_screen_batch: int = 10_000
    max_publish_batch: int = 1_000
    max_connection_age_seconds: float = 3600.0
    max_connection_age_grace_seconds: float = 300.0
    #: shipper + consignee identifiers of one shipment
    max_shipment_identifiers: int = 64
    #: identifiers of all shipments of one Screen call (bounds its total work)
    max_screen_identifiers: int = 100_000
    #: characters of a shipment's reference, origin, platform and each HS code
    max_text_chars: int = 256
    #: seconds a Publish receipt answers a retry with the same idempotency key; after
    #: that the key is free again
    idempotency_ttl_seconds: float = 86_400.0


@dataclass(frozen=True)
class FederationConfig:
    """Replication settings (``[federation]``).

    ``peers``: agency ids this gateway subscribes to (None = every other member of the
    directory). ``endpoints``: per-agency address overrides of the directory's endpoints
    (e.g. through a proxy). ``checkpoint_every``: statements between this agency's signed
    checkpoints; ``checkpoint_seconds``: at most this long before a new head is
    checkpointed; ``heartbeat_seconds``: a checkpoint at least this often even when nothing
    changed, so partners can tell how fresh their copy is.
    """

    enabled: bool = True
    peers: tuple[str, ...] | None = None
    endpoints: dict[str, str] = field(default_factory=dict)
    checkpoint_every: int = 256
    checkpoint_seconds: float = 2.0
    heartbeat_seconds: float = 30.0
    backoff_initial_seconds: float = 0.2
    backoff_max_seconds: float = 10.0
    #: how far ahead of its receipt a statement or checkpoint may be dated (seconds)
    max_clock_skew_seconds: float = 300.0
    #: distinct witnesses (members other than the issuer) whose cosignatures prove a statement
    #: existed by then; a statement under a key whose window has closed needs them (or our
    #: own receipt) from before the window closed plus ``witness_grace_seconds``
    #: (docs/threat-model.md, "Witnessed time"). 1 trusts any single partner's clock.
    witness_quorum: int = 2
    #: how long after a signing key's window closed a statement under it may still be first
    #: seen (received here, or cosigned by the quorum): checkpointing + replication + cosigning
    witness_grace_seconds: float = 300.0


@dataclass(frozen=True)
class ObservabilityConfig:
    """``[observability]``: listeners for platforms that cannot speak mutual TLS.

    ``health_listen``: HOST:PORT of a plaintext gRPC listener serving only
    ``grpc.health.v1.Health`` (Kubernetes' native gRPC probes cannot present a client
    certificate); empty = off. ``metrics_listen``: HOST:PORT of the Prometheus endpoint
    (``/metrics``); empty = off. Neither serves any statement or party data.
    """

    health_listen: str = ""
    metrics_listen: str = ""


@dataclass(frozen=True)
class GatewayConfig:
    agency: str
    listen: str
    directory_path: Path
    store_url: str
    tls_cert: Path
    tls_key: Path
    signing_key: Path | None
    limits: Limits = field(default_factory=Limits)
    policy: ScreeningPolicy | None = None
    federation: FederationConfig = field(default_factory=FederationConfig)
    observability: ObservabilityConfig = field(default_factory=ObservabilityConfig)
    source: Path | None = None

    @property
    def screening_policy(self) -> ScreeningPolicy:
        return self.policy or policy_from_toml(self.agency, {}, where="defaults")

    def with_overrides(
        self,
        *,
        listen: str | None = None,
        store_url: str | None = None,
        endpoints: dict[str, str] | None = None,
    ) -> GatewayConfig:
        changes: dict[str, Any] = {}
        if endpoints:
            for agency, endpoint in endpoints.items():
                if not AGENCY_ID_PATTERN.fullmatch(agency):
                    raise ConfigError(f"--endpoint: {agency!r} is not an agency id like AU-ABF")
                check_host_port(endpoint, f"--endpoint {agency}")
            merged = {**self.federation.endpoints, **endpoints}
            changes["federation"] = replace(self.federation, endpoints=merged)
        if listen:
            changes["listen"] = check_host_port(listen, "--listen")
        if store_url:
            changes["store_url"] = store_url
        return replace(self, **changes)


def check_host_port(value: str, where: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{where}: {value!r} is not HOST:PORT (e.g. 127.0.0.1:50051)")
    return value


def _table(doc: dict[str, Any], name: str, source: Path) -> dict[str, Any]:
    value = doc.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    return value


def _str(table: dict[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = table.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: '{key}' must be a non-empty string")
    return value


def _positive_int(table: dict[str, Any], key: str, default: int, where: str) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: '{key}' must be a positive integer, got {value!r}")
    return value


def resolve_store_url(url: str, base: Path) -> str:
    """Make a relative ``sqlite:///path`` (or bare path) absolute against ``base``."""
    if url.startswith(("postgresql://", "postgres://")):
        return url
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    if url.startswith("sqlite://") and not url.startswith("sqlite:///"):
        raise ConfigError(f"store {url!r}: write sqlite:///path/to/file.db")
    return "sqlite:///" + str((base / path).resolve())


def _positive_float(table: dict[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where}: '{key}' must be a positive number of seconds, got {value!r}")
    return float(value)


def _limits(table: dict[str, Any], where: str) -> Limits:
    """Every ``[limits]`` setting: a positive integer, or a positive number of seconds (the float ones)."""
    values: dict[str, Any] = {}
    for f in fields(Limits):
        default = getattr(Limits, f.name)
        read = _positive_float if isinstance(default, float) else _positive_int
        values[f.name] = read(table, f.name, default, where)
    return Limits(**values)


def _federation(table: dict[str, Any], where: str) -> FederationConfig:
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"{where}: 'enabled' must be true or false")
    peers = table.get("peers")
    if peers is not None and (
        not isinstance(peers, list)
        or not all(isinstance(p, str) and AGENCY_ID_PATTERN.fullmatch(p) for p in peers)
    ):
        raise ConfigError(f'{where}: \'peers\' must be a list of agency ids like ["NZ-CS", "CA-CBSA"]')
    endpoints = table.get("endpoints", {})
    if not isinstance(endpoints, dict):
        raise ConfigError(f'{where}: [federation.endpoints] must map AGENCY = "HOST:PORT"')
    for agency, endpoint in endpoints.items():
        if not AGENCY_ID_PATTERN.fullmatch(agency) or not isinstance(endpoint, str):
            raise ConfigError(f'{where}: endpoints.{agency} must be an agency id mapped to "HOST:PORT"')
        check_host_port(endpoint, f"{where}: endpoints.{agency}")
    defaults = FederationConfig()
    return FederationConfig(
        enabled=enabled,
        peers=tuple(peers) if peers is not None else None,
        endpoints=dict(endpoints),
        checkpoint_every=_positive_int(table, "checkpoint_every", defaults.checkpoint_every, where),
        checkpoint_seconds=_positive_float(table, "checkpoint_seconds", defaults.checkpoint_seconds, where),
        heartbeat_seconds=_positive_float(table, "heartbeat_seconds", defaults.heartbeat_seconds, where),
        max_clock_skew_seconds=_positive_float(
            table, "max_clock_skew_seconds", defaults.max_clock_skew_seconds, where
        ),
        witness_quorum=_positive_int(table, "witness_quorum", defaults.witness_quorum, where),
        witness_grace_seconds=_positive_float(
            table, "witness_grace_seconds", defaults.witness_grace_seconds, where
        ),
        backoff_initial_seconds=_positive_float(
            table, "backoff_initial_seconds", defaults.backoff_initial_seconds, where
        ),
        backoff_max_seconds=_positive_float(
            table, "backoff_max_seconds", defaults.backoff_max_seconds, where
        ),
    )


def _observability(table: dict[str, Any], where: str) -> ObservabilityConfig:
    out = {}
    for key in ("health_listen", "metrics_listen"):
        value = table.get(key, "")
        if not isinstance(value, str):
            raise ConfigError(f"{where}: '{key}' must be \"HOST:PORT\" or empty")
        out[key] = check_host_port(value, f"{where}: {key}") if value else ""
    return ObservabilityConfig(**out)


def load_config(path: str | Path) -> GatewayConfig:
    source = Path(path)
    try:
        doc = tomllib.loads(source.read_text())
    except OSError as exc:
        raise ConfigError(f"config {source}: cannot read it ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config {source}: not valid TOML ({exc})") from exc
    base = source.resolve().parent
    where = str(source)
    agency = _str(doc, "agency", where)
    if not AGENCY_ID_PATTERN.fullmatch(agency):
        raise ConfigError(f"{where}: agency {agency!r} is not an agency id like AU-ABF")
    tls = _table(doc, "tls", source)
    signing = _table(doc, "signing", source)
    limits = _table(doc, "limits", source)
    signing_key = _str(signing, "key", f"{where} [signing]", required=False)
    return GatewayConfig(
        agency=agency,
        listen=check_host_port(_str(doc, "listen", where), f"{where}: listen"),
        directory_path=base / _str(doc, "directory", where),
        store_url=resolve_store_url(_str(doc, "store", where), base),
        tls_cert=base / _str(tls, "cert", f"{where} [tls]"),
        tls_key=base / _str(tls, "key", f"{where} [tls]"),
        signing_key=base / signing_key if signing_key else None,
        limits=_limits(limits, f"{where} [limits]"),
        policy=policy_from_toml(agency, doc.get("policy"), where=where),
        federation=_federation(_table(doc, "federation", source), f"{where} [federation]"),
        observability=_observability(_table(doc, "observability", source), f"{where} [observability]"),
        source=source,
    )
