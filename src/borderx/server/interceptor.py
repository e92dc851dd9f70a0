"""The authenticating interceptor: identity, authorisation, error mapping and the per-RPC log event.

grpc.aio interceptors do not see the servicer context, so this one wraps the method
handler instead: the wrapper runs inside the call, reads the peer certificate from
``context.auth_context()``, authenticates and authorises the principal, exposes it to the
servicer through a context variable, maps borderx errors to status codes (the one place
that does, with google.rpc details built by ``server.status``), and logs one ``rpc`` event
per call.

Every handler is registered with no request deserializer: grpc hands the wrapper the raw
request bytes, and the wrapper parses them inside the guard. A request that does not parse
(a stray byte, invalid UTF-8 in a string field) is then a client's INVALID_ARGUMENT with its
``rpc`` event like any other refusal, on every service this server hosts (Exchange, Admin,
health, reflection), instead of the UNKNOWN grpc would answer before any interceptor ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NoReturn

import grpc
import grpc.aio
from google.protobuf import descriptor_pool

from borderx.errors import BorderxError, InvalidArgument, PermissionDenied, Unauthenticated
from borderx.identity.principal import Principal
from borderx.identity.verifier import PeerAuthenticator
from borderx.logging import get_logger
from borderx.server.authz import authorise
from borderx.server.metrics import Metrics
from borderx.server.sessions import LiveSession, SessionRegistry
from borderx.server.status import status_of

log = get_logger("borderx.rpc")
security = get_logger("borderx.security")

_current_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("borderx_principal")


def current_principal() -> Principal:
    """The authenticated caller of the RPC being served (set by the interceptor)."""
    return _current_principal.get()


@dataclass(slots=True)
class _Call:
    """What one call's guard records: when it began, who called, how it ended."""

    start: float
    principal: Principal | None = None
    code: grpc.StatusCode = grpc.StatusCode.OK
    pem: bytes = b""


Deserializer = Callable[[bytes], Any]
HEALTH_PREFIX = "/grpc.health.v1.Health/"


def request_type_name(method: str) -> str:
    """``borderx.v1.LookupRequest`` for ``/borderx.v1.Exchange/Lookup`` (any registered service)."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.strip("/").replace("/", "."))
    except KeyError:
        return "the method's request message"
    name: str = found.input_type.full_name
    return name


def _parser(method: str, deserializer: Deserializer | None) -> Callable[[Any], Any]:
    """Parse raw request bytes with the servicer's own deserializer, refusing what does not parse."""
    if deserializer is None:
        return lambda raw: raw
    type_name = request_type_name(method)

    def parse(raw: Any) -> Any:
        try:
            return deserializer(raw)
        except Exception:  # any failure to decode a caller's bytes is the caller's mistake
            raise InvalidArgument(
                f"request does not parse as {type_name}: not a valid protobuf encoding "
                "(truncated or stray bytes, a wrong wire type, or invalid UTF-8 in a string field)"
            ) from None

    return parse


async def _parsed(requests: AsyncIterator[Any], parse: Callable[[Any], Any]) -> AsyncIterator[Any]:
    async for raw in requests:
        yield parse(raw)


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


class _Guard(grpc.aio.ServerInterceptor):
    """Wraps every handler: parse inside the call, admit the caller, map errors, log the rpc event.

    Subclasses say who is admitted (``_admit``); streams of an admitted principal are
    registered with ``sessions`` (when given) so that they end when it stops authenticating.
    """

    def __init__(self, *, metrics: Metrics | None = None, sessions: SessionRegistry | None = None) -> None:
        self._metrics = metrics
        self._sessions = sessions
        self._wrapped: dict[str, tuple[Any, grpc.RpcMethodHandler]] = {}
        # the rpc logger itself, not structlog's lazy proxy: every attribute read through the
        # proxy binds again (a failed lookup and a call, ~2 us), twice on each call
        self._rpc_log = log.bind()

    def _admit(self, method: str, context: grpc.aio.ServicerContext[Any, Any], call: _Call) -> None:
        """Raise unless the caller may call ``method``; record who it is in ``call.principal``."""
        raise NotImplementedError

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
        # no request_deserializer: the wrapper parses inside the guard (see the module docstring)
        parse = _parser(method, handler.request_deserializer)
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._wrap_unary(method, handler.unary_unary, parse),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._wrap_stream(method, handler.unary_stream, parse),
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                self._wrap_stream(method, handler.stream_stream, parse, streaming_requests=True),
                response_serializer=handler.response_serializer,
            )
        return grpc.stream_unary_rpc_method_handler(
            self._wrap_unary(method, handler.stream_unary, parse, streaming_requests=True),
            response_serializer=handler.response_serializer,
        )

    # ------------------------------------------------------------ wrappers

    async def _fail(
        self, method: str, context: grpc.aio.ServicerContext[Any, Any], call: _Call, exc: Exception
    ) -> NoReturn:
        """Map what a call raised to its status (the one place that does) and end the call with it."""
        if isinstance(exc, BorderxError):
            status = status_of(exc)
            call.code = status.code
            await context.abort(status.code, status.details, status.trailing_metadata)
        if isinstance(exc, grpc.aio.AbortError):
            call.code = context.code() or grpc.StatusCode.UNKNOWN
            raise exc
        if isinstance(exc, NotImplementedError):
            # a generated base servicer's method that the library does not implement (grpc's
            # aio health service has no List): the caller asked for something not served
            call.code = grpc.StatusCode.UNIMPLEMENTED
            await context.abort(call.code, f"{method} is not implemented by this gateway")
        call.code = grpc.StatusCode.INTERNAL
        log.exception("rpc.internal_error", method=method, principal=str(call.principal or ""))
        await context.abort(call.code, "internal error; the gateway's log has the details")
        raise AssertionError("unreachable: context.abort raises")  # pragma: no cover

    def _ended(self, method: str, context: grpc.aio.ServicerContext[Any, Any], call: _Call) -> None:
        if call.code is grpc.StatusCode.OK and context.cancelled():
            call.code = grpc.StatusCode.CANCELLED
        self._log_rpc(method, call.principal, call.code, call.start)

    # Each wrapper inlines the guard (admit, parse, run; map errors with ``_fail``; log with
    # ``_ended``) rather than entering an async context manager, which costs an async
    # generator and two more awaits on every call.

    def _wrap_unary(
        self, method: str, behaviour: Any, parse: Callable[[Any], Any], *, streaming_requests: bool = False
    ) -> Any:
        async def wrapper(raw: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
            call = _Call(time.perf_counter())
            try:
                self._admit(method, context, call)
                if call.principal is not None:
                    _current_principal.set(call.principal)
                request = _parsed(raw, parse) if streaming_requests else parse(raw)
                return await behaviour(request, context)
            except Exception as exc:
                await self._fail(method, context, call, exc)
            finally:
                self._ended(method, context, call)

        return wrapper

    def _wrap_stream(
        self, method: str, behaviour: Any, parse: Callable[[Any], Any], *, streaming_requests: bool = False
    ) -> Any:
        if not inspect.isasyncgenfunction(behaviour):
            # a streaming handler that sends with ``context.write`` (grpc's health Watch):
            # awaited like a unary one, so its writes go out as they are made
            return self._wrap_unary(method, behaviour, parse, streaming_requests=streaming_requests)

        async def wrapper(raw: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
            call = _Call(time.perf_counter())
            try:
                self._admit(method, context, call)
                if call.principal is not None:
                    _current_principal.set(call.principal)
                request = _parsed(raw, parse) if streaming_requests else parse(raw)
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
            except Exception as exc:
                await self._fail(method, context, call, exc)
            finally:
                self._ended(method, context, call)

        return wrapper

    def _log_rpc(self, method: str, principal: Principal | None, code: grpc.StatusCode, start: float) -> None:
        seconds = time.perf_counter() - start
        # one rpc event per call, always offered to the logger; its fields are only built
        # when the configured level keeps it (the filtering logger would drop them unread)
        if self._rpc_log.is_enabled_for(logging.INFO):
            self._rpc_log.info(
                "rpc",
                method=method,
                principal=str(principal) if principal else "",
                code=code.name,
                duration_ms=round(seconds * 1000, 3),
            )
        if self._metrics is not None:
            self._metrics.observe_rpc(method, code.name, principal.agency if principal else "", seconds)


class AuthInterceptor(_Guard):
    """The mutual-TLS listener's guard: every call is authenticated and authorised."""

    def __init__(
        self,
        authenticator: PeerAuthenticator,
        *,
        home_agency: str,
        metrics: Metrics | None = None,
        sessions: SessionRegistry | None = None,
    ) -> None:
        super().__init__(metrics=metrics, sessions=sessions)
        self._authenticator = authenticator
        self._home = home_agency

    def _admit(self, method: str, context: grpc.aio.ServicerContext[Any, Any], call: _Call) -> None:
        # the principal is recorded before authorising: a refusal's rpc event names who was refused
        call.principal = self._authenticate(method, context, call)
        self._authorise(method, call.principal)

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


class HealthListenerGuard(_Guard):
    """The plaintext health-only listener's guard: no identity, and health methods only.

    It parses, maps errors and logs like the mTLS listener, so a malformed probe gets
    INVALID_ARGUMENT there too. Anything but the health service is refused (fail closed,
    should another service ever be registered on that listener by mistake).
    """

    def _admit(self, method: str, context: grpc.aio.ServicerContext[Any, Any], call: _Call) -> None:
        if not method.startswith(HEALTH_PREFIX):
            raise PermissionDenied(f"{method} is not served without a client certificate")
