"""Prometheus metrics of one gateway, on their own registry and port (``[observability] metrics_listen``).

- ``borderx_rpcs_total{method, code, caller_agency}`` and ``borderx_rpc_duration_seconds{method}``;
- ``borderx_statements_stored_total{issuer, body_type, source}`` (source: published | replicated);
- ``borderx_verification_failures_total{reason}``;
- scraped live: ``borderx_replication_lag_statements{peer}``, ``borderx_peer_connected{peer}``,
  ``borderx_issuer_head_seq{issuer}``, ``borderx_checkpoint_age_seconds{issuer}``,
  ``borderx_open_alarms{kind}``.

Labels carry agency ids, method names and reasons only: never party identifiers, key
material or anything personal.
"""

from __future__ import annotations

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
        connected = GaugeMetricFamily(
            "borderx_peer_connected", "1 when the replication stream is up", labels=["peer"]
        )
        heads = gw.store.heads()
        for link in gw.replicator.links.values():
            st = link.status
            behind = sum(
                max(0, seq - (heads[i].seq if i in heads else 0)) for i, (seq, _) in st.known_heads.items()
            )
            lag.add_metric([st.agency], behind)
            connected.add_metric([st.agency], 1.0 if st.connected else 0.0)
        yield lag
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
        for kind, n in Tally(a.kind for a in gw.store.alarms()).items():
            alarms.add_metric([kind], n)
        yield alarms
