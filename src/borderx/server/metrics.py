"""Prometheus metrics of one gateway, on their own registry and port (``[observability] metrics_listen``).

- ``borderx_rpcs_total{method, code, caller_agency}`` and ``borderx_rpc_duration_seconds{method}``;
- ``borderx_statements_stored_total{issuer, body_type, source}`` (source: published | replicated);
- ``borderx_verification_failures_total{reason}``;
- scraped live: ``borderx_replication_lag_statements{peer}``, ``borderx_replication_lag_seconds{peer}``,
  ``borderx_peer_connected{peer}``,
  ``borderx_issuer_head_seq{issuer}``, ``borderx_checkpoint_age_seconds{issuer}``,
  ``borderx_open_alarms{kind}``, ``borderx_store_bytes``, ``borderx_issuer_suspended{issuer}``,
  ``borderx_directory_version``, ``borderx_expiry_seconds{kind, agency, subject}`` (seconds
  until a certificate or signing key ends; negative once past; absent for a key with no end);
- ``borderx_screening_recommendations_total{recommendation}`` (Screen results per shipment).

``borderx_open_alarms`` kinds are the store's alarm kinds (``gap``, ``equivocation``,
``rule_violation`` …) plus two that are always exported, at 0 until the code that raises
them exists: :data:`OWN_CHAIN_ALARM` (our own agency's statements offered by a peer: the
home key is compromised) and :data:`DIRECTORY_DIVERGENCE_ALARM` (a peer holds another
directory of the same version). The alerting rules in ``deploy/prometheus/`` rely on them.

Labels carry agency ids, method names and reasons only: never party identifiers, key
material or anything personal.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from borderx.federation.replicator import Observer
from borderx.statements.model import Envelope

if TYPE_CHECKING:
    from borderx.server.app import Gateway

#: Alarm kinds every scrape exports (0 when none is open), so alert rules always have a series.
OWN_CHAIN_ALARM = "own_chain"
DIRECTORY_DIVERGENCE_ALARM = "directory_divergence"
ALWAYS_EXPORTED_ALARMS = ("gap", "equivocation", OWN_CHAIN_ALARM, DIRECTORY_DIVERGENCE_ALARM)
RECOMMENDATIONS = ("EXPEDITE", "STANDARD", "EXAMINE", "HOLD")

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics(Observer):
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.rpcs = Counter(
            "borderx_rpcs", "RPCs served, by method, status code and caller agency",
            ["method", "code", "caller_agency"], registry=self.registry,
        )  # fmt: skip
        self.rpc_seconds = Histogram(
            "borderx_rpc_duration_seconds",
            "RPC latency",
            ["method"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.stored_total = Counter(
            "borderx_statements_stored", "Statements stored, by issuer, body type and source",
            ["issuer", "body_type", "source"], registry=self.registry,
        )  # fmt: skip
        self.verification_failures = Counter(
            "borderx_verification_failures", "Statements or checkpoints refused, by reason",
            ["reason"], registry=self.registry,
        )  # fmt: skip
        self.recommendations = Counter(
            "borderx_screening_recommendations", "Screen results, by recommendation (one per shipment)",
            ["recommendation"], registry=self.registry,
        )  # fmt: skip
        for name in RECOMMENDATIONS:
            self.recommendations.labels(name)  # every series exists from the start, at 0
        self._server: Any = None
        self._rpc_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def observe_rpc(self, method: str, code: str, caller_agency: str, seconds: float) -> None:
        # label children are looked up once per label set: this runs on every RPC
        key = (method, code, caller_agency)
        children = self._rpc_children.get(key)
        if children is None:
            children = (self.rpcs.labels(method, code, caller_agency), self.rpc_seconds.labels(method))
            self._rpc_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def stored(self, envelopes: Sequence[Envelope], source: str) -> None:
        for env in envelopes:
            self.stored_total.labels(env.issuer, env.header.body_type, source).inc()

    def screened(self, recommendations: Sequence[str]) -> None:
        for name in recommendations:
            self.recommendations.labels(name).inc()

    def refused(self, reason: str) -> None:
        self.verification_failures.labels(reason).inc()

    def attach(self, gateway: Gateway) -> None:
        """Register the live collectors that read the gateway's state at scrape time."""
        self.registry.register(_LiveCollector(gateway))

    def serve(self, listen: str) -> int:
        host, _, port = listen.rpartition(":")
        server, _thread = start_http_server(int(port), addr=host, registry=self.registry)
        self._server = server
        return int(server.server_address[1])

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class _LiveCollector(Collector):
    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gw = self._gw
        lag = GaugeMetricFamily(
            "borderx_replication_lag_statements", "Statements a peer has shown us we lack", labels=["peer"]
        )
        lag_age = GaugeMetricFamily(
            "borderx_replication_lag_seconds",
            "How long the oldest statement a peer showed us we lack has been missing",
            labels=["peer"],
        )
        connected = GaugeMetricFamily(
            "borderx_peer_connected", "1 when the replication stream is up", labels=["peer"]
        )
        heads = gw.store.heads()
        mono = time.monotonic()
        for link in gw.replicator.links.values():
            st = link.status
            missing = [
                (seq - (heads[i].seq if i in heads else 0), seen)
                for i, (seq, seen) in st.known_heads.items()
                if seq > (heads[i].seq if i in heads else 0)
            ]
            lag.add_metric([st.agency], sum(n for n, _ in missing))
            lag_age.add_metric([st.agency], max((mono - seen for _, seen in missing), default=0.0))
            connected.add_metric([st.agency], 1.0 if st.connected else 0.0)
        yield lag
        yield lag_age
        yield connected
        head = GaugeMetricFamily("borderx_issuer_head_seq", "Head seq held per issuer", labels=["issuer"])
        for issuer, h in heads.items():
            head.add_metric([issuer], h.seq)
        yield head
        age = GaugeMetricFamily(
            "borderx_checkpoint_age_seconds", "Age of the latest checkpoint per issuer", labels=["issuer"]
        )
        now = datetime.now(UTC)
        for issuer, cp in gw.store.checkpoints().items():
            age.add_metric([issuer], (now - cp.checkpoint.time).total_seconds())
        yield age
        alarms = GaugeMetricFamily("borderx_open_alarms", "Open alarms by kind", labels=["kind"])
        tally = Tally(a.kind for a in gw.store.alarms())
        for kind in ALWAYS_EXPORTED_ALARMS:
            tally.setdefault(kind, 0)
        for kind, n in sorted(tally.items()):
            alarms.add_metric([kind], n)
        yield alarms
        suspended = GaugeMetricFamily(
            "borderx_issuer_suspended", "1 while an issuer's statements are refused", labels=["issuer"]
        )
        held = gw.store.suspended_issuers()
        for issuer in sorted(set(heads) | set(held)):
            suspended.add_metric([issuer], 1.0 if issuer in held else 0.0)
        yield suspended
        yield GaugeMetricFamily(
            "borderx_store_bytes", "The store's size on disk", value=gw.store.size_bytes()
        )
        yield GaugeMetricFamily(
            "borderx_directory_version", "Version of the directory in use", value=gw.directory.current.version
        )
        expiry = GaugeMetricFamily(
            "borderx_expiry_seconds",
            "Seconds until a certificate or signing key ends (negative once past)",
            labels=["kind", "agency", "subject"],
        )
        for e in gw.expiries():
            left = e.seconds_left(now)
            if left is not None and e.status != "revoked":
                expiry.add_metric([e.kind, e.agency, e.subject], left)
        yield expiry
