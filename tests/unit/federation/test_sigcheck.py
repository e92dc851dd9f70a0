"""Deferred signature checks: where the Ed25519 arithmetic runs, and that it is right wherever it runs."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from borderx.directory.model import DirectoryHolder
from borderx.federation import sigcheck
from borderx.federation.feed import Feed
from borderx.federation.sigcheck import SignatureChecker
from borderx.store.sqlite import SQLiteStore
from tests.unit.statements.conftest import (
    World,
    world,  # noqa: F401 - the shared session fixture
)


def _items(n: int, *, bad: set[int]) -> list[tuple[bytes, bytes, bytes]]:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    out = []
    for i in range(n):
        message = f"statement {i}".encode()
        sig = key.sign(message)
        out.append((raw, bytes(64) if i in bad else sig, message))
    return out


def test_a_checker_kept_busy_by_small_rounds_moves_to_the_pool(world: World, tmp_path: Path) -> None:
    """A bulk sync feeds the checker rounds below the pool threshold; together they reach it."""
    store = SQLiteStore(tmp_path / "s.db")
    checker = SignatureChecker(
        store=store, directory=DirectoryHolder(world.directory), feed=Feed(), workers=2
    )
    size = sigcheck.POOL_THRESHOLD // 4

    async def rounds() -> list[list[bool]]:
        verdicts = []
        try:
            for r in range(6):
                verdicts.append(await checker._verify(_items(size, bad={r})))
                if r < 3:
                    assert checker._pool is None, f"round {r}: below the threshold, checks stay in a thread"
            assert checker._pool is not None, "back-to-back rounds past the threshold use the pool"
        finally:
            await checker.stop()
        return verdicts

    verdicts = asyncio.run(rounds())
    # every verdict is right, in the thread and in the pool alike
    assert verdicts == [[i != r for i in range(size)] for r in range(6)]
    store.close()


def test_an_idle_round_resets_the_count(world: World, tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    checker = SignatureChecker(
        store=store, directory=DirectoryHolder(world.directory), feed=Feed(), workers=2
    )

    async def run() -> None:
        try:
            for _ in range(3):
                assert await checker._verify(_items(sigcheck.POOL_THRESHOLD // 2 - 1, bad=set()))
                assert await checker.check_once() == 0  # nothing stored to check: idle
            assert checker._pool is None
        finally:
            await checker.stop()

    asyncio.run(run())
    store.close()
