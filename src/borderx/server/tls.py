"""Server TLS credentials that can be reloaded without a restart or dropped streams.

grpcio's dynamic server credentials ask a fetcher for a new certificate configuration
before every new handshake; established connections (and their open Subscribe streams)
keep the configuration they were made with. ``reload()`` re-reads the gateway's
certificate and key and the directory's CA bundle, and the next handshake uses them.
"""

from __future__ import annotations

import threading
from pathlib import Path

import grpc

from borderx.directory.model import DirectoryHolder
from borderx.errors import ConfigError
from borderx.identity.keyfile import check_private_key_file


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read it ({exc.strerror})") from exc


class ReloadableTls:
    def __init__(self, *, cert: Path, key: Path, directory: DirectoryHolder) -> None:
        self._cert_path, self._key_path = cert, key
        self._directory = directory
        self._lock = threading.Lock()
        self._pending: grpc.ServerCertificateConfiguration | None = None
        self.generation = 0
        self._initial = self._configuration()

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        cert = _read(self._cert_path, "[tls] cert")
        check_private_key_file(self._key_path, "[tls] key")
        key = _read(self._key_path, "[tls] key")
        roots = self._directory.current.trust_bundle_pem()
        return grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=roots)

    def credentials(self) -> grpc.ServerCredentials:
        # require_client_authentication: no certificate, no connection. The TLS layer proves
        # "some member's CA issued this"; the interceptor then proves "the CA of the agency it
        # claims to be".
        return grpc.dynamic_ssl_server_credentials(
            self._initial, self._fetch, require_client_authentication=True
        )

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def reload(self) -> int:
        """Re-read certificate, key and CA bundle for the next handshakes; returns the generation."""
        configuration = self._configuration()
        with self._lock:
            self._pending = configuration
            self.generation += 1
            return self.generation
