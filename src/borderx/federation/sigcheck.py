"""Deferred signature checks: every statement admitted on a checkpoint's authority gets its Ed25519 check.

On the bulk path (``federation/sync.py``) a run of statements is admitted on the authority
of the issuer's checkpoint: one checkpoint signature plus hashing binds every header and
every signature byte of the run to what the issuer signed. Invariant 7.1 still requires
each statement's own signatures to verify, so such statements are stored with
``verified = false`` and this task checks them, off the admission path and across cores
(a process pool for large backlogs, a thread for small ones):

- until then they are screened (the checkpoint vouches for them) but never relayed to a
  follower, exported, or shown as verified (``Store.verified_heads`` caps Subscribe);
- a signature that fails is signed evidence against the issuer (its own checkpoint vouched
  for those bytes): the statement loses its index effects and keeps its place in the
  chain as evidence, the issuer is suspended, evidence is kept and the alarm raised.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import multiprocessing
import os
from collections.abc import Callable, Sequence

from borderx.directory.model import DirectoryHolder
from borderx.errors import NotFound, VerificationError
from borderx.federation.feed import Feed
from borderx.logging import get_logger
from borderx.statements.encoding import statement_pae
from borderx.statements.sigcheck import check_many
from borderx.store.base import PendingCheck, Store
from borderx.store.plan import MAX_INT64

log = get_logger("borderx.sigcheck")
security = get_logger("borderx.security")

#: statements read per round
BATCH = 8192
#: below this many signatures a round runs in a thread: a process pool is not worth starting
#: (counted over back-to-back rounds too: a bulk sync feeds the checker in rounds smaller
#: than this, and checks in a thread hold the GIL the admission path needs)
POOL_THRESHOLD = 2048
#: once the pool runs, a round at least this large still goes to it (off the GIL)
POOL_MIN_ROUND = 64
#: how long an idle checker waits before looking again (it is also woken by the feed)
IDLE_SECONDS = 1.0
#: rounds a failed check waits for its checkpoint before it is settled without it
MAX_WAIT_ROUNDS = 20


class SignatureChecker:
    def __init__(
        self,
        *,
        store: Store,
        directory: DirectoryHolder,
        feed: Feed,
        workers: int | None = None,
        on_checked: Callable[[int], None] = lambda _count: None,
    ) -> None:
        self._store, self._directory, self._feed = store, directory, feed
        self._workers = max(1, workers or os.cpu_count() or 1)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._on_checked = on_checked
        #: statements checked since start, for the status page and benchmarks
        self.checked = 0
        self.refused = 0
        #: failed checks waiting for their vouching checkpoint to be stored: rounds waited
        self._waiting: dict[tuple[str, int], int] = {}
        #: signatures checked since the checker last found nothing to do
        self._busy = 0
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.get_running_loop().create_task(self._run(), name="signature-checks")

    async def stop(self) -> None:
        # the flag as well as the cancel: on Python 3.11 a cancel that lands as the idle wait
        # completes can be swallowed (asyncio.wait_for, gh-86296), and the loop must end anyway
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):  # shutting down
                await self._task
            self._task = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def _run(self) -> None:
        while not self._stopping:
            seen = self._feed.version
            try:
                done = await self.check_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup: try again later, nothing is lost
                log.exception("sigcheck.round_failed")
                done = 0
            if not done:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(IDLE_SECONDS):
                        await self._feed.wait(seen)

    async def check_once(self) -> int:
        """Check one batch of pending statements; returns how many were settled."""
        pending = await asyncio.to_thread(self._store.unverified, limit=BATCH)
        if not pending:
            self._busy = 0
            return 0
        items, owners, reasons = self._items(pending)
        verdicts = await self._verify(items)
        for (index, what), good in zip(owners, verdicts, strict=True):
            if not good:
                reasons.setdefault(index, what)
        ok = [index not in reasons for index in range(len(pending))]
        good_keys = [s.key for s, fine in zip(pending, ok, strict=True) if fine]
        if good_keys:
            await asyncio.to_thread(self._store.mark_verified, good_keys)
        settled = len(good_keys)
        for index, reason in sorted(reasons.items()):
            if await asyncio.to_thread(self._refuse, pending[index], reason):
                settled += 1
                self.refused += 1
        self.checked += len(good_keys)
        self._on_checked(settled)
        self._feed.notify()  # followers may now be served further
        return settled

    def _items(
        self, pending: Sequence[PendingCheck]
    ) -> tuple[list[tuple[bytes, bytes, bytes]], list[tuple[int, str]], dict[int, str]]:
        """(raw key, signature, message) per signature, whose statement each is, and early refusals."""
        directory = self._directory.current
        items: list[tuple[bytes, bytes, bytes]] = []
        owners: list[tuple[int, str]] = []
        refused: dict[int, str] = {}
        for index, check in enumerate(pending):
            issuer, seq = check.key
            message = statement_pae(check.header_bytes)
            for sig in check.signatures:
                try:
                    key = directory.key(sig.key_id)
                except VerificationError as exc:  # the directory changed since admission
                    refused.setdefault(index, str(exc))
                    continue
                items.append((key.raw, sig.sig, message))
                owners.append(
                    (
                        index,
                        f"{issuer} seq {seq}: signature by key {sig.key_id[:16]}… does not verify",
                    )
                )
        return items, owners, refused

    async def _verify(self, items: list[tuple[bytes, bytes, bytes]]) -> list[bool]:
        self._busy += len(items)
        large = len(items) >= POOL_THRESHOLD or self._busy >= POOL_THRESHOLD
        if self._workers < 2 or not (large or (self._pool is not None and len(items) >= POOL_MIN_ROUND)):
            return await asyncio.to_thread(check_many, items)
        if self._pool is None:
            # spawn, never fork: this process runs gRPC, whose threads do not survive a fork
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=self._workers, mp_context=multiprocessing.get_context("spawn")
            )
        loop = asyncio.get_running_loop()
        size = -(-len(items) // self._workers)
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        parts = await asyncio.gather(*(loop.run_in_executor(self._pool, check_many, c) for c in chunks))
        return [v for part in parts for v in part]

    def _refuse(self, check: PendingCheck, reason: str) -> bool:
        """Settle a failed check; False to look again next round (its checkpoint is not stored yet)."""
        stored = self._store.get(*check.key)
        if stored is None:  # statements are never deleted: a store that lost one is broken
            raise NotFound(
                f"{check.key[0]} seq {check.key[1]} is waiting for its signature check but not held"
            )
        env = stored.envelope
        # the checkpoint that vouched for it (the first at or above its seq) is the other half
        # of the evidence; the replicator stores it just after the run it covers
        vouching = tuple(self._store.checkpoints_between(env.issuer, env.seq - 1, MAX_INT64)[:1])
        tries = self._waiting.get(stored.key, 0)
        if not vouching and tries < MAX_WAIT_ROUNDS:
            self._waiting[stored.key] = tries + 1
            return False
        self._waiting.pop(stored.key, None)
        detail = f"{reason}, though {env.issuer}'s own checkpoint vouched for it; {env.issuer} is suspended"
        self._store.refuse_unverified(stored.key, f"signature: {reason}")
        self._store.record_evidence(
            "bad_signature",
            env.issuer,
            env.seq,
            reason,
            envelopes=(env,),
            checkpoints=vouching,
            reported_by=stored.received_from,
        )
        security.error("security.bad_signature", issuer=env.issuer, seq=env.seq, detail=reason)
        self._store.raise_alarm("bad_signature", env.issuer, detail, peer=stored.received_from)
        return True
