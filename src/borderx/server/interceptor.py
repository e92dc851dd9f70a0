"""The authenticating interceptor: identity, authorisation, error mapping and the per-RPC log event.

grpc.aio interceptors do not see the servicer context, so this one wraps the method
handler instead: the wrapper runs inside the call, reads the peer certificate from
``context.auth_context()``, authenticates and authorises the principal, exposes it to the
servicer through a context variable, maps borderx errors to status codes (the one place
that does), and logs one ``rpc`` event per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from borderx.errors import BorderxError, PermissionDenied, Unauthenticated
from borderx.identity.principal import Principal
from borderx.identity.verifier import PeerAuthenticator
from borderx.logging import get_logger
from borderx.server.authz import authorise
from borderx.server.metrics import Metrics
from borderx.server.sessions import LiveSession, SessionRegistry

log = get_logger("borderx.rpc")
security = get_logger("borderx.security")

_current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("borderx_principal")


def current_principal() -> Principal:
    """The authenticated caller of the RPC being served (set by the interceptor)."""
    return _current_principal.get()


@dataclass
class _Call:
    start: float
    principal: Principal | None = None
    code: grpc.StatusCode = grpc.StatusCode.OK
    pem: bytes = b""


def status_code_of(exc: BorderxError) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, exc.grpc_code, grpc.StatusCode.INTERNAL)


async def _until_ended(items: AsyncIterator[Any], session: LiveSession) -> AsyncIterator[Any]:
    """``items``, until the session is ended; then raise its Unauthenticated.

    Each step of the handler runs as a task raced against the session's end, so a follower
    waiting for news is stopped as soon as its certificate stops authenticating.
    """
    ended = asyncio.ensure_future(session.ended.wait())
    step: asyncio.Future[Any] | None = None
    try:
        while True:
            step = asyncio.ensure_future(anext(items))
            await asyncio.wait((step, ended), return_when=asyncio.FIRST_COMPLETED)
            if not step.done():
                raise session.refusal()
            try:
                item = step.result()
            except StopAsyncIteration:
                return
            if session.ended.is_set():
                raise session.refusal()
            yield item
    finally:
        ended.cancel()
        if step is not None and not step.done():
            # the session ended, or the call was cancelled, while the handler was waiting
            step.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await step
        with contextlib.suppress(Exception):  # the handler's own error was already raised
            await items.aclose()  # type: ignore[attr-defined]


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        authenticator: PeerAuthenticator,
        *,
        home_agency: str,
        metrics: Metrics | None = None,
        sessions: SessionRegistry | None = None,
    ) -> None:
        self._authenticator = authenticator
        self._home = home_agency
        self._metrics = metrics
        self._sessions = sessions
        self._wrapped: dict[str, tuple[Any, grpc.RpcMethodHandler]] = {}

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method: str = handler_call_details.method
        # the servicers' handlers never change: wrap each once, not on every call
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                self._wrap_stream(method, handler.stream_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_unary_rpc_method_handler(
            self._wrap_unary(method, handler.stream_unary),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    # ------------------------------------------------------------ identity

    def _authenticate(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any], call: _Call
    ) -> Principal:
        pems = context.auth_context().get("x509_pem_cert") or [b""]
        call.pem = pems[0]
        try:
            return self._authenticator.authenticate_pem(pems[0])
        except Unauthenticated as exc:
            security.warning("security.unauthenticated", method=method, peer=context.peer(), reason=str(exc))
            raise

    def _authorise(self, method: str, principal: Principal) -> None:
        try:
            authorise(principal, method, home_agency=self._home)
        except PermissionDenied as exc:
            security.warning(
                "security.permission_denied", method=method, principal=str(principal), reason=str(exc)
            )
            raise

    # ------------------------------------------------------------ wrappers

    @contextlib.asynccontextmanager
    async def _guard(self, method: str, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[_Call]:
        """Identity and authorisation before the handler; status mapping and the log event after."""
        call = _Call(start=time.perf_counter())
        try:
            call.principal = self._authenticate(method, context, call)
            self._authorise(method, call.principal)
            _current_principal.set(call.principal)
            yield call
        except BorderxError as exc:
            call.code = status_code_of(exc)
            await context.abort(call.code, str(exc))
        except grpc.aio.AbortError:
            call.code = context.code() or grpc.StatusCode.UNKNOWN
            raise
        except Exception:
            call.code = grpc.StatusCode.INTERNAL
            log.exception("rpc.internal_error", method=method, principal=str(call.principal or ""))
            await context.abort(call.code, "internal error; the gateway's log has the details")
        finally:
            if context.cancelled() and call.code == grpc.StatusCode.OK:
                call.code = grpc.StatusCode.CANCELLED
            self._log_rpc(method, call.principal, call.code, call.start)

    def _wrap_unary(self, method: str, behaviour: Any) -> Any:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            async with self._guard(method, context):
                return await behaviour(request, context)

        return wrapper

    def _wrap_stream(self, method: str, behaviour: Any) -> Any:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            async with self._guard(method, context) as call:
                if self._sessions is None or call.principal is None:
                    async for item in behaviour(request, context):
                        yield item
                    return
                # a stream can outlive its certificate: keep it registered, so that a
                # revocation, an expiry or a member leaving ends it (server/sessions.py)
                session = self._sessions.open(
                    method=method, peer=context.peer(), principal=call.principal, pem=call.pem
                )
                try:
                    async for item in _until_ended(behaviour(request, context), session):
                        yield item
                finally:
                    self._sessions.close(session)

        return wrapper

    def _log_rpc(self, method: str, principal: Principal | None, code: grpc.StatusCode, start: float) -> None:
        seconds = time.perf_counter() - start
        log.info(
            "rpc",
            method=method,
            principal=str(principal) if principal else "",
            code=code.name,
            duration_ms=round(seconds * 1000, 3),
        )
        if self._metrics is not None:
            self._metrics.observe_rpc(method, code.name, principal.agency if principal else "", seconds)
