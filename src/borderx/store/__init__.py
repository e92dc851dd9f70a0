"""Storage of statements and everything a gateway must remember (DESIGN §6).

The store is the truth; the screening index is derived from it and rebuilt on demand.
``base.Store`` states the contract (its MUSTs are in its docstrings), ``sqlite.SQLiteStore``
is the default backend, ``postgres.PostgresStore`` the one several gateway replicas of an
agency share, and ``open_store(url)`` picks a backend from the configured URL.

This package never imports generated protobuf classes: envelopes and checkpoints become
bytes only through ``borderx.statements.encoding``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from borderx.errors import ConfigError
from borderx.store.base import (
    NO_EFFECTS,
    Alarm,
    AppendResult,
    DirectoryConflict,
    EquivocationEvidence,
    Idempotency,
    IndexEffects,
    NewStatement,
    PartyKey,
    PendingCheck,
    ReceiptRecord,
    StatementKey,
    Store,
    StoredDirectory,
    StoredStatement,
    Suspension,
)

__all__ = [
    "NO_EFFECTS",
    "Alarm",
    "AppendResult",
    "DirectoryConflict",
    "EquivocationEvidence",
    "Idempotency",
    "IndexEffects",
    "NewStatement",
    "PartyKey",
    "PendingCheck",
    "ReceiptRecord",
    "StatementKey",
    "Store",
    "StoredDirectory",
    "StoredStatement",
    "Suspension",
    "open_store",
    "redact_url",
]


def redact_url(url: str) -> str:
    """``url`` without its password (in the authority or a ``password=`` query parameter)."""
    parts = urlsplit(url)
    # rebuilt only when there is something to hide: urlsplit/geturl would turn
    # sqlite:////abs/path into sqlite://abs/path
    if parts.password is None and "password" not in parts.query.lower():
        return url
    if parts.password is not None:
        host = parts.hostname or ""
        if parts.port is not None:
            host = f"{host}:{parts.port}"
        netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
        parts = parts._replace(netloc=netloc)
    # libpq also takes the password as a query parameter
    if parts.query and "password" in parts.query.lower():
        query = [
            (name, "***" if name.lower() == "password" else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
        parts = parts._replace(query=urlencode(query, safe="*", quote_via=quote))
    return parts.geturl()


def open_store(url: str) -> Store:
    """Open the store named by ``url``, applying pending schema migrations.

    - ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db`` (as SQLAlchemy
      writes them), or a plain filesystem path → :class:`~borderx.store.sqlite.SQLiteStore`;
    - ``postgresql://user@host:port/database?schema=NAME`` (or ``postgres://``) →
      :class:`~borderx.store.postgres.PostgresStore`; ``schema`` is optional, see that
      module for the URL and what it adds (several gateway replicas on one database).

    Raises ConfigError for anything else; messages never include a password.
    """
    # backends are imported here so that importing the contract does not load them
    # (nor psycopg, for a gateway on SQLite)
    if url.startswith(("postgresql://", "postgres://")):
        from borderx.store.postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore(url)
    if url.startswith("sqlite:"):
        # "sqlite://" followed by anything but "/" names a host, and "sqlite:///" with nothing
        # after it an in-memory database: neither is a file that survives a restart
        if not url.startswith("sqlite:///") or url == "sqlite:///":
            raise ConfigError(f"store {redact_url(url)}: write sqlite:///path/to/file.db")
        path = url.removeprefix("sqlite:///")
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigError(
            f"store {redact_url(url)}: unknown store kind {scheme!r}; "
            "use sqlite:///path/to/file.db or postgresql://user@host/database"
        )
    else:
        path = url
    from borderx.store.sqlite import SQLiteStore  # noqa: PLC0415

    return SQLiteStore(Path(path))
