"""``make bench-scale``: the key figures at several store sizes, as one markdown table (issue #14).

For each size in ``BORDERX_SCALE_SIZES`` (stored statements; default
``10000,100000,1000000``) this runs the existing benches as subprocesses, through their
own knobs, and reads the figures they print (``_common.Figure.line``: ``name: X unit /
baseline Y unit = ratio R ...``):

- ``bench_exchange`` with ``BORDERX_BENCH_SCALE`` = size ÷ 1,100,000 (it holds 1,000,000
  designations and 100,000 flags at scale 1): Screen batch shipments/s (identifiers),
  single Screen calls/s, Lookup p50, Publish statements/s, resident memory per statement;
- ``bench_federation`` with ``BORDERX_BENCH_SCALE`` = size ÷ 1,000,000 (its large bulk sync
  is 1,000,000 statements at scale 1): bulk-sync statements/s (admitted, and fully
  verified) and the receiver's peak RSS;
- ``bench_names`` with ``BORDERX_BENCH_PARTIES`` = size: name-screened shipments/s and
  name-index bytes per party.

Each cell is the measured value with its ratio to the baseline of the same run in
brackets; a figure a bench did not print (renamed, failed, timed out) is "—", and the
driver goes on. Figures are found by the start of their names, so other wording may
change freely. Every bench's whole output is kept in ``BORDERX_SCALE_LOGS`` (default
``build/bench-scale/``), e.g. ``exchange-100000.log``, and their temporary stores under
its ``tmp/`` (``TMPDIR``), removed by each bench as usual; ``BORDERX_SCALE_TIMEOUT`` (seconds,
default none) bounds each bench run. Not part of ``make bench`` (1,000,000 takes hours here).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SIZES = [
    int(s) for s in os.environ.get("BORDERX_SCALE_SIZES", "10000,100000,1000000").split(",") if s.strip()
]
LOGS = Path(os.environ.get("BORDERX_SCALE_LOGS", REPO / "build" / "bench-scale"))
TIMEOUT = float(os.environ["BORDERX_SCALE_TIMEOUT"]) if os.environ.get("BORDERX_SCALE_TIMEOUT") else None

_NUMBER = r"-?[\d,]*\.?\d+(?:[eE][-+]?\d+)?|nan|inf"
#: a ``Figure.line``: the name may hold colons and commas; the numbers may hold thousands commas
FIGURE_LINE = re.compile(
    rf"^(?P<name>.+?): (?P<measured>{_NUMBER}) (?P<unit>\S+) / baseline (?P<baseline>{_NUMBER}) \S+"
    rf" = ratio (?P<ratio>{_NUMBER})"
)


@dataclass(frozen=True)
class Parsed:
    name: str
    measured: float
    baseline: float
    unit: str
    ratio: float


def parse_figures(text: str) -> list[Parsed]:
    """Every figure line of a bench's output, in order."""
    out = []
    for line in text.splitlines():
        m = FIGURE_LINE.match(line.strip())
        if m:
            num = {k: float(m[k].replace(",", "")) for k in ("measured", "baseline", "ratio")}
            out.append(Parsed(m["name"], num["measured"], num["baseline"], m["unit"], num["ratio"]))
    return out


@dataclass(frozen=True)
class Row:
    """One row of the table: which bench prints it, how to find it, how to show it."""

    label: str
    bench: str  # "exchange", "federation" or "names"
    matches: Callable[[str], bool]
    show: Callable[[Parsed], str]


def _per_s(p: Parsed) -> str:
    return f"{p.measured:,.0f} ({p.ratio:.2f})"


def _us(p: Parsed) -> str:
    return f"{p.measured:,.0f} µs ({p.ratio:.2f})"


def _mib(p: Parsed) -> str:
    # the receiver-memory figure is in KiB; its ratio is against the bench's own smaller sync
    return f"{p.measured / 1024:,.0f} MiB ({p.ratio:.2f})"


def _bytes(p: Parsed) -> str:
    return f"{p.measured:,.0f} B ({p.ratio:.2f})"


def _starts(prefix: str, *, without: str = "") -> Callable[[str], bool]:
    return lambda name: name.startswith(prefix) and not (without and without in name)


ROWS = (
    Row(
        "Screen, batches of 1,000, identifiers (shipments/s)",
        "exchange",
        _starts("Screen shipments/s"),
        _per_s,
    ),
    Row("single-shipment Screen (calls/s)", "exchange", _starts("single-shipment Screen"), _per_s),
    Row("Lookup p50 (vs a store 1/100 the size)", "exchange", _starts("Lookup p50"), _us),
    Row("Publish, batches of 100 (statements/s)", "exchange", _starts("Publish statements/s"), _per_s),
    Row(
        "gateway RSS per statement held (vs 1 KiB)",
        "exchange",
        _starts("resident memory per statement"),
        _bytes,
    ),
    Row(
        "bulk sync, admitted (statements/s)",
        "federation",
        _starts("bulk sync", without="every signature"),
        _per_s,
    ),
    Row(
        "bulk sync, every signature checked (statements/s)",
        "federation",
        lambda name: name.startswith("bulk sync") and "every signature" in name,
        _per_s,
    ),
    Row("receiver peak RSS (vs the sync 1/10 the size)", "federation", _starts("receiver peak"), _mib),
    Row("name-screened shipments/s (vs identifiers)", "names", _starts("name-screened shipments/s"), _per_s),
    Row("name-index bytes per party (vs 1 KiB)", "names", _starts("name-index bytes"), _bytes),
)


def bench_env(bench: str, size: int) -> dict[str, str]:
    """The knob that makes ``bench`` hold ``size`` statements."""
    if bench == "exchange":
        return {"BORDERX_BENCH_SCALE": repr(size / 1_100_000)}
    if bench == "federation":
        return {"BORDERX_BENCH_SCALE": repr(size / 1_000_000)}
    if bench == "names":
        return {"BORDERX_BENCH_PARTIES": str(size)}
    raise ValueError(bench)


def run_bench(bench: str, size: int) -> tuple[list[Parsed], str]:
    """Run ``python -m tests.bench <bench>`` at ``size``; its figures and a note ("" when it went well)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{bench}-{size}.log"
    # the benches' temporary stores go under LOGS, out of reach of whoever tidies /tmp
    scratch = LOGS / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, **bench_env(bench, size), "PYTHONUNBUFFERED": "1", "TMPDIR": str(scratch)}
    start = time.perf_counter()
    print(f"-- {bench} at {size:,} statements (log: {log}) …", flush=True)
    note = ""
    with log.open("w") as out:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "tests.bench", bench],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=TIMEOUT,
                check=False,
            )
            if done.returncode != 0:
                note = f"{bench} at {size:,} exited {done.returncode} (see {log})"
        except subprocess.TimeoutExpired:
            note = f"{bench} at {size:,} took longer than {TIMEOUT:.0f} s (see {log})"
    figures = parse_figures(log.read_text())
    print(f"   {len(figures)} figures in {time.perf_counter() - start:,.0f} s", flush=True)
    for f in figures:
        print(f"   {f.name}: {f.measured:,.1f} {f.unit} (ratio {f.ratio:.2f})", flush=True)
    if note:
        print(f"   {note}", flush=True)
    return figures, note


def table(results: dict[tuple[str, int], list[Parsed]], sizes: list[int]) -> str:
    """The markdown table: one row per figure, one column per size; "—" where a figure is missing."""
    head = "| figure | " + " | ".join(f"{s:,} statements" for s in sizes) + " |"
    lines = [head, "|---|" + "---|" * len(sizes)]
    for row in ROWS:
        cells = []
        for size in sizes:
            found = next((p for p in results.get((row.bench, size), []) if row.matches(p.name)), None)
            cells.append(row.show(found) if found else "—")
        lines.append(f"| {row.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    benches = sorted({row.bench for row in ROWS})
    only = sys.argv[1:]  # e.g. `python -m tests.bench.scale names`: those benches only
    results: dict[tuple[str, int], list[Parsed]] = {}
    notes = []
    for size in SIZES:
        for bench in benches:
            if only and bench not in only:
                continue
            results[(bench, size)], note = run_bench(bench, size)
            if note:
                notes.append(note)
    print()
    print(table(results, SIZES))
    print()
    print("Each cell: the measured value (its ratio to the baseline of the same run).")
    for note in notes:
        print(f"- {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
