"""A federation of real gateway processes on loopback, with a fault-injecting proxy on every link.

    fed = Federation(pki, tmp_path)            # every agency of the PKI, full mesh, proxied
    fed.start()
    fed.publish("AU-ABF", [designation("AU-ABF", (platform("acme"),))])
    fed.cut("AU-ABF", "CA-CBSA")               # both directions of that one link
    fed.kill9("NZ-CS"); fed.restart("NZ-CS")
    heads = fed.wait_converged()
    fed.stop()

Topology: gateway A subscribes to B through its own proxy ``link(A, B)`` (A dials the
proxy, the proxy dials B's listen port), so cutting ``link(A, B)`` stops A's replication
from B and nothing else. Listen ports are picked before anything starts and kept across
restarts, so the proxies and every peer's configuration stay valid while a gateway is down.

Each gateway gets its own TOML in ``workdir`` (absolute paths into the PKI, a SQLite store
in ``workdir``, the PKI's screening policy, a ``[federation]`` table naming its linked peers
and their proxy addresses, and short timings so tests run fast). ``extra_config`` is
merged into every gateway's TOML, ``gateway_config[AGENCY]`` into one gateway's.

What the harness reads: heads, statements and alarms come from each gateway's SQLite file,
opened read-side in this process (WAL lets it read while the gateway writes, and it works
while the gateway is down); :meth:`Federation.status` asks ``Admin.GetStatus`` over mTLS.
``heads_source = "status"`` reads heads through ``GetStatus`` instead.
"""

from __future__ import annotations

import copy
import json
import random
import re
import signal
import socket
import subprocess
import time
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc, exchange_pb2, exchange_pb2_grpc
from borderx.directory.model import Directory
from borderx.statements.bodies import Body, Designation, ViolationFlag, Withdrawal
from borderx.statements.body_codec import designation_to_proto, flag_to_proto, withdrawal_to_proto
from borderx.statements.encoding import envelope_from_proto
from borderx.store import Alarm, Store, open_store
from tests.conftest import channel, creds_for
from tests.federation.proxy import EventLoopThread, TcpProxy
from tests.procs import GatewayProcess

#: heads as compared between gateways: issuer -> (head seq, head header digest)
Heads = dict[str, tuple[int, bytes]]
#: one held statement: (issuer, seq, header digest, body held?)
HeldStatement = tuple[str, int, bytes, bool]
Links = Literal["full"] | Sequence[tuple[str, str]]
Publishable = Body | exchange_pb2.Draft | exchange_pb2.PublishItem

#: ``[federation]`` timings for tests: fast checkpoints, heartbeats and reconnects
TEST_TIMINGS: dict[str, float] = {
    "checkpoint_seconds": 0.2,
    "heartbeat_seconds": 1.0,
    "backoff_initial_seconds": 0.05,
    "backoff_max_seconds": 0.5,
}
RPC_TIMEOUT = 10.0
DEFAULT_TIMEOUT = 30.0
_POLL = 0.02
_POLL_MAX = 0.1


# ---------------------------------------------------------------- ports


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # below the ephemeral range of Linux, macOS and Windows defaults


def free_port(avoid: Iterable[int] = ()) -> int:
    """A loopback port free now, chosen *below* the OS's ephemeral range.

    Ports are chosen once and reused at every restart of a gateway. A port from the
    ephemeral range (what binding to port 0 gives) could meanwhile become the local port
    of some outgoing connection — the proxies make many — and the restart would fail with
    "address in use"; a port below the range is only ever taken by an explicit bind.
    """
    avoid = set(avoid)
    low = _ephemeral_low()
    rng = random.SystemRandom()
    for _ in range(500):
        port = rng.randrange(max(1024, low - 12_000), low)
        if port in avoid:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # crowded machine: any port
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- TOML


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as TOML")


def render_toml(doc: Mapping[str, Any], _path: tuple[str, ...] = ()) -> str:
    """``doc`` as TOML: plain keys first, then one ``[table]`` per nested mapping."""
    lines = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in doc.items() if not isinstance(v, Mapping)]
    out = "\n".join(lines) + ("\n" if lines else "")
    for key, value in doc.items():
        if isinstance(value, Mapping):
            path = (*_path, key)
            out += f"\n[{'.'.join(_toml_key(p) for p in path)}]\n" + render_toml(value, path)
    return out


def deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``, tables merged key by key (other values replaced)."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


# ---------------------------------------------------------------- the federation


def _publish_item(item: Publishable, audience: Sequence[str]) -> exchange_pb2.PublishItem:
    if isinstance(item, exchange_pb2.PublishItem):
        return item
    if isinstance(item, exchange_pb2.Draft):
        return exchange_pb2.PublishItem(draft=item)
    draft = exchange_pb2.Draft(audience=list(audience))
    if isinstance(item, Designation):
        draft.designation.CopyFrom(designation_to_proto(item))
    elif isinstance(item, ViolationFlag):
        draft.flag.CopyFrom(flag_to_proto(item))
    elif isinstance(item, Withdrawal):
        draft.withdrawal.CopyFrom(withdrawal_to_proto(item))
    else:
        raise TypeError(f"cannot publish {type(item).__name__}")
    return exchange_pb2.PublishItem(draft=draft)


class Federation:
    """N real gateways (``borderx serve``) on loopback, linked through :class:`TcpProxy`.

    ``agencies``: which of the PKI's agencies run (default: all, in directory order).
    ``links``: ``"full"`` (everyone subscribes to everyone) or undirected pairs
    ``[(a, b), …]`` — each pair makes a subscribe to b and b subscribe to a.
    ``proxied=False`` points the endpoints straight at the peers' ports (no proxies; the
    link controls then raise). Nothing runs until :meth:`start`; the configuration files
    and the proxies exist from construction, and :meth:`stop` releases everything.
    """

    heads_source: Literal["store", "status"] = "store"

    def __init__(
        self,
        pki: Path,
        workdir: Path,
        agencies: Sequence[str] | None = None,
        *,
        links: Links = "full",
        proxied: bool = True,
        extra_config: Mapping[str, Any] | None = None,
        gateway_config: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.pki = Path(pki).resolve()
        self.workdir = Path(workdir).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        directory = Directory.load(self.pki / "directory.json")
        self.agencies: list[str] = list(agencies) if agencies is not None else list(directory.agencies)
        unknown = [a for a in self.agencies if a not in directory.agencies]
        if unknown or len(set(self.agencies)) != len(self.agencies) or not self.agencies:
            raise ValueError(
                f"agencies must be distinct members of the PKI {sorted(directory.agencies)}, got {self.agencies}"
            )
        self.peers: dict[str, list[str]] = self._peers(links)
        self.proxied = proxied
        self.ports: dict[str, int] = {}
        for agency in self.agencies:
            self.ports[agency] = free_port(avoid=self.ports.values())
        self._loop: EventLoopThread | None = None
        self._proxies: dict[tuple[str, str], TcpProxy] = {}
        self._stores: dict[str, Store] = {}
        self.published: dict[tuple[str, int], bytes] = {}
        self._stopped = False
        try:
            if proxied:
                self._loop = EventLoopThread(name="federation-proxies")
                for a, peers in self.peers.items():
                    for b in peers:
                        self._proxies[(a, b)] = TcpProxy(
                            ("127.0.0.1", self.ports[b]), loop=self._loop, name=f"{a}->{b}"
                        )
            self.configs: dict[str, Path] = {}
            self._gateways: dict[str, GatewayProcess] = {}
            for agency in self.agencies:
                doc = self.config_doc(agency)
                doc = deep_merge(doc, extra_config or {})
                doc = deep_merge(doc, (gateway_config or {}).get(agency, {}))
                path = self.workdir / f"{agency.lower()}.toml"
                path.write_text(
                    f"# generated by tests/federation/harness.py for {agency}\n{render_toml(doc)}"
                )
                self.configs[agency] = path
                self._gateways[agency] = GatewayProcess(
                    path,
                    store=str(doc["store"]),
                    workdir=self.workdir,
                    name=agency.lower(),
                    listen=f"127.0.0.1:{self.ports[agency]}",
                )
        except BaseException:
            self._close_proxies()
            raise

    def _peers(self, links: Links) -> dict[str, list[str]]:
        peers: dict[str, list[str]] = {a: [] for a in self.agencies}
        if links == "full":
            pairs = [(a, b) for a in self.agencies for b in self.agencies if a < b]
        elif isinstance(links, str):
            raise ValueError(f"links must be 'full' or a list of (agency, agency) pairs, got {links!r}")
        else:
            pairs = list(links)
        for a, b in pairs:
            if a not in peers or b not in peers or a == b:
                raise ValueError(f"link ({a}, {b}) must join two different agencies of {self.agencies}")
            for x, y in ((a, b), (b, a)):
                if y not in peers[x]:
                    peers[x].append(y)
        order = {a: i for i, a in enumerate(self.agencies)}
        return {a: sorted(ps, key=order.__getitem__) for a, ps in peers.items()}

    def config_doc(self, agency: str) -> dict[str, Any]:
        """The TOML document written for ``agency`` (before ``extra_config``)."""
        home = self.pki / agency
        doc = tomllib.loads((home / "gateway.toml").read_text())
        endpoints = {
            peer: self._proxies[(agency, peer)].address if self.proxied else f"127.0.0.1:{self.ports[peer]}"
            for peer in self.peers[agency]
        }
        doc.update(
            agency=agency,
            listen=f"127.0.0.1:{self.ports[agency]}",
            directory=str(self.pki / "directory.json"),
            store=f"sqlite:///{self.workdir / (agency.lower() + '.db')}",
            tls={"cert": str(home / "gateway.pem"), "key": str(home / "gateway.key")},
            signing={"key": str(home / "signing.key")},
            # keep what the PKI's own [federation] says, except whom to dial and where
            federation={
                **{k: v for k, v in doc.get("federation", {}).items() if k not in ("peers", "endpoints")},
                "peers": list(self.peers[agency]),
                **TEST_TIMINGS,
                "endpoints": endpoints,
            },
        )
        return doc

    # ------------------------------------------------------------ processes

    def start(self, agencies: Iterable[str] | None = None, *, timeout: float = 30.0) -> Federation:
        """Start the gateways (all by default) in parallel; returns once every one listens."""
        names = list(agencies) if agencies is not None else self.agencies
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            futures = [pool.submit(self.gateway(a).start, timeout) for a in names]
            errors = [f.exception() for f in futures]
        failed = [e for e in errors if e is not None]
        if failed:
            raise RuntimeError(f"{len(failed)} gateway(s) did not start: {failed[0]}") from failed[0]
        return self

    def gateway(self, agency: str) -> GatewayProcess:
        try:
            return self._gateways[agency]
        except KeyError:
            raise KeyError(f"{agency} is not in this federation ({self.agencies})") from None

    def running(self, agency: str) -> bool:
        proc = self.gateway(agency).proc
        return proc is not None and proc.poll() is None

    def kill9(self, agency: str) -> None:
        self.gateway(agency).kill9()

    def terminate(self, agency: str, timeout: float = 20.0) -> int:
        """SIGTERM one gateway and wait for it; returns its exit code."""
        return self.gateway(agency).terminate(timeout)

    def restart(self, agency: str, *, timeout: float = 30.0) -> GatewayProcess:
        """Start ``agency`` again on the same port and store (SIGTERM first if it still runs)."""
        if self.running(agency):
            self.terminate(agency)
        return self.gateway(agency).start(timeout)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM every running gateway (all at once), wait, then close proxies and stores.

        Returns each gateway's exit code (None if it never started). A gateway still running
        after 20 s is killed. Idempotent.
        """
        codes: dict[str, int | None] = {}
        if self._stopped:
            return codes
        self._stopped = True
        try:
            for agency in self.agencies:
                if self.running(agency):
                    proc = self.gateway(agency).proc
                    assert proc is not None
                    proc.send_signal(signal.SIGTERM)
            # one SIGTERM each: a second one could land after the gateway has removed its
            # handler on the way out, and kill it (exit code -15) instead of letting it finish
            deadline = time.monotonic() + 20.0
            for agency in self.agencies:
                proc = self.gateway(agency).proc
                if proc is None:
                    codes[agency] = None
                    continue
                try:
                    codes[agency] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    codes[agency] = proc.wait()
        finally:
            for store in self._stores.values():
                store.close()
            self._stores.clear()
            self._close_proxies()
        return codes

    def _close_proxies(self) -> None:
        for proxy in self._proxies.values():
            proxy.close()
        if self._loop is not None:
            self._loop.close()

    def __enter__(self) -> Federation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------ links

    def link(self, a: str, b: str) -> TcpProxy:
        """The proxy ``a`` dials to reach ``b`` (what carries a's replication from b)."""
        if not self.proxied:
            raise RuntimeError("this federation has no proxies (proxied=False)")
        try:
            return self._proxies[(a, b)]
        except KeyError:
            raise KeyError(f"{a} does not subscribe to {b} (peers of {a}: {self.peers.get(a)})") from None

    @property
    def proxies(self) -> dict[tuple[str, str], TcpProxy]:
        return dict(self._proxies)

    def _links(self, a: str, b: str, one_way: bool) -> list[TcpProxy]:
        return [self.link(a, b)] if one_way else [self.link(a, b), self.link(b, a)]

    def cut(self, a: str, b: str, *, one_way: bool = False) -> None:
        """Cut the link between a and b (both ways; ``one_way``: only a's subscription to b)."""
        for proxy in self._links(a, b, one_way):
            proxy.cut()

    def stall(self, a: str, b: str, *, one_way: bool = False) -> None:
        """Black-hole the link between a and b: connections stay open, no byte moves."""
        for proxy in self._links(a, b, one_way):
            proxy.stall()

    def drop(self, a: str, b: str, *, one_way: bool = False) -> None:
        """Reset the connections between a and b once; reconnecting works at once."""
        for proxy in self._links(a, b, one_way):
            proxy.drop()

    def restore(self, a: str, b: str, *, one_way: bool = False) -> None:
        for proxy in self._links(a, b, one_way):
            proxy.restore()

    def partition(self, group1: Iterable[str], group2: Iterable[str]) -> None:
        """Cut every link between a member of group1 and a member of group2, both ways."""
        g1, g2 = set(group1), set(group2)
        if g1 & g2:
            raise ValueError(f"a partition's groups must not overlap: {sorted(g1 & g2)}")
        for (a, b), proxy in self._proxies.items():
            if (a in g1 and b in g2) or (a in g2 and b in g1):
                proxy.cut()

    def heal(self) -> None:
        """Restore every link (after cuts, stalls and partitions)."""
        for proxy in self._proxies.values():
            proxy.restore()

    def wait_linked(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until every link carries an open connection (every replicator has dialled)."""
        deadline = time.monotonic() + timeout
        for proxy in self._proxies.values():
            proxy.wait_active(1, timeout=max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------------ RPCs

    def publish(
        self,
        agency: str,
        bodies: Iterable[Publishable],
        audience: Sequence[str] = (),
        *,
        idempotency_key: str = "",
    ) -> list[tuple[str, int]]:
        """Publish drafts at ``agency`` with its service certificate; the (issuer, seq) of each.

        ``audience`` applies to bodies given as domain objects (a Draft or PublishItem
        carries its own). The digests land in :attr:`published` for :meth:`missing`.
        """
        items = [_publish_item(b, audience) for b in bodies]
        gw = self.gateway(agency)
        with channel(gw.target, creds_for(self.pki, agency, "service", server_agency=agency)) as ch:
            reply = exchange_pb2_grpc.ExchangeStub(ch).Publish(
                exchange_pb2.PublishRequest(idempotency_key=idempotency_key, items=items),
                timeout=RPC_TIMEOUT,
            )
        out = []
        for msg in reply.statements:
            env = envelope_from_proto(msg)
            self.published[(env.issuer, env.seq)] = env.digest
            out.append((env.issuer, env.seq))
        return out

    def status(self, agency: str) -> admin_pb2.GetStatusResponse:
        """``Admin.GetStatus`` of ``agency``, called with its operator certificate."""
        gw = self.gateway(agency)
        with channel(gw.target, creds_for(self.pki, agency, "operator", server_agency=agency)) as ch:
            reply: admin_pb2.GetStatusResponse = admin_pb2_grpc.AdminStub(ch).GetStatus(
                admin_pb2.GetStatusRequest(), timeout=RPC_TIMEOUT
            )
        return reply

    # ------------------------------------------------------------ what a gateway holds

    def store(self, agency: str) -> Store | None:
        """A handle on ``agency``'s store in this process (None before its first start).

        Read from it only: it shares the file with the gateway (SQLite WAL), and stays
        valid across kill -9 and restarts. Closed by :meth:`stop`.
        """
        if agency in self._stores:
            return self._stores[agency]
        url = self.gateway(agency).store
        if not Path(url.removeprefix("sqlite:///")).exists():
            return None
        self._stores[agency] = store = open_store(url)
        return store

    def heads(self, agency: str) -> Heads:
        """``{issuer: (head seq, head digest)}`` held by ``agency`` — the one place heads are read."""
        if self.heads_source == "status":
            return {
                i.issuer: (int(i.head_seq), bytes(i.head_digest))
                for i in self.status(agency).issuers
                if i.head_seq
            }
        store = self.store(agency)
        if store is None:
            return {}
        return {issuer: (h.seq, h.digest) for issuer, h in store.heads().items()}

    def statements(self, agency: str) -> list[HeldStatement]:
        """Every statement ``agency`` holds as (issuer, seq, header digest, body held?), by issuer, seq."""
        store = self.store(agency)
        if store is None:
            return []
        out: list[HeldStatement] = []
        for issuer in sorted(store.heads()):
            after = 0
            while batch := store.read_range(issuer, after, 1000):
                out.extend(
                    (s.envelope.issuer, s.envelope.seq, s.envelope.digest, s.envelope.body is not None)
                    for s in batch
                )
                after = batch[-1].envelope.seq
        return out

    def missing(self, agency: str) -> list[tuple[str, int]]:
        """Statements published through this harness that ``agency`` lacks or holds differently."""
        store = self.store(agency)
        out = []
        for (issuer, seq), digest in sorted(self.published.items()):
            held = store.get(issuer, seq) if store is not None else None
            if held is None or held.envelope.digest != digest:
                out.append((issuer, seq))
        return out

    def alarms(self, agency: str, *, include_acknowledged: bool = True) -> list[Alarm]:
        """Alarms ``agency``'s store holds (gap, equivocation …), oldest first."""
        store = self.store(agency)
        return store.alarms(include_acknowledged=include_acknowledged) if store is not None else []

    def events(self, agency: str) -> list[dict[str, Any]]:
        """``agency``'s structlog JSON events, over all its runs, oldest first."""
        return self.gateway(agency).events()

    # ------------------------------------------------------------ waiting

    def wait_for(
        self, agency: str, issuer: str, seq: int, timeout: float = DEFAULT_TIMEOUT
    ) -> tuple[int, bytes]:
        """Wait until ``agency`` holds ``issuer``'s chain up to ``seq``; returns its head."""
        deadline = time.monotonic() + timeout
        pause = _POLL
        while True:
            head = self.heads(agency).get(issuer)
            if head is not None and head[0] >= seq:
                return head
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{agency} did not reach {issuer} seq {seq} in {timeout} s "
                    f"(holds {head[0] if head else 0})\n{self.report([agency])}"
                )
            time.sleep(pause)
            pause = min(pause * 1.5, _POLL_MAX)

    def wait_converged(
        self, timeout: float = DEFAULT_TIMEOUT, agencies: Iterable[str] | None = None
    ) -> Heads:
        """Wait until every gateway (or ``agencies``) holds identical heads; returns them.

        Identical heads mean identical chains (DESIGN §7.2): each store holds a gap-free
        prefix of each issuer's hash chain. Raises AssertionError with a table of everyone's
        heads on timeout.
        """
        names = list(agencies) if agencies is not None else self.agencies
        deadline = time.monotonic() + timeout
        pause = _POLL
        while True:
            heads = [self.heads(a) for a in names]
            if all(h == heads[0] for h in heads[1:]):
                return heads[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"heads did not converge in {timeout} s\n{self.report(names)}")
            time.sleep(pause)
            pause = min(pause * 1.5, _POLL_MAX)

    def report(self, agencies: Iterable[str] | None = None, *, log_lines: int = 5) -> str:
        """A table of each gateway's heads (seq and digest prefix) and its last warnings."""
        names = list(agencies) if agencies is not None else self.agencies
        heads = {a: self.heads(a) if self.heads_source == "store" or self.running(a) else {} for a in names}
        issuers = sorted({i for h in heads.values() for i in h} | set(self.agencies))
        best = {i: max((h.get(i, (0, b""))[0] for h in heads.values()), default=0) for i in issuers}
        width = max(12, *(len(i) + 2 for i in issuers))
        rows = ["gateway".ljust(10) + "state".ljust(8) + "".join(i.ljust(width + 2) for i in issuers)]
        for a in names:
            cells = []
            for i in issuers:
                seq, digest = heads[a].get(i, (0, b""))
                mark = "" if seq == best[i] else "<"
                cells.append(
                    f"{seq}:{digest[:4].hex()}{mark}".ljust(width + 2) if seq else f"-{mark}".ljust(width + 2)
                )
            rows.append(a.ljust(10) + ("up" if self.running(a) else "DOWN").ljust(8) + "".join(cells))
        out = "\n".join(rows) + "\n(seq:digest prefix; '<' = behind the most advanced gateway)"
        for a in names:
            bad = [e for e in self.events(a) if e.get("level") in ("warning", "error", "critical")]
            for e in bad[-log_lines:]:
                out += f"\n  {a}: " + json.dumps(e, default=str)[:400]
        faults = [f"{a}->{b} {p.mode}" for (a, b), p in self._proxies.items() if p.mode != "open"]
        if faults:
            out += "\nlinks not open: " + ", ".join(faults)
        return out
