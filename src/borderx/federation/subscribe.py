"""Serving a follower: the statements it lacks, per issuer in seq order, then live ones.

The follower sends its version vector ``{issuer: last seq held}``. For each issuer we
hold, we send, from its cursor on: each stored checkpoint *before* the run of statements
it covers (so a receiver can authenticate that run with one signature), then the run,
then the statements past the last checkpoint, then the issuer's latest checkpoint if the
follower has not seen it (freshness). In a backlog with checkpoints, the witnesses'
cosignatures of the heads a run reaches go just before that run: a follower judging a
statement signed by a since-retired key needs them to know it existed while the key was
valid (``intake.proven_time``), and would otherwise have to hold the run back and ask
again. Bodies go only to members of the audience; everyone
else gets the header alone. With ``follow``, the stream then waits on the feed and sends
what is new, read from the store: a slow follower holds a cursor, never a queue, and gRPC
flow control stops us from producing faster than it reads.

Nothing is sent only to be thrown away: nothing the follower holds, no statement twice.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Collection, Mapping
from dataclasses import dataclass, field

from borderx.federation.feed import Feed
from borderx.statements.model import Envelope, SignedCheckpoint, SignedCosignature
from borderx.store.base import Store

PAGE = 256


@dataclass(frozen=True)
class FollowRequest:
    reader: str  # agency id of the follower, for audience decisions
    have: Mapping[str, int]
    have_digests: Mapping[str, bytes] = field(default_factory=dict)
    issuers: Collection[str] = ()
    body_types: Collection[str] = ()
    follow: bool = False


#: a statement, a checkpoint, a witness's cosignature, or a run of consecutive statements of one issuer
Event = Envelope | SignedCheckpoint | SignedCosignature | list[Envelope]


class FollowerStream:
    def __init__(self, store: Store, feed: Feed, request: FollowRequest) -> None:
        self._store = store
        self._feed = feed
        self._req = request
        self._cursor: dict[str, int] = dict(request.have)
        #: issuer → (bodies sent, headers sent without their body), for the audit trail
        self.sent: dict[str, list[int]] = {}
        self._sent_checkpoint: dict[str, tuple[int, object]] = {}
        #: id of the last cosignature considered for this follower (the store's order)
        self._cosignature_cursor = 0
        #: cosignatures already sent ahead of the runs they witness (not to be sent twice)
        self._sent_early: set[bytes] = set()

    async def events(self) -> AsyncIterator[Event]:
        async for env in self._forks():
            yield env
        while True:
            seen = self._feed.version
            async for event in self._backlog():
                yield event
            if not self._req.follow:
                return
            await self._feed.wait(seen)

    async def _forks(self) -> AsyncIterator[Envelope]:
        """Our statement wherever the follower's head digest differs from it (equivocation)."""
        for issuer, digest in sorted(self._req.have_digests.items()):
            seq = self._req.have.get(issuer, 0)
            if seq <= 0 or not self._wanted(issuer):
                continue
            stored = await asyncio.to_thread(self._store.get, issuer, seq)
            if stored is not None and stored.verified and stored.envelope.digest != digest:
                env = stored.envelope
                if env.body is not None and not env.header.readable_by(self._req.reader):
                    env = env.redact()
                yield env

    def _wanted(self, issuer: str) -> bool:
        return not self._req.issuers or issuer in self._req.issuers

    async def _backlog(self) -> AsyncIterator[Event]:
        # never past what is verified: a statement admitted on a checkpoint's authority is
        # relayed only once its own signatures checked out (federation.sigcheck)
        heads = await asyncio.to_thread(self._store.verified_heads)
        for issuer, head_seq in sorted(heads.items()):
            if not self._wanted(issuer):
                continue
            pos = self._cursor.get(issuer, 0)
            if pos < head_seq:
                checkpoints = await asyncio.to_thread(self._store.checkpoints_between, issuer, pos, head_seq)
                # a catch-up (checkpoints in the gap): the witnesses go ahead of what they witness
                early = deque(
                    await asyncio.to_thread(self._store.cosignatures_between, issuer, pos, head_seq)
                    if checkpoints
                    else ()
                )
                for cp in checkpoints:
                    for scos in self._ahead_of(early, cp.seq):
                        yield scos
                    yield cp
                    self._sent_checkpoint[issuer] = (cp.seq, cp.checkpoint.time)
                    async for run in self._range(issuer, pos, cp.seq):
                        yield run
                    pos = cp.seq
                for scos in self._ahead_of(early, head_seq):
                    yield scos
                async for run in self._range(issuer, pos, head_seq):
                    yield run
                self._cursor[issuer] = head_seq
            latest = await asyncio.to_thread(self._store.checkpoint, issuer)
            if latest is not None and latest.seq <= self._cursor.get(issuer, 0):
                mark = (latest.seq, latest.checkpoint.time)
                if self._sent_checkpoint.get(issuer) != mark:
                    self._sent_checkpoint[issuer] = mark
                    yield latest
        async for cosignature in self._cosignatures():
            yield cosignature

    def _ahead_of(self, early: deque[SignedCosignature], upto: int) -> list[SignedCosignature]:
        """Pop from ``early`` (seq order) the cosignatures at seqs up to ``upto`` that go to this follower."""
        out = []
        while early and early[0].seq <= upto:
            scos = early.popleft()
            if scos.witness != self._req.reader and scos.cosignature_bytes not in self._sent_early:
                self._sent_early.add(scos.cosignature_bytes)
                out.append(scos)
        return out

    async def _cosignatures(self) -> AsyncIterator[SignedCosignature]:
        """Every cosignature the follower has not been sent, after the statements they witness.

        All of them, conflicting ones included: a split view is found where both halves meet.
        A follower's own cosignatures are not sent back to it.
        """
        while True:
            page = await asyncio.to_thread(self._store.cosignatures_after, self._cosignature_cursor, PAGE)
            for cosignature_id, scos in page:
                self._cosignature_cursor = cosignature_id
                if scos.cosignature_bytes in self._sent_early:
                    self._sent_early.discard(scos.cosignature_bytes)
                    continue
                if scos.witness != self._req.reader and self._wanted(scos.issuer):
                    yield scos
            if len(page) < PAGE:
                return

    async def _range(self, issuer: str, after: int, upto: int) -> AsyncIterator[Envelope | list[Envelope]]:
        """The statements after..upto: one alone as itself, several as one list per page."""
        reader = self._req.reader
        types = self._req.body_types
        pos = after
        while pos < upto:
            page = await asyncio.to_thread(self._store.read_range, issuer, pos, min(PAGE, upto - pos))
            if not page:
                return
            run = []
            for stored in page:
                env = stored.envelope
                pos = env.seq
                if types and env.header.body_type not in types:
                    continue
                # invariant 3: a body never reaches a member outside its audience
                if env.body is not None and not env.header.readable_by(reader):
                    env = env.redact()
                tally = self.sent.setdefault(issuer, [0, 0])
                tally[0 if env.body is not None else 1] += 1
                run.append(env)
            if len(run) == 1:
                yield run[0]
            elif run:
                yield run
