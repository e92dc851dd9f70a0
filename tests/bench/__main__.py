"""``make bench``: run every ``tests/bench/bench_*.py`` module's ``main()`` in name order."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main() -> int:
    only = sys.argv[1:]
    for path in sorted(Path(__file__).parent.glob("bench_*.py")):
        if only and not any(o in path.stem for o in only):
            continue
        print(f"== {path.stem}", flush=True)
        module = importlib.import_module(f"tests.bench.{path.stem}")
        module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
