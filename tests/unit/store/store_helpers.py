"""Fixtures for the store contract suite: backends, signed test chains and indexers.

Everything backend-specific lives in a ``Backend`` here; the contract tests use only
``open_store(backend.url)`` and the :class:`borderx.store.Store` API, so a backend is a
``Backend`` class and a fixture param.

PostgreSQL tests use the server named by ``BORDERX_TEST_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``), each test in a fresh schema of its own.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql

from borderx.statements.model import GENESIS_DIGEST, Envelope, SignedCheckpoint
from borderx.statements.signing import Signer, sign_checkpoint, sign_statement
from borderx.store import IndexEffects, NewStatement

#: the time test statements are issued at
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def signer_for(label: str) -> Signer:
    """A deterministic Ed25519 signer, so failures reproduce."""
    return Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest()))


@dataclass
class Chain:
    """Builds one issuer's signed chain, statement by statement."""

    issuer: str
    signer: Signer = field(init=False)
    seq: int = 0
    prev: bytes = GENESIS_DIGEST
    made: list[Envelope] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.signer = signer_for(self.issuer)

    def build(
        self,
        *,
        seq: int,
        prev: bytes,
        body: bytes | None = None,
        body_type: str = "designation",
        audience: tuple[str, ...] = (),
    ) -> Envelope:
        """A signed envelope at any (seq, prev), without advancing the chain (for forks and gaps)."""
        return sign_statement(
            self.signer,
            issuer=self.issuer,
            seq=seq,
            prev_digest=prev,
            issued_at=T0 + timedelta(seconds=seq),
            audience=audience,
            body_type=body_type,
            body=body or f"{self.issuer} statement {seq}".encode(),
        )

    def next(
        self, *, body: bytes | None = None, body_type: str = "designation", audience: tuple[str, ...] = ()
    ) -> Envelope:
        env = self.build(seq=self.seq + 1, prev=self.prev, body=body, body_type=body_type, audience=audience)
        self.seq, self.prev = env.seq, env.digest
        self.made.append(env)
        return env

    def many(self, n: int) -> list[Envelope]:
        return [self.next() for _ in range(n)]

    def checkpoint(self, seq: int, *, digest: bytes | None = None, at: datetime = T0) -> SignedCheckpoint:
        head = digest if digest is not None else (self.made[seq - 1].digest if seq else GENESIS_DIGEST)
        return sign_checkpoint(self.signer, issuer=self.issuer, seq=seq, head_digest=head, time=at)


def new(
    env: Envelope,
    *,
    ids: tuple[tuple[str, str], ...] = (),
    supersedes: int | None = None,
    withdraws: int | None = None,
    expires_at: datetime | None = None,
    received_from: str = "",
    names: tuple[str, ...] = (),
) -> NewStatement:
    """A NewStatement for ``env`` with index effects (none for a redacted envelope).

    ``supersedes`` / ``withdraws`` are seqs of the same issuer, as the indexer makes them.
    """
    if env.redacted:
        return NewStatement(env, received_from=received_from)
    effects = IndexEffects(
        ids=ids,
        kind=env.header.body_type,
        supersedes=None if supersedes is None else (env.issuer, supersedes),
        withdraws=None if withdraws is None else (env.issuer, withdraws),
        expires_at=expires_at,
        names=names,
    )
    return NewStatement(env, received_from=received_from, index=effects)


class Backend:
    """How the contract suite reaches one kind of store."""

    name: str
    url: str

    def set_schema_version(self, version: int) -> None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, folder: Path) -> None:
        self.path = folder / "gateway.db"
        self.url = f"sqlite:///{self.path}"

    def set_schema_version(self, version: int) -> None:
        with sqlite3.connect(self.path) as conn:
            conn.execute(f"PRAGMA user_version = {version}")


#: The PostgreSQL server the tests use; CI starts it, so an unreachable one fails the tests.
PG_URL = os.environ.get("BORDERX_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to the test server, or a test failure saying how to start it."""
    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        # not a skip: the PostgreSQL backend must be tested wherever the suite runs
        pytest.fail(f"PostgreSQL at {PG_URL} is unreachable ({exc}); start it with: {PG_START}")


class PostgresBackend(Backend):
    """A fresh schema (random name) on the test server, dropped by ``drop``."""

    name = "postgres"

    def __init__(self) -> None:
        self.schema = f"bx_{secrets.token_hex(6)}"
        self.url = f"{PG_URL}?schema={self.schema}"
        with pg_admin() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))

    def set_schema_version(self, version: int) -> None:
        with pg_admin() as conn:
            conn.execute(
                sql.SQL("UPDATE {}.borderx_schema SET version = %s").format(sql.Identifier(self.schema)),
                (version,),
            )

    def drop(self) -> None:
        with pg_admin() as conn:
            # a store a failed test left open must not hang the run
            conn.execute("SET lock_timeout = '10s'")
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
