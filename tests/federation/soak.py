"""``make soak``: a long kill -9 run (default 100 cycles) over a five-gateway federation.

While one agency publishes continuously, a random receiving gateway is killed with -9 and
restarted each cycle, and a random link is cut or stalled and restored now and then. At
the end every gateway must hold identical heads, nothing missing, nothing twice, no
alarm. ``BORDERX_SOAK_CYCLES`` sets the number of cycles.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

from borderx.identity.devpki import init_pki
from tests.federation.harness import Federation
from tests.integration.helpers import designation, platform

AGENCIES = ["US-CBP", "AU-ABF", "NZ-CS", "CA-CBSA", "GB-HMRC"]


def main() -> int:
    cycles = int(os.environ.get("BORDERX_SOAK_CYCLES", "100"))
    rng = random.Random(int(os.environ.get("BORDERX_SOAK_SEED", "7")))
    with tempfile.TemporaryDirectory(prefix="borderx-soak-") as tmp:
        pki = Path(tmp) / "pki"
        init_pki(pki)
        fed = Federation(pki, Path(tmp) / "fed", AGENCIES).start()
        try:
            return _soak(fed, cycles, rng)
        finally:
            fed.stop()  # whatever happened, no gateway outlives the run


def _soak(fed: Federation, cycles: int, rng: random.Random) -> int:
    stop = threading.Event()
    published = [0]
    failures: list[BaseException] = []

    def publish() -> None:
        n = 0
        while not stop.is_set():
            issuer = AGENCIES[n % 2]  # US-CBP and AU-ABF never die
            try:
                fed.publish(issuer, [designation(issuer, (platform(f"soak-{n}-{j}"),)) for j in range(10)])
                published[0] += 10
            except BaseException as exc:
                failures.append(exc)
                return
            n += 1

    thread = threading.Thread(target=publish, daemon=True)
    thread.start()
    start = time.monotonic()
    try:
        for cycle in range(1, cycles + 1):
            victim = rng.choice(AGENCIES[2:])
            time.sleep(rng.uniform(0.05, 0.4))
            fed.kill9(victim)
            if cycle % 10 == 0:
                a, b = rng.sample(AGENCIES, 2)
                (fed.cut if cycle % 20 else fed.stall)(a, b)
                time.sleep(0.3)
                fed.restore(a, b)
            fed.restart(victim)
            print(f"cycle {cycle}/{cycles}: killed {victim}; {published[0]} published", flush=True)
    finally:
        stop.set()
        thread.join(30)
    if failures:
        print(f"publisher failed: {failures[0]!r}", file=sys.stderr)
        return 1
    heads = fed.wait_converged(timeout=120)
    for agency in AGENCIES:
        keys = [(i, s) for i, s, _, _ in fed.statements(agency)]
        assert len(keys) == len(set(keys)) == sum(seq for seq, _ in heads.values()), agency
        assert not fed.missing(agency), agency
        assert not fed.alarms(agency), (agency, fed.alarms(agency))
    print(
        f"soak ok: {cycles} kill -9 cycles in {time.monotonic() - start:.0f} s, "
        f"{published[0]} statements, identical heads on {len(AGENCIES)} gateways"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
