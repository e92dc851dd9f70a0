"""The gateway's gRPC server: mutual TLS, the authenticating interceptor, thin servicers.

Servicers convert between protobuf and the domain at the edge; the interceptor is the
one place where borderx errors become gRPC status codes.
"""

from borderx.server.app import Gateway, build_server, serve

__all__ = ["Gateway", "build_server", "serve"]
