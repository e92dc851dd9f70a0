"""Servicers onto a grpc.aio server as generic handlers only: what each call costs the server loop.

The generated ``add_<Service>Servicer_to_server`` functions register every method twice:
as a generic handler, and as a *registered method* (``add_registered_method_handlers``).
grpc.aio's server loop keeps one pending request per registered method, plus one for
generic calls, and waits on all of them with ``asyncio.wait`` for every call it accepts:
with this gateway's 19 methods, that wait (a done-callback added to and removed from 20
futures, every one of them type-checked) cost about 114k instructions per call (callgrind,
a bare echo with and without 20 registered methods), a quarter of the whole cost of a
bare TLS echo. Generic handlers alone serve exactly the same methods with one pending
request; an unknown method is still UNIMPLEMENTED.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import grpc.aio


class GenericOnly:
    """Stands in for a grpc.aio server to the generated ``add_*_to_server`` functions.

    Passes their generic handlers to the server and leaves out the registered-method
    copies of the same handlers (see the module docstring).
    """

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service: str, handlers: Mapping[str, Any]) -> None:
        """Nothing to do: the generic handler added with these serves the same methods."""
