"""Directory propagation: from ``directory publish`` at one gateway to all five applying it.

Five real gateway processes, full mesh, unproxied (the federation test harness). Each round
publishes the next signed version (3 of 5 signatures) at US-CBP with Admin.PublishDirectory
and polls every gateway's Admin.GetStatus until all five report it. Baseline, measured in
the same run on the same federation: one statement published at US-CBP until all five hold
it (the federation's ordinary propagation path). Goal: a directory change reaches everyone
within 20 statement propagations (it restarts the publisher's links and costs each partner a
GetDirectory call and a verification of 3 to 5 signatures).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc
from borderx.identity.devpki import init_pki, sign_as_members
from tests.bench._common import Figure, report
from tests.conftest import channel, creds_for
from tests.federation.harness import Federation
from tests.integration.helpers import designation, platform

ALL = ["US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC"]
ROUNDS = 5
POLL = 0.005


def wait(fed: Federation, done: object) -> float:
    start = time.perf_counter()
    while not done():  # type: ignore[operator]
        if time.perf_counter() - start > 60:
            raise AssertionError(f"not converged in 60 s\n{fed.report()}")
        time.sleep(POLL)
    return time.perf_counter() - start


def statement_propagation(fed: Federation, n: int) -> float:
    start = time.perf_counter()
    fed.publish("US-CBP", [designation("US-CBP", (platform(f"bench-{n}"),))])
    head = fed.heads("US-CBP")["US-CBP"][0]
    wait(fed, lambda: all(fed.heads(a).get("US-CBP", (0, b""))[0] >= head for a in ALL))
    return time.perf_counter() - start


def directory_propagation(fed: Federation, pki: Path, version: int) -> float:
    signed = json.loads((pki / "directory.json").read_text())["signed"]
    signed["version"] = version
    document = sign_as_members(pki, signed, ["US-CBP", "NZ-CS", "CA-CBSA"]).encode()
    gw = fed.gateway("US-CBP")
    start = time.perf_counter()
    with channel(gw.target, creds_for(pki, "US-CBP", "operator", server_agency="US-CBP")) as ch:
        admin_pb2_grpc.AdminStub(ch).PublishDirectory(
            admin_pb2.PublishDirectoryRequest(document=document), timeout=10
        )
    wait(fed, lambda: all(fed.status(a).directory_version >= version for a in ALL))
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pki = work / "pki"
        init_pki(pki)
        with Federation(pki, work / "fed", ALL, proxied=False) as fed:
            fed.start()
            fed.wait_linked()
            statement_propagation(fed, 0)  # warm up
            statements = [statement_propagation(fed, n) for n in range(1, ROUNDS + 1)]
            directories = [directory_propagation(fed, pki, v) for v in range(2, ROUNDS + 2)]
            # after the link restarts, statements still flow
            statement_propagation(fed, ROUNDS + 1)
    baseline = statistics.median(statements)
    measured = statistics.median(directories)
    print(
        f"  directory publish -> all five applied, {ROUNDS} rounds: median {measured * 1000:.0f} ms, "
        f"max {max(directories) * 1000:.0f} ms; one statement to all five: median {baseline * 1000:.0f} ms"
    )
    report(
        Figure("directory propagation to five gateways vs one statement's", measured, baseline, "s", "<= 20")
    )


if __name__ == "__main__":
    main()
