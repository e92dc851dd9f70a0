"""Storage of statements and everything a gateway must remember (DESIGN §6).

The store is the truth; the screening index is derived from it and rebuilt on demand.
``base.Store`` states the contract (its MUSTs are in its docstrings), ``sqlite.SQLiteStore``
is the default backend, and ``open_store(url)`` picks a backend from the configured URL.

This package never imports generated protobuf classes: envelopes and checkpoints become
bytes only through ``borderx.statements.encoding``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from borderx.errors import ConfigError
from borderx.store.base import (
    NO_EFFECTS,
    Alarm,
    AppendResult,
    EquivocationEvidence,
    IndexEffects,
    NewStatement,
    PartyKey,
    StatementKey,
    Store,
    StoredStatement,
    Suspension,
)

__all__ = [
    "NO_EFFECTS",
    "Alarm",
    "AppendResult",
    "EquivocationEvidence",
    "IndexEffects",
    "NewStatement",
    "PartyKey",
    "StatementKey",
    "Store",
    "StoredStatement",
    "Suspension",
    "open_store",
    "redact_url",
]


def redact_url(url: str) -> str:
    """``url`` without its password, for messages and status output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return parts._replace(netloc=netloc).geturl()


def open_store(url: str) -> Store:
    """Open the store named by ``url``, applying pending schema migrations.

    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (as SQLAlchemy
      writes them), or a plain filesystem path → :class:`~borderx.store.sqlite.SQLiteStore`;
    - ``postgresql://…`` / ``postgres://…`` → ConfigError for now (another issue adds it).

    Raises ConfigError for anything else; messages never include a password.
    """
    if url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"store {redact_url(url)}: PostgreSQL store is not available yet; use sqlite:///path/to/file.db"
        )
    if url.startswith("sqlite:"):
        # "sqlite://" followed by anything but "/" names a host, and "sqlite:///" with nothing
        # after it an in-memory database: neither is a file that survives a restart
        if not url.startswith("sqlite:///") or url == "sqlite:///":
            raise ConfigError(f"store {redact_url(url)}: write sqlite:///path/to/file.db")
        path = url.removeprefix("sqlite:///")
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigError(
            f"store {redact_url(url)}: unknown store kind {scheme!r}; use sqlite:///path/to/file.db"
        )
    else:
        path = url
    # imported here so that importing the contract does not load a backend
    from borderx.store.sqlite import SQLiteStore  # noqa: PLC0415

    return SQLiteStore(Path(path))
