"""The registry of live streams: revocation and expiry end open sessions, not only new calls.

A ``Subscribe(follow)`` stream can stay open for days. Authenticating it once, at call
start, would let a certificate revoked by a directory reload, a certificate past its
``not_after``, or an agency that left the federation keep receiving bodies (DESIGN §8:
"revocation and expiry end live sessions"). So every streaming call registers here with
the certificate it authenticated with, and the registry re-authenticates every live
session

- after every directory change and every TLS reload (``recheck()``, from any thread), and
- at each session's certificate ``not_after`` (a timer on the event loop),

with the same :class:`PeerAuthenticator` that admitted it. A session that no longer
authenticates is *ended*: its ``ended`` event is set with the reason, and the
interceptor stops the handler and ends the call with UNAUTHENTICATED. A handler that
cannot be interrupted that way (blocked writing to a client that stopped reading) is
cancelled after ``END_GRACE_SECONDS``.

The registry lives on the server's event loop; only ``recheck()`` may be called from
other threads.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography import x509

from borderx.errors import Unauthenticated
from borderx.identity.principal import Principal
from borderx.identity.verifier import PeerAuthenticator
from borderx.logging import get_logger

security = get_logger("borderx.security")

#: seconds an ended session's handler gets to notice before its task is cancelled
END_GRACE_SECONDS = 2.0


@dataclass(eq=False)
class LiveSession:
    """One open streaming call and the certificate it authenticated with."""

    id: int
    method: str
    peer: str
    principal: Principal
    pem: bytes = field(repr=False)
    not_after: datetime
    task: asyncio.Task[object] | None = field(default=None, repr=False)
    ended: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    reason: str = ""
    _timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def refusal(self) -> Unauthenticated:
        return Unauthenticated(f"session ended: {self.reason}")


class SessionRegistry:
    def __init__(self, authenticator: PeerAuthenticator) -> None:
        self._authenticator = authenticator
        self._sessions: dict[int, LiveSession] = {}
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Attach to the server's event loop (once, at start-up)."""
        self._loop = loop

    def __len__(self) -> int:
        return len(self._sessions)

    def live(self) -> list[LiveSession]:
        return list(self._sessions.values())

    # ------------------------------------------------------------ on the loop

    def open(self, *, method: str, peer: str, principal: Principal, pem: bytes) -> LiveSession:
        """Register the calling task's stream; the caller must ``close()`` it when the call ends."""
        cert = x509.load_pem_x509_certificate(pem)  # parsed before: the authenticator accepted it
        session = LiveSession(
            id=next(self._ids),
            method=method,
            peer=peer,
            principal=principal,
            pem=pem,
            not_after=cert.not_valid_after_utc,
            task=asyncio.current_task(),
        )
        self._sessions[session.id] = session
        self._arm(session)
        return session

    def close(self, session: LiveSession) -> None:
        self._sessions.pop(session.id, None)
        if session._timer is not None:
            session._timer.cancel()
            session._timer = None

    def _arm(self, session: LiveSession) -> None:
        """Wake at the certificate's not_after (re-armed if the wall clock was early)."""
        loop = asyncio.get_running_loop()
        delay = (session.not_after - datetime.now(UTC)).total_seconds()
        session._timer = loop.call_later(max(delay, 0.0), self._check, session)

    def _check(self, session: LiveSession) -> None:
        if session.id not in self._sessions or session.ended.is_set():
            return
        try:
            self._authenticator.authenticate_pem(session.pem)
        except Unauthenticated as exc:
            self._end(session, str(exc))
            return
        if session._timer is not None and session._timer.when() <= asyncio.get_running_loop().time():
            self._arm(session)  # the expiry timer fired early by the wall clock: wait again

    def _recheck_all(self) -> None:
        for session in list(self._sessions.values()):
            self._check(session)

    def _end(self, session: LiveSession, reason: str) -> None:
        session.reason = reason
        session.ended.set()
        security.warning(
            "security.session_ended",
            method=session.method,
            peer=session.peer,
            principal=str(session.principal),
            reason=reason,
        )
        # the interceptor ends the call at its next step; a handler stuck in a write to a
        # client that stopped reading is cancelled instead
        asyncio.get_running_loop().call_later(END_GRACE_SECONDS, self._force, session)

    def _force(self, session: LiveSession) -> None:
        if session.id in self._sessions and session.task is not None and not session.task.done():
            session.task.cancel()

    # ------------------------------------------------------------ from any thread

    def recheck(self) -> None:
        """Re-authenticate every live session soon (after a directory change or TLS reload)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._recheck_all()
        else:
            loop.call_soon_threadsafe(self._recheck_all)
