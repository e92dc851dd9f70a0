"""Shared reporting for benchmarks: every figure is a ratio to a baseline measured in the same run.

This machine is small and noisy, so absolute numbers mean little; a ratio against a
baseline measured seconds earlier on the same cores is what we compare with a goal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class Figure:
    name: str
    measured: float
    baseline: float
    unit: str
    goal: str  # e.g. ">= 0.8"

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline if self.baseline else float("nan")

    def met(self) -> bool:
        op, _, value = self.goal.partition(" ")
        target = float(value)
        return self.ratio >= target if op == ">=" else self.ratio <= target

    def line(self) -> str:
        if not self.goal.startswith(("<", ">")):
            # a figure reported for information: no goal to judge it against
            return (
                f"{self.name}: {self.measured:,.1f} {self.unit} / baseline {self.baseline:,.1f} {self.unit}"
                f" = ratio {self.ratio:.2f} {self.goal}"
            )
        verdict = "met" if self.met() else "NOT met"
        return (
            f"{self.name}: {self.measured:,.1f} {self.unit} / baseline {self.baseline:,.1f} {self.unit}"
            f" = ratio {self.ratio:.2f} (goal {self.goal}: {verdict})"
        )


def report(figure: Figure) -> Figure:
    print(figure.line(), flush=True)
    return figure


def rate(fn: Callable[[], int], *, min_seconds: float = 2.0) -> float:
    """Call ``fn`` (which returns how many operations it did) until min_seconds pass; ops/s."""
    done = 0
    start = time.perf_counter()
    while True:
        done += fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return done / elapsed


def ed25519_verifies(count: int, message: bytes = b"x" * 200) -> Callable[[], int]:
    """A batch of ``count`` raw Ed25519 verifies of one signature over ``message`` (for ``rate``)."""
    key = Ed25519PrivateKey.generate()
    public, sig = key.public_key(), key.sign(message)

    def batch() -> int:
        for _ in range(count):
            public.verify(sig, message)
        return count

    return batch


def ed25519_signs(count: int, message: bytes = b"x" * 200) -> Callable[[], int]:
    """A batch of ``count`` raw Ed25519 signs of ``message`` (for ``rate``)."""
    key = Ed25519PrivateKey.generate()

    def batch() -> int:
        for _ in range(count):
            key.sign(message)
        return count

    return batch
