"""The PostgreSQL store: one schema shared by every gateway replica of one agency.

This module owns the PostgreSQL schema, its migrations and every SQL statement run against
it; it implements the MUSTs of :class:`borderx.store.base.Store` with psycopg 3 (sync API).

**URL.** ``postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?schema=NAME&…]``
(``postgres://`` too). ``schema`` is borderx's own parameter, stripped before connecting:
the tables live in that schema, created at open if absent (a name of ``[a-z_][a-z0-9_]*``,
at most 63 characters), and every connection uses it as its ``search_path``. Without it
the tables live in the connection's current schema (normally ``public``). Every other
query parameter goes to libpq unchanged (``sslmode``, ``connect_timeout``, ``options`` …).
The tests give each test a fresh schema of its own this way.

What this backend keeps, beyond the shared contract:

- **Replicas.** Several gateway processes may share one schema. ``append`` runs in one
  READ COMMITTED transaction that first locks the chain-head row of each issuer of the
  batch (``SELECT … FOR UPDATE``; a first statement's issuer gets a placeholder row at
  seq 0 that never commits alone), so the chain checks and the inserts of two replicas on
  one issuer are serialised: seqs are accepted without gaps or duplicates whichever
  replica receives them. ``publish_lock`` is a transaction-level advisory lock held on a
  connection of its own for the duration of the block.
- **Evidence that survives.** Equivocation evidence and the suspension are committed on a
  second connection while the batch still holds its head locks; then the batch rolls
  back. No replica can slip in a statement of the equivocating issuer in between.
- **Race-safe idempotency.** A batch first claims its receipt row (primary key
  (principal, key)); a racing retry blocks on that row, then replays the receipt.
- **Change notification.** ``append`` issues ``NOTIFY borderx_statements, 'issuer:seq'``
  (the last statement accepted per issuer) inside its transaction, delivered at commit;
  ``wait_for_change`` LISTENs on a connection of its own. The channel is per database:
  stores in other schemas of the same database cause spurious wake-ups, never missed ones.
- **Advisory locks are per schema**: their keys are ``(hashtext('borderx/' || schema),
  hashtext(what))``, so stores in two schemas of one database never wait for each other.
- **Durability.** A commit returns once the server has flushed it (``synchronous_commit``
  is turned back on for our sessions when the server default is ``off``).
- **Immutability in the schema.** Triggers refuse UPDATE of a statement's identity or
  bytes, DELETE and TRUNCATE, so "nothing is deleted" (DESIGN §3) holds even against a bug.
- **Versioned schema.** ``borderx_schema`` holds the version. Migrations run at open, each
  in its own transaction under an advisory lock, so replicas starting together migrate
  once; a schema newer than this code, or a schema holding other tables, is refused.
  Version numbers name the same tables as the SQLite backend's.
- **Logarithmic lookups.** ``party_index`` is keyed (scheme, value, issuer, seq): a lookup
  is one B-tree range, already in (issuer, seq) order; ``lookup_many`` is one query.
- **Connections.** A small pool: a connection serves one thread at a time and idle ones
  are kept up to a fixed number, so open connections are bounded by the number of threads
  calling the store at once (the gRPC server's pool), plus one for LISTEN.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow

from borderx.errors import (
    BorderxError,
    ConfigError,
    NotFound,
    ResourceExhausted,
)
from borderx.logging import get_logger
from borderx.statements.chain import ChainHead
from borderx.statements.encoding import (
    envelope_from_wire,
    envelope_to_wire,
    signed_checkpoint_from_wire,
    signed_checkpoint_to_wire,
    signed_cosignature_from_wire,
    signed_cosignature_to_wire,
    signed_parts_from_wire,
)
from borderx.statements.model import GENESIS_DIGEST, Envelope, SignedCheckpoint, SignedCosignature
from borderx.store import redact_url
from borderx.store.base import (
    Alarm,
    AppendResult,
    DirectoryConflict,
    EquivocationEvidence,
    Evidence,
    Idempotency,
    IndexChanges,
    IndexEffects,
    IndexEntry,
    IndexState,
    NewStatement,
    PartyKey,
    PendingCheck,
    ReceiptRecord,
    StatementKey,
    Store,
    StoredDirectory,
    StoredStatement,
    Suspension,
    as_idempotency,
    check_directory_record,
    check_index_effects,
    check_receipt_digest,
)
from borderx.store.plan import (
    MAX_INT64,
    AppendPlan,
    EquivocationFound,
    clamp_seq,
    decode_keys,
    encode_keys,
    evidence_fingerprint,
    index_rows,
    is_indexed,
    pack_evidence,
    plan_append,
    plan_checkpoint,
    redacted_wire,
    unpack_evidence,
)

log = get_logger("borderx.store")

Connection = psycopg.Connection[TupleRow]

#: Schema migrations: entry ``i`` takes the schema from version ``i`` to ``i + 1``. Append
#: new migrations; never edit one that has shipped. Version ``n`` holds the same tables as
#: the SQLite backend's version ``n``.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        # The truth: each statement exactly as received, plus the columns queries need.
        """
        CREATE TABLE statements (
            issuer        TEXT        NOT NULL,
            seq           BIGINT      NOT NULL CHECK (seq >= 1),
            digest        BYTEA       NOT NULL CHECK (length(digest) = 32),
            body_type     TEXT        NOT NULL,
            received_from TEXT        NOT NULL,
            received_at   TIMESTAMPTZ NOT NULL,
            expires_at    TIMESTAMPTZ,
            wire          BYTEA       NOT NULL,
            PRIMARY KEY (issuer, seq)
        )
        """,
        # expires_at is derived (written by the indexer, reset by rebuild_index); the rest
        # of a row is never changed
        """
        CREATE FUNCTION borderx_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'borderx: stored statements are %', TG_ARGV[0];
        END
        $$
        """,
        """
        CREATE TRIGGER statements_immutable BEFORE UPDATE OF
            issuer, seq, digest, body_type, received_from, received_at, wire ON statements
            FOR EACH ROW EXECUTE FUNCTION borderx_refuse_change('immutable')
        """,
        """
        CREATE TRIGGER statements_kept BEFORE DELETE ON statements
            FOR EACH ROW EXECUTE FUNCTION borderx_refuse_change('never deleted')
        """,
        """
        CREATE TRIGGER statements_not_truncated BEFORE TRUNCATE ON statements
            FOR EACH STATEMENT EXECUTE FUNCTION borderx_refuse_change('never deleted')
        """,
        # The head of each issuer's chain, written in the same transaction as the
        # statements. Its row is the lock that serialises appends of one issuer across
        # replicas; seq 0 is a placeholder that exists only inside an uncommitted append.
        """
        CREATE TABLE heads (
            issuer TEXT   PRIMARY KEY,
            seq    BIGINT NOT NULL CHECK (seq >= 0),
            digest BYTEA  NOT NULL
        )
        """,
        # Derived: party identifier -> statement. Rebuilt from ``statements`` by rebuild_index.
        """
        CREATE TABLE party_index (
            scheme TEXT   NOT NULL,
            value  TEXT   NOT NULL,
            issuer TEXT   NOT NULL,
            seq    BIGINT NOT NULL,
            PRIMARY KEY (scheme, value, issuer, seq),
            FOREIGN KEY (issuer, seq) REFERENCES statements (issuer, seq)
        )
        """,
        # Derived: (issuer, target_seq) was superseded or withdrawn by (issuer, by_seq).
        """
        CREATE TABLE marks (
            issuer     TEXT   NOT NULL,
            target_seq BIGINT NOT NULL,
            kind       TEXT   NOT NULL CHECK (kind IN ('superseded', 'withdrawn')),
            by_seq     BIGINT NOT NULL,
            PRIMARY KEY (issuer, target_seq, kind)
        )
        """,
        """
        CREATE TABLE equivocations (
            id                 BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            issuer             TEXT        NOT NULL,
            seq                BIGINT      NOT NULL,
            held_digest        BYTEA       NOT NULL,
            conflicting_digest BYTEA       NOT NULL,
            held_wire          BYTEA       NOT NULL,
            conflicting_wire   BYTEA       NOT NULL,
            detected_at        TIMESTAMPTZ NOT NULL,
            reported_by        TEXT        NOT NULL,
            UNIQUE (issuer, seq, held_digest, conflicting_digest)
        )
        """,
        """
        CREATE TABLE checkpoints (
            issuer      TEXT        PRIMARY KEY,
            seq         BIGINT      NOT NULL,
            head_digest BYTEA       NOT NULL,
            time        TIMESTAMPTZ NOT NULL,
            wire        BYTEA       NOT NULL
        )
        """,
        """
        CREATE TABLE receipts (
            principal  TEXT        NOT NULL,
            key        TEXT        NOT NULL,
            refs       TEXT        NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (principal, key)
        )
        """,
        """
        CREATE TABLE alarms (
            id              BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind            TEXT        NOT NULL,
            issuer          TEXT        NOT NULL,
            detail          TEXT        NOT NULL,
            raised_at       TIMESTAMPTZ NOT NULL,
            last_raised_at  TIMESTAMPTZ NOT NULL,
            count           INTEGER     NOT NULL,
            acknowledged_at TIMESTAMPTZ
        )
        """,
        # at most one open alarm per (kind, issuer, detail): the dedup rule, kept by the schema
        """
        CREATE UNIQUE INDEX alarms_open ON alarms (kind, issuer, detail)
            WHERE acknowledged_at IS NULL
        """,
        """
        CREATE TABLE suspended_issuers (
            issuer TEXT        PRIMARY KEY,
            reason TEXT        NOT NULL,
            since  TIMESTAMPTZ NOT NULL
        )
        """,
    ),
    (
        # v2: every checkpoint, one per (issuer, seq) (the freshest time seen for it), so a
        # bulk sync can authenticate a long chain in runs between consecutive checkpoints.
        # ``checkpoints`` stays the latest per issuer; every row of it is also a row here.
        """
        CREATE TABLE checkpoint_history (
            issuer      TEXT        NOT NULL,
            seq         BIGINT      NOT NULL,
            head_digest BYTEA       NOT NULL,
            time        TIMESTAMPTZ NOT NULL,
            wire        BYTEA       NOT NULL,
            PRIMARY KEY (issuer, seq)
        )
        """,
        # a v1 store knew only the latest checkpoints: they start the history
        """
        INSERT INTO checkpoint_history (issuer, seq, head_digest, time, wire)
        SELECT issuer, seq, head_digest, time, wire FROM checkpoints
        """,
    ),
    (
        # v3 (one admission path): the rule a statement broke, if any (derived, like
        # expires_at: such a statement is kept as signed evidence and never indexed) …
        "ALTER TABLE statements ADD COLUMN violation TEXT",
        # … whether every signature was checked (FALSE: admitted on a checkpoint's authority,
        # the Ed25519 check pending; never relayed or exported until it is done) …
        "ALTER TABLE statements ADD COLUMN verified BOOLEAN NOT NULL DEFAULT TRUE",
        "CREATE INDEX statements_unverified ON statements (issuer, seq) WHERE NOT verified",
        # … the latest conforming designation of each membership (derived) …
        """
        CREATE TABLE memberships (
            issuer    TEXT   NOT NULL,
            programme TEXT   NOT NULL,
            member_id TEXT   NOT NULL,
            seq       BIGINT NOT NULL,
            status    TEXT   NOT NULL,
            PRIMARY KEY (issuer, programme, member_id)
        )
        """,
        # … and signed proof that is not a statement of the chain (own-chain forgeries,
        # bad signatures under a checkpoint), kept forever
        """
        CREATE TABLE evidence (
            id          BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind        TEXT        NOT NULL,
            issuer      TEXT        NOT NULL,
            seq         BIGINT      NOT NULL,
            detail      TEXT        NOT NULL,
            wires       BYTEA       NOT NULL,
            fingerprint BYTEA       NOT NULL,
            reported_by TEXT        NOT NULL,
            detected_at TIMESTAMPTZ NOT NULL,
            UNIQUE (kind, issuer, seq, fingerprint)
        )
        """,
        """
        CREATE TRIGGER evidence_kept BEFORE DELETE ON evidence
            FOR EACH ROW EXECUTE FUNCTION borderx_refuse_change('never deleted')
        """,
    ),
    (
        # v4: alarms are deduplicated per (kind, issuer, peer), not per detail (details carry
        # times and seqs, so a peer misbehaving at every reconnect opened a new alarm each
        # time). The peer is recovered from the details v2 wrote, then the open alarms of
        # one (kind, issuer, peer) are merged into the oldest: counts summed, newest detail.
        "ALTER TABLE alarms ADD COLUMN peer TEXT NOT NULL DEFAULT ''",
        # the per-detail rule goes first: merging gives the kept alarm another's detail
        "DROP INDEX alarms_open",
        """
        UPDATE alarms SET peer = substr(detail, 11, strpos(detail, ':') - 11)
         WHERE detail LIKE 'from peer %:%'
        """,
        """
        UPDATE alarms SET peer = substr(detail, 15, strpos(detail, ':') - 15)
         WHERE detail LIKE 'seen via peer %:%'
        """,
        """
        UPDATE alarms SET
            count = (
                SELECT sum(b.count) FROM alarms AS b
                 WHERE b.acknowledged_at IS NULL
                   AND b.kind = alarms.kind AND b.issuer = alarms.issuer AND b.peer = alarms.peer
            ),
            last_raised_at = (
                SELECT max(b.last_raised_at) FROM alarms AS b
                 WHERE b.acknowledged_at IS NULL
                   AND b.kind = alarms.kind AND b.issuer = alarms.issuer AND b.peer = alarms.peer
            ),
            detail = (
                SELECT b.detail FROM alarms AS b
                 WHERE b.acknowledged_at IS NULL
                   AND b.kind = alarms.kind AND b.issuer = alarms.issuer AND b.peer = alarms.peer
                 ORDER BY b.last_raised_at DESC, b.id DESC LIMIT 1
            )
         WHERE acknowledged_at IS NULL
           AND id = (
                SELECT min(b.id) FROM alarms AS b
                 WHERE b.acknowledged_at IS NULL
                   AND b.kind = alarms.kind AND b.issuer = alarms.issuer AND b.peer = alarms.peer
           )
        """,
        """
        DELETE FROM alarms
         WHERE acknowledged_at IS NULL
           AND id <> (
                SELECT min(b.id) FROM alarms AS b
                 WHERE b.acknowledged_at IS NULL
                   AND b.kind = alarms.kind AND b.issuer = alarms.issuer AND b.peer = alarms.peer
           )
        """,
        # at most one open alarm per (kind, issuer, peer): the dedup rule, kept by the schema
        """
        CREATE UNIQUE INDEX alarms_open_per_peer ON alarms (kind, issuer, peer)
            WHERE acknowledged_at IS NULL
        """,
    ),
    (
        # v5: every directory version accepted, so a restart resumes from the highest one
        # (issue 12: a rollback must survive no restart)
        """
        CREATE TABLE directory_versions (
            version     BIGINT      PRIMARY KEY,
            digest      TEXT        NOT NULL,
            document    BYTEA       NOT NULL,
            accepted_at TIMESTAMPTZ NOT NULL
        )
        """,
        # a partner's directory that conflicts with ours at one version: signed evidence
        """
        CREATE TABLE directory_conflicts (
            version  BIGINT NOT NULL,
            digest   TEXT    NOT NULL,
            peer     TEXT    NOT NULL,
            document BYTEA NOT NULL,
            seen_at  TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (version, digest)
        )
        """,
    ),
    (
        # v6: a receipt is bound to its request (issue 11): the SHA-256 of the canonical
        # request (empty for receipts stored before v6: not checkable, they expire), and an
        # index to purge expired receipts
        "ALTER TABLE receipts ADD COLUMN request_digest BYTEA NOT NULL DEFAULT ''::bytea",
        "CREATE INDEX receipts_created ON receipts (created_at)",
    ),
    (
        # v7: derived: name-index blocking key (screening.names) -> statement (issue #13).
        # Rebuilt from ``statements`` by rebuild_index, like party_index.
        """
        CREATE TABLE name_index (
            key    TEXT   NOT NULL,
            issuer TEXT   NOT NULL,
            seq    BIGINT NOT NULL,
            PRIMARY KEY (key, issuer, seq),
            FOREIGN KEY (issuer, seq) REFERENCES statements (issuer, seq)
        )
        """,
    ),
    (
        # v8: witnessing (issue 12 item 5): every cosignature kept, one per (issuer, seq,
        # witness, head), never deleted; id orders what a follower is sent
        """
        CREATE TABLE cosignatures (
            id           BIGINT      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            issuer       TEXT        NOT NULL,
            seq          BIGINT      NOT NULL,
            witness      TEXT        NOT NULL,
            head_digest  BYTEA       NOT NULL,
            witnessed_at TIMESTAMPTZ NOT NULL,
            wire         BYTEA       NOT NULL,
            UNIQUE (issuer, seq, witness, head_digest)
        )
        """,
        "CREATE INDEX cosignatures_witness ON cosignatures (issuer, witness, seq)",
    ),
    (
        # v9 (issues 13/14: the in-memory screening index). Derived: each indexed party's
        # matching form (screening.names.dump_form), so a replica builds its memory index
        # without decoding every body; rebuilt by rebuild_index like name_index …
        """
        CREATE TABLE name_forms (
            issuer TEXT   NOT NULL,
            seq    BIGINT NOT NULL,
            form   BYTEA  NOT NULL,
            keys   TEXT   NOT NULL,
            PRIMARY KEY (issuer, seq),
            FOREIGN KEY (issuer, seq) REFERENCES statements (issuer, seq)
        )
        """,
        # a schema that held statements: their keys from the index tables, forms empty (a
        # memory index decodes those bodies until `borderx store rebuild-index`)
        """
        INSERT INTO name_forms (issuer, seq, form, keys)
        SELECT k.issuer, k.seq, ''::bytea, json_build_array(
                   COALESCE((SELECT json_agg(n.key) FROM name_index AS n
                              WHERE n.issuer = k.issuer AND n.seq = k.seq), '[]'::json),
                   COALESCE((SELECT json_agg(json_build_array(p.scheme, p.value)) FROM party_index AS p
                              WHERE p.issuer = k.issuer AND p.seq = k.seq), '[]'::json))::text
          FROM (SELECT issuer, seq FROM name_index UNION SELECT issuer, seq FROM party_index) AS k
        """,
        # … the index change log: one row per statement whose index state a mutation
        # changed. Writers take the advisory lock "index_log" before their rows, so
        # generations are in commit order: every replica's memory index tails it …
        """
        CREATE TABLE index_log (
            generation BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            issuer     TEXT   NOT NULL,
            seq        BIGINT NOT NULL
        )
        """,
        # … and the epoch a rebuild moves
        """
        CREATE TABLE index_state (
            one   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
            epoch BIGINT  NOT NULL
        )
        """,
        "INSERT INTO index_state (epoch) VALUES (1)",
    ),
)

_SELECT_DIRECTORY_HEAD: Final = (
    "SELECT version, digest, document, accepted_at FROM directory_versions ORDER BY version DESC LIMIT 1"
)

#: The schema version this code writes and reads.
SCHEMA_VERSION: Final = len(MIGRATIONS)

#: The table holding the schema version (one row), created before the first migration.
_BOOTSTRAP: Final = """
    CREATE TABLE borderx_schema (
        one     BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        version INTEGER NOT NULL
    )
"""

#: A schema name we accept in the URL: an unquoted PostgreSQL identifier, lower case.
_SCHEMA_NAME: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_MAX_INT64: Final = MAX_INT64
#: Idle connections kept per pool; more are opened while more threads call at once.
_MAX_IDLE: Final = 4
#: Rows read per step while rebuilding the index (bounds memory during a rebuild).
_REBUILD_CHUNK: Final = 2_000
#: How often the LISTEN thread checks whether the store was closed (seconds).
_LISTEN_POLL_S: Final = 0.2
#: Longest wait between attempts to re-open a lost LISTEN connection (seconds).
_LISTEN_BACKOFF_MAX_S: Final = 5.0

# Columns of a StoredStatement: the statement, then the supersede/withdraw marks.
_SELECT_STORED: Final = """
    SELECT s.issuer, s.seq, s.wire, s.received_from, s.received_at, s.expires_at,
           (SELECT by_seq FROM marks
             WHERE issuer = s.issuer AND target_seq = s.seq AND kind = 'superseded'),
           (SELECT by_seq FROM marks
             WHERE issuer = s.issuer AND target_seq = s.seq AND kind = 'withdrawn'),
           s.violation, s.verified
"""
# a current statement has no mark and no violation (only conforming ones are indexed), so
# those columns are NULL without looking
_SELECT_CURRENT: Final = """
    SELECT s.issuer, s.seq, s.wire, s.received_from, s.received_at, s.expires_at, NULL, NULL, NULL, s.verified
"""
_NOT_MARKED: Final = """
    NOT EXISTS (SELECT 1 FROM marks AS m WHERE m.issuer = s.issuer AND m.target_seq = s.seq)
"""
_LOOKUP_CURRENT: Final = f"""
    {_SELECT_CURRENT}
      FROM party_index AS p JOIN statements AS s ON s.issuer = p.issuer AND s.seq = p.seq
     WHERE p.scheme = %s AND p.value = %s AND {_NOT_MARKED}
     ORDER BY p.issuer, p.seq
"""
_LOOKUP_ALL: Final = f"""
    {_SELECT_STORED}
      FROM party_index AS p JOIN statements AS s ON s.issuer = p.issuer AND s.seq = p.seq
     WHERE p.scheme = %s AND p.value = %s
     ORDER BY p.issuer, p.seq
"""
# every requested id in one query (one snapshot): the ids arrive as two parallel arrays.
# (S608: the f-string joins constants of this module; values are always bound parameters.)
_LOOKUP_MANY: Final = f"""
    SELECT q.scheme, q.value, s.issuer, s.seq, s.wire, s.received_from, s.received_at, s.expires_at, s.verified
      FROM unnest(%s::text[], %s::text[]) AS q (scheme, value)
      JOIN party_index AS p ON p.scheme = q.scheme AND p.value = q.value
      JOIN statements AS s ON s.issuer = p.issuer AND s.seq = p.seq
     WHERE {_NOT_MARKED}
     ORDER BY q.scheme, q.value, p.issuer, p.seq
"""  # noqa: S608
# every requested name key in one query (one snapshot)
_LOOKUP_NAMES: Final = f"""
    SELECT q.key, s.issuer, s.seq, s.wire, s.received_from, s.received_at, s.expires_at, s.verified
      FROM unnest(%s::text[]) AS q (key)
      JOIN name_index AS n ON n.key = q.key
      JOIN statements AS s ON s.issuer = n.issuer AND s.seq = n.seq
     WHERE {_NOT_MARKED}
     ORDER BY q.key, n.issuer, n.seq
"""  # noqa: S608
# a batch's name rows as three parallel arrays: one statement, however many keys
_INSERT_NAMES: Final = """
    INSERT INTO name_index (key, issuer, seq)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[]) ON CONFLICT DO NOTHING
"""
_GET: Final = f"{_SELECT_STORED} FROM statements AS s WHERE s.issuer = %s AND s.seq = %s"
_INSERT_FORMS: Final = """
    INSERT INTO name_forms (issuer, seq, form, keys)
    SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bytea[], %s::text[])
    ON CONFLICT (issuer, seq) DO UPDATE SET form = excluded.form, keys = excluded.keys
"""
_INSERT_LOG: Final = """
    INSERT INTO index_log (issuer, seq) SELECT * FROM unnest(%s::text[], %s::bigint[])
"""
_LIVE: Final = f"(s.violation IS NULL AND {_NOT_MARKED})"
_INDEX_ENTRIES: Final = f"""
    SELECT s.issuer, s.seq, {_LIVE}, f.form, f.keys
      FROM unnest(%s::text[], %s::bigint[]) AS q (issuer, seq)
      JOIN statements AS s ON s.issuer = q.issuer AND s.seq = q.seq
      LEFT JOIN name_forms AS f ON f.issuer = s.issuer AND f.seq = s.seq
"""  # noqa: S608
_INDEX_FORMS: Final = f"""
    SELECT s.issuer, s.seq, {_LIVE}, f.form, f.keys
      FROM name_forms AS f JOIN statements AS s ON s.issuer = f.issuer AND s.seq = f.seq
     WHERE (f.issuer, f.seq) > (%s, %s) ORDER BY f.issuer, f.seq LIMIT %s
"""  # noqa: S608
_GET_MANY: Final = f"""
    {_SELECT_STORED}
      FROM unnest(%s::text[], %s::bigint[]) AS q (issuer, seq)
      JOIN statements AS s ON s.issuer = q.issuer AND s.seq = q.seq
"""
_READ_RANGE: Final = (
    f"{_SELECT_STORED} FROM statements AS s WHERE s.issuer = %s AND s.seq > %s ORDER BY s.seq LIMIT %s"
)
_HEAD_FOR_UPDATE: Final = "SELECT seq, digest FROM heads WHERE issuer = %s FOR UPDATE"
_INSERT_STATEMENT: Final = """
    INSERT INTO statements
        (issuer, seq, digest, body_type, received_from, received_at, expires_at, wire, violation, verified)
    VALUES (%s, %s, %s, %s, %s, now(), %s, %s, %s, %s)
"""
_UPSERT_MEMBERSHIP: Final = """
    INSERT INTO memberships (issuer, programme, member_id, seq, status) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (issuer, programme, member_id) DO UPDATE SET seq = excluded.seq, status = excluded.status
"""
_INSERT_INDEX: Final = """
    INSERT INTO party_index (scheme, value, issuer, seq) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
# the first mark wins: a later statement cannot re-point an earlier supersede or withdrawal
_INSERT_MARK: Final = """
    INSERT INTO marks (issuer, target_seq, kind, by_seq) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
_CHECKPOINTS_BETWEEN: Final = """
    SELECT wire FROM checkpoint_history WHERE issuer = %s AND seq > %s AND seq <= %s ORDER BY seq
"""
_CHECKPOINT_AT_OR_BEFORE: Final = """
    SELECT wire FROM checkpoint_history WHERE issuer = %s AND seq <= %s ORDER BY seq DESC LIMIT 1
"""
_SELECT_ALARM: Final = (
    "SELECT id, kind, issuer, detail, raised_at, last_raised_at, count, acknowledged_at, peer FROM alarms"
)
_COUNT_ALARMS: Final = "SELECT count(*) FROM alarms"
_COUNT_OPEN_ALARMS: Final = "SELECT count(*) FROM alarms WHERE acknowledged_at IS NULL"
_ADVISORY_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtext(%s), hashtext(%s))"


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


def _opt_utc(when: datetime | None) -> datetime | None:
    return None if when is None else when.astimezone(UTC)


def parse_url(url: str) -> tuple[dict[str, str], str | None]:
    """libpq connection parameters and the ``schema`` of a ``postgresql://`` store URL.

    Raises ConfigError (naming the URL without its password) for a malformed URL or schema.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"store {redact_url(url)}: not a postgresql:// URL")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for name, value in query if name == "schema"]
    if len(schemas) > 1:
        raise ConfigError(f"store {redact_url(url)}: give the schema parameter once")
    schema = schemas[0] if schemas else None
    # the name is put into SQL and into libpq's options string: only a plain identifier
    # can go there without quoting rules an operator would have to get right
    if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
        raise ConfigError(
            f"store {redact_url(url)}: schema {schema!r} must be a lower-case identifier "
            "([a-z_][a-z0-9_]*, at most 63 characters)"
        )
    rest = urlencode([(n, v) for n, v in query if n != "schema"], quote_via=quote)
    try:
        params: dict[str, str] = {
            k: str(v)
            for k, v in conninfo_to_dict(parts._replace(scheme="postgresql", query=rest).geturl()).items()
        }
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"store {redact_url(url)}: {exc}") from None
    # UTC for every session, so timestamps read back are UTC; our schema first
    options = [params.get("options", ""), "-c TimeZone=UTC"]
    if schema is not None:
        options.append(f"-c search_path={schema}")
    params["options"] = " ".join(o for o in options if o)
    params.setdefault("application_name", "borderx")
    return params, schema


class _Pool:
    """Open connections for reuse; each serves one thread at a time.

    Not bounded on purpose: a thread holding one connection may need a second (the
    equivocation evidence is committed while the batch holds its locks; a publisher holds
    its lock connection while appending), and a bounded pool could deadlock there. The
    number open is the number of threads calling at once; at most ``max_idle`` are kept.
    """

    def __init__(self, connect: Callable[[], Connection], *, max_idle: int, where: str) -> None:
        self._connect = connect
        self._max_idle = max_idle
        self._where = where
        self._lock = threading.Lock()
        self._idle: list[Connection] = []
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"store {self._where} is closed")
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = self._connect()
        try:
            yield conn
        finally:
            # a connection that broke, or was left inside a transaction, is in an unknown
            # state: it is closed rather than handed to the next caller
            reusable = not conn.broken and conn.info.transaction_status == TransactionStatus.IDLE
            with self._lock:
                keep = reusable and not self._closed and len(self._idle) < self._max_idle
                if keep:
                    self._idle.append(conn)
            if not keep:
                conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Reader:
    """The plan's view of the chain, read inside the append's transaction (heads already locked)."""

    def __init__(self, conn: Connection, heads: dict[str, ChainHead | None]) -> None:
        self._conn, self._heads = conn, heads

    def head(self, issuer: str) -> ChainHead | None:
        return self._heads[issuer]

    def held_digest(self, issuer: str, seq: int) -> bytes | None:
        row = self._conn.execute(
            "SELECT digest FROM statements WHERE issuer = %s AND seq = %s", (issuer, seq)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def held_wire(self, issuer: str, seq: int) -> bytes:
        row = self._conn.execute(
            "SELECT wire FROM statements WHERE issuer = %s AND seq = %s", (issuer, seq)
        ).fetchone()
        if row is None:  # pragma: no cover - check_extends found a digest at this seq
            raise RuntimeError(f"{issuer} seq {seq}: held statement missing")
        return bytes(row[0])

    def suspension(self, issuer: str) -> tuple[str, datetime] | None:
        # read after the head lock: a suspension committed by the batch that held the lock
        # before us is seen here
        row = self._conn.execute(
            "SELECT reason, since FROM suspended_issuers WHERE issuer = %s", (issuer,)
        ).fetchone()
        return None if row is None else (row[0], _utc(row[1]))


def _entry(issuer: str, seq: int, live: bool, form: bytes | None, keys: str | None) -> IndexEntry:
    names, ids = decode_keys(keys) if keys else ((), ())
    return IndexEntry(issuer, int(seq), bool(live), bytes(form or b""), names, ids)


def _columns(rows: Sequence[tuple[Any, ...]]) -> tuple[list[Any], ...]:
    """Rows as parallel arrays (for ``unnest``)."""
    width = len(rows[0]) if rows else 0
    return tuple([row[i] for row in rows] for i in range(width))


def _name_columns(rows: list[tuple[str, str, int]]) -> tuple[list[str], list[str], list[int]]:
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def _name_rows(env: Envelope, effects: IndexEffects) -> list[tuple[str, str, int]]:
    return [(key, env.issuer, env.seq) for key in dict.fromkeys(effects.names)]


class PostgresStore(Store):
    """A :class:`Store` in one PostgreSQL schema, shareable by replicas. See the module docstring."""

    #: The channel ``append`` notifies, payload ``"<issuer>:<seq>"`` (last accepted per issuer).
    notify_channel: Final = "borderx_statements"

    def __init__(self, url: str) -> None:
        """Connect to the database named by ``url``, create the schema if absent, and migrate.

        Raises ConfigError when the server cannot be reached, the schema holds tables of
        another program, or it is newer than this code. Messages never include a password.
        """
        self._location = redact_url(url)
        self._params, schema = parse_url(url)
        self._conninfo = make_conninfo("", **self._params)
        self._closed = False
        self._state_lock = threading.Lock()
        self._pool = _Pool(self._connect, max_idle=_MAX_IDLE, where=self._location)
        # publish_lock holds one of these per publisher for the length of its block
        self._lock_pool = _Pool(self._connect, max_idle=1, where=self._location)
        self._leaders: dict[str, Connection] = {}
        self._leader_lock = threading.Lock()
        # wait_for_change: a LISTEN thread bumps the generation; waiters compare with theirs
        self._changed = threading.Condition()
        self._generation = 0
        self._seen = threading.local()
        self._listener: threading.Thread | None = None
        self._stopping = threading.Event()
        try:
            with self._pool.connection() as conn:
                self._namespace = schema or self._current_schema(conn)
            self.migrate()
        except BaseException:
            self._pool.close()
            raise

    # ------------------------------------------------------------ connections

    def _connect(self) -> Connection:
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True)
        except psycopg.Error as exc:
            raise ConfigError(
                f"store {self._location}: cannot connect to PostgreSQL ({self._clean(exc)})"
            ) from None
        try:
            # a commit acknowledged before it is flushed could be lost on a crash, which the
            # durability MUST forbids; "on" and stronger settings (remote_apply …) are kept
            row = conn.execute("SELECT current_setting('synchronous_commit')").fetchone()
            if row is not None and row[0] == "off":
                conn.execute("SET synchronous_commit = on")
        except BaseException:
            conn.close()
            raise
        return conn

    def _clean(self, exc: BaseException) -> str:
        """An error's message with the URL's password, if any, masked (libpq never echoes it)."""
        message = str(exc).strip()
        password = self._params.get("password")
        return message.replace(password, "***") if password else message

    def _current_schema(self, conn: Connection) -> str:
        row = conn.execute("SELECT current_schema()").fetchone()
        # with no existing schema on the search_path, CREATE TABLE has nowhere to go
        if row is None or row[0] is None:
            raise ConfigError(
                f"store {self._location}: the connection's search_path names no existing schema; "
                "add ?schema=NAME to the URL (it is created if absent)"
            )
        return str(row[0])

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"store {self._location} is closed")

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A pooled connection inside one transaction: committed on success, else rolled back."""
        self._check_open()
        with self._pool.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A pooled connection in autocommit: each statement reads one committed state."""
        self._check_open()
        with self._pool.connection() as conn:
            yield conn

    def _advisory_lock(self, conn: Connection, what: str) -> None:
        """A transaction-level advisory lock on ``what``, scoped to this store's schema."""
        conn.execute(_ADVISORY_LOCK, (f"borderx/{self._namespace}", what))

    # ------------------------------------------------------------ decoding

    @staticmethod
    def _stored(row: Sequence[Any]) -> StoredStatement:
        """A StoredStatement from a ``_SELECT_STORED`` row."""
        (
            issuer,
            _,
            wire,
            received_from,
            received_at,
            expires_at,
            superseded_by,
            withdrawn_by,
            violation,
            verified,
        ) = row
        return StoredStatement(
            envelope=envelope_from_wire(wire),
            wire=bytes(wire),
            received_from=received_from,
            received_at=_utc(received_at),
            superseded_by=None if superseded_by is None else (issuer, superseded_by),
            withdrawn_by=None if withdrawn_by is None else (issuer, withdrawn_by),
            expires_at=_opt_utc(expires_at),
            violation=violation,
            verified=bool(verified),
        )

    # ------------------------------------------------------------ statements

    def append(
        self,
        entries: Sequence[NewStatement],
        *,
        idempotency: tuple[str, str] | Idempotency | None = None,
        checkpoint: SignedCheckpoint | None = None,
    ) -> list[AppendResult]:
        claim = as_idempotency(idempotency)
        entries = list(entries)
        # CPU work before taking any lock: serialisation
        wires = [envelope_to_wire(entry.envelope) for entry in entries]
        with self._transaction() as conn:
            if claim is not None:
                replay = self._claim_receipt(conn, claim)
                if replay is not None:
                    return replay
            # heads in issuer order: two batches naming the same issuers lock them in the
            # same order, so they queue instead of deadlocking
            heads = {
                issuer: self._lock_head(conn, issuer)
                for issuer in sorted({e.envelope.issuer for e in entries})
            }
            try:
                plan = plan_append(entries, wires, _Reader(conn, heads))
            except EquivocationFound as found:
                # committed while this batch still holds the issuer's head lock: no replica
                # can append for the equivocating issuer before it is suspended
                self._record_equivocation(found)
                raise found.error from None
            self._write_plan(conn, plan)
            if checkpoint is not None:
                self._write_checkpoint(conn, checkpoint)
            if claim is not None:
                refs = json.dumps([[r.issuer, r.seq] for r in plan.results])
                conn.execute(
                    "UPDATE receipts SET refs = %s WHERE principal = %s AND key = %s",
                    (refs, claim.principal, claim.key),
                )
        return plan.results

    def _write_plan(self, conn: Connection, plan: AppendPlan) -> None:
        """Execute an append plan inside the caller's transaction, in one pipeline."""
        if not plan.statements:
            return
        statement_rows = [
            (
                entry.envelope.issuer,
                entry.envelope.seq,
                entry.envelope.digest,
                entry.envelope.header.body_type,
                entry.received_from,
                entry.index.expires_at,
                wire,
                entry.index.violation or None,
                entry.verified,
            )
            for entry, wire in plan.statements
        ]
        # one pipeline: every write of the batch in one network round trip
        with conn.pipeline(), conn.cursor() as cur:
            cur.executemany(_INSERT_STATEMENT, statement_rows)
            if plan.ids:
                cur.executemany(_INSERT_INDEX, plan.ids)
            names = [row for entry, _ in plan.statements for row in _name_rows(entry.envelope, entry.index)]
            if names:
                cur.execute(_INSERT_NAMES, _name_columns(names))
            if plan.marks:
                cur.executemany(_INSERT_MARK, plan.marks)
            if plan.memberships:
                cur.executemany(_UPSERT_MEMBERSHIP, plan.memberships)
            cur.executemany(
                "UPDATE heads SET seq = %s, digest = %s WHERE issuer = %s",
                [(h.seq, h.digest, h.issuer) for h in plan.heads.values()],
            )
            # delivered to every LISTENing replica when (and only if) this commits
            cur.executemany(
                "SELECT pg_notify(%s, %s)",
                [(self.notify_channel, f"{h.issuer}:{h.seq}") for h in plan.heads.values()],
            )
            if plan.forms:
                cur.execute(_INSERT_FORMS, _columns(plan.forms))
            if plan.touched:
                self._log_touched(cur, plan.touched)

    def _log_touched(self, cur: Any, touched: Sequence[StatementKey]) -> None:
        """Index change log rows, last in the transaction: the lock orders generations by commit.

        Held until commit, the advisory lock makes a generation visible only after every
        smaller one is, so a replica that applied up to generation g never misses one.
        """
        cur.execute(_ADVISORY_LOCK, (f"borderx/{self._namespace}", "index_log"))
        cur.execute(_INSERT_LOG, _columns(touched))

    def _claim_receipt(self, conn: Connection, claim: Idempotency) -> list[AppendResult] | None:
        """Claim (key, principal) for this batch, or return the receipt of the batch that has it.

        The INSERT waits for a concurrent batch holding the same key: when that one commits,
        this one replays its receipt; when it rolls back, this one takes the key. So two
        racing retries never both store (the primary key decides, not a prior read). A
        receipt created before ``claim.not_before`` has expired: it is deleted first, and
        the key is free again.
        """
        principal, key = claim.principal, claim.key
        if claim.not_before is not None:
            conn.execute("DELETE FROM receipts WHERE created_at < %s", (claim.not_before,))
        claimed = conn.execute(
            """
            INSERT INTO receipts (principal, key, refs, created_at, request_digest)
            VALUES (%s, %s, '[]', now(), %s)
            ON CONFLICT (principal, key) DO NOTHING RETURNING 1
            """,
            (principal, key, claim.request_digest),
        ).fetchone()
        if claimed is not None:
            return None
        row = conn.execute(
            "SELECT refs, request_digest FROM receipts WHERE principal = %s AND key = %s", (principal, key)
        ).fetchone()
        if row is None:  # pragma: no cover - only expired receipts are deleted, and not this one
            raise RuntimeError(f"receipt {key[:40]!r} of {principal} vanished while replaying it")
        check_receipt_digest(claim, bytes(row[1]))
        results = []
        for issuer, seq in json.loads(row[0]):
            found = conn.execute(
                "SELECT digest FROM statements WHERE issuer = %s AND seq = %s", (issuer, seq)
            ).fetchone()
            results.append(AppendResult(issuer, seq, bytes(found[0]) if found else b"", duplicate=True))
        return results

    def _lock_head(self, conn: Connection, issuer: str) -> ChainHead | None:
        """Lock ``issuer``'s head row for this transaction and return the head (None: nothing held).

        Without the lock, two replicas could both accept a statement at the same seq (or
        both think a seq is missing). A first statement has no row to lock yet, so a seq-0
        placeholder is inserted: a concurrent first appender waits on its key until this
        transaction ends, then finds the committed head.
        """
        row = conn.execute(_HEAD_FOR_UPDATE, (issuer,)).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO heads (issuer, seq, digest) VALUES (%s, 0, %s) ON CONFLICT (issuer) DO NOTHING",
                (issuer, GENESIS_DIGEST),
            )
            row = conn.execute(_HEAD_FOR_UPDATE, (issuer,)).fetchone()
        if row is None:  # pragma: no cover - the row was just inserted or found
            raise RuntimeError(f"{issuer}: chain head row missing after insert")
        seq, digest = row
        return None if seq == 0 else ChainHead(issuer, int(seq), bytes(digest))

    def _record_equivocation(self, found: EquivocationFound) -> None:
        """Keep both headers (redacted) and suspend the issuer, in a transaction on a second connection.

        The batch that revealed the equivocation is rolled back, but the evidence must
        survive it: it is signed proof of a fault or a stolen key.
        """
        err = found.error
        held, conflicting = redacted_wire(found.held_wire), redacted_wire(found.conflicting_wire)
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(
                    """
                    INSERT INTO equivocations (issuer, seq, held_digest, conflicting_digest,
                        held_wire, conflicting_wire, detected_at, reported_by)
                    VALUES (%s, %s, %s, %s, %s, %s, now(), %s)
                    ON CONFLICT (issuer, seq, held_digest, conflicting_digest) DO NOTHING
                    """,
                    (
                        err.issuer,
                        err.seq,
                        err.held_digest,
                        err.got_digest,
                        held,
                        conflicting,
                        found.reported_by,
                    ),
                )
                conn.execute(
                    """
                    INSERT INTO suspended_issuers (issuer, reason, since) VALUES (%s, %s, now())
                    ON CONFLICT (issuer) DO NOTHING
                    """,
                    (err.issuer, f"equivocation at seq {err.seq}"),
                )
        except (psycopg.Error, BorderxError, RuntimeError) as exc:
            err.add_note(f"the equivocation evidence could not be recorded: {self._clean(exc)}")

    def heads(self) -> dict[str, ChainHead]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT issuer, seq, digest FROM heads WHERE seq > 0 ORDER BY issuer"
            ).fetchall()
        return {issuer: ChainHead(issuer, int(seq), bytes(digest)) for issuer, seq, digest in rows}

    def head(self, issuer: str) -> ChainHead | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT seq, digest FROM heads WHERE issuer = %s AND seq > 0", (issuer,)
            ).fetchone()
        return None if row is None else ChainHead(issuer, int(row[0]), bytes(row[1]))

    def get(self, issuer: str, seq: int) -> StoredStatement | None:
        if not 1 <= seq <= _MAX_INT64:
            return None
        with self._reading() as conn:
            row = conn.execute(_GET, (issuer, seq)).fetchone()
        return None if row is None else self._stored(row)

    def read_range(self, issuer: str, after_seq: int, limit: int) -> list[StoredStatement]:
        if limit <= 0 or after_seq >= _MAX_INT64:
            return []
        with self._reading() as conn:
            rows = conn.execute(_READ_RANGE, (issuer, max(after_seq, 0), min(limit, _MAX_INT64))).fetchall()
        return [self._stored(row) for row in rows]

    def count(self) -> int:
        # chains are gap-free from seq 1, so the heads' seqs sum to the number of statements
        with self._reading() as conn:
            row = conn.execute("SELECT COALESCE(SUM(seq), 0) FROM heads").fetchone()
        return 0 if row is None else int(row[0])

    def count_by_issuer(self) -> dict[str, int]:
        with self._reading() as conn:
            rows = conn.execute("SELECT issuer, seq FROM heads WHERE seq > 0 ORDER BY issuer").fetchall()
        return {issuer: int(seq) for issuer, seq in rows}

    # ------------------------------------------------------------ screening index

    def lookup(self, scheme: str, value: str, *, include_history: bool = False) -> list[StoredStatement]:
        query = _LOOKUP_ALL if include_history else _LOOKUP_CURRENT
        with self._reading() as conn:
            rows = conn.execute(query, (scheme, value)).fetchall()
        return [self._stored(row) for row in rows]

    def lookup_many(self, ids: Sequence[PartyKey]) -> dict[PartyKey, list[StoredStatement]]:
        out: dict[PartyKey, list[StoredStatement]] = {party: [] for party in ids}
        if not out:
            return out
        with self._reading() as conn:
            rows = conn.execute(
                _LOOKUP_MANY, ([scheme for scheme, _ in out], [value for _, value in out])
            ).fetchall()
        for scheme, value, *stored in rows:
            *fields, verified = stored
            out[(scheme, value)].append(self._stored((*fields, None, None, None, verified)))
        return out

    def lookup_names(
        self, keys: Sequence[str], *, max_postings: int | None = None
    ) -> dict[str, list[StoredStatement]]:
        out: dict[str, list[StoredStatement]] = {key: [] for key in keys}
        if not out:
            return out
        wanted = list(out)
        with self._reading() as conn:
            if max_postings is not None:
                common = conn.execute(
                    "SELECT key FROM name_index WHERE key = ANY(%s) GROUP BY key HAVING count(*) > %s",
                    (wanted, max_postings),
                ).fetchall()
                skip = {row[0] for row in common}
                wanted = [k for k in wanted if k not in skip]
            rows = conn.execute(_LOOKUP_NAMES, (wanted,)).fetchall() if wanted else []
        for key, *stored in rows:
            *fields, verified = stored
            out[key].append(self._stored((*fields, None, None, None, verified)))
        return out

    def rebuild_index(self, indexer: Callable[[StoredStatement], IndexEffects]) -> int:
        indexed = 0
        with self._transaction() as conn:
            # no statement may be added while the index is recomputed: its index rows would
            # be dropped here or computed twice. SHARE blocks inserts, not reads.
            conn.execute("LOCK TABLE statements IN SHARE MODE")
            # after SHARE (as every writer orders them): no log writer is between its rows and commit
            self._advisory_lock(conn, "index_log")
            conn.execute("DELETE FROM party_index")
            conn.execute("DELETE FROM name_index")
            conn.execute("DELETE FROM name_forms")
            # every replica's memory index sees a new epoch and rebuilds; the log starts again
            conn.execute("DELETE FROM index_log")
            conn.execute("UPDATE index_state SET epoch = epoch + 1")
            conn.execute("DELETE FROM marks")
            conn.execute("DELETE FROM memberships")
            conn.execute(
                "UPDATE statements SET expires_at = NULL, violation = NULL "
                "WHERE expires_at IS NOT NULL OR violation IS NOT NULL"
            )
            last: tuple[str, int] = ("", 0)
            while True:
                # chunks in (issuer, seq) order, fetched whole so that no cursor is open on
                # ``statements`` while it is updated
                rows = conn.execute(
                    """
                    SELECT issuer, seq, wire, received_from, received_at FROM statements
                     WHERE (issuer, seq) > (%s, %s) ORDER BY issuer, seq LIMIT %s
                    """,
                    (*last, _REBUILD_CHUNK),
                ).fetchall()
                if not rows:
                    break
                plan = AppendPlan()
                name_rows: list[tuple[str, str, int]] = []
                form_rows: list[tuple[str, int, bytes, str]] = []
                updates: list[tuple[datetime | None, str | None, str, int]] = []
                for issuer, seq, wire, received_from, received_at in rows:
                    env = envelope_from_wire(wire)
                    effects = indexer(StoredStatement(env, bytes(wire), received_from, _utc(received_at)))
                    check_index_effects(env, effects)
                    ids, marks, members = index_rows(env, NewStatement(env, received_from, effects))
                    plan.ids.extend(ids)
                    plan.marks.extend(marks)
                    plan.memberships.extend(members)
                    name_rows.extend(_name_rows(env, effects))
                    if is_indexed(effects):
                        form_rows.append((issuer, seq, effects.form, encode_keys(effects)))
                    if effects.expires_at is not None or effects.violation:
                        updates.append((effects.expires_at, effects.violation or None, issuer, seq))
                last = (rows[-1][0], int(rows[-1][1]))
                indexed += len(rows)
                with conn.cursor() as cur:
                    if plan.ids:
                        cur.executemany(_INSERT_INDEX, plan.ids)
                    if name_rows:
                        cur.execute(_INSERT_NAMES, _name_columns(name_rows))
                    if form_rows:
                        cur.execute(_INSERT_FORMS, _columns(form_rows))
                    if plan.marks:
                        cur.executemany(_INSERT_MARK, plan.marks)
                    if plan.memberships:
                        cur.executemany(_UPSERT_MEMBERSHIP, plan.memberships)
                    if updates:
                        cur.executemany(
                            "UPDATE statements SET expires_at = %s, violation = %s WHERE issuer = %s AND seq = %s",
                            updates,
                        )
        return indexed

    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT seq, status FROM memberships WHERE issuer = %s AND programme = %s AND member_id = %s",
                (issuer, programme, member_id),
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def memberships(
        self, issuer: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, str]]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT m.programme, m.member_id, m.seq, m.status FROM memberships AS m "
                "JOIN unnest(%s::text[], %s::text[]) AS k (programme, member_id) "
                "ON m.programme = k.programme AND m.member_id = k.member_id WHERE m.issuer = %s",
                ([p for p, _ in wanted], [m for _, m in wanted], issuer),
            ).fetchall()
        return {(str(p), str(m)): (int(q), str(st)) for p, m, q, st in rows}

    def violations(self, *, limit: int = 1000) -> list[StoredStatement]:
        with self._reading() as conn:
            rows = conn.execute(
                f"{_SELECT_STORED} FROM statements AS s WHERE s.violation IS NOT NULL "
                "ORDER BY s.received_at, s.issuer, s.seq LIMIT %s",
                (max(limit, 0),),
            ).fetchall()
        return [self._stored(row) for row in rows]

    # ------------------------------------------------------------ deferred signature checks

    def unverified(self, *, limit: int = 4096) -> list[PendingCheck]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT issuer, seq, wire FROM statements WHERE NOT verified AND violation IS NULL "
                "ORDER BY issuer, seq LIMIT %s",
                (max(limit, 0),),
            ).fetchall()
        return [
            PendingCheck((issuer, int(seq)), *signed_parts_from_wire(bytes(wire)))
            for issuer, seq, wire in rows
        ]

    def mark_verified(self, keys: Sequence[StatementKey]) -> None:
        with self._transaction() as conn, conn.cursor() as cur:
            cur.executemany(
                "UPDATE statements SET verified = TRUE WHERE issuer = %s AND seq = %s", list(keys)
            )

    def verified_heads(self) -> dict[str, int]:
        with self._reading() as conn:
            rows = conn.execute(
                """
                SELECT h.issuer, COALESCE(
                    (SELECT MIN(s.seq) - 1 FROM statements AS s WHERE s.issuer = h.issuer AND NOT s.verified),
                    h.seq)
                  FROM heads AS h WHERE h.seq > 0
                """
            ).fetchall()
        return {issuer: int(seq) for issuer, seq in rows}

    def refuse_unverified(self, key: StatementKey, violation: str) -> None:
        issuer, seq = key
        with self._transaction() as conn:
            found = conn.execute(
                "UPDATE statements SET violation = %s WHERE issuer = %s AND seq = %s RETURNING 1",
                (violation, issuer, seq),
            ).fetchone()
            if found is None:
                raise NotFound(f"{issuer} seq {seq} is not held")
            retired = conn.execute(
                "SELECT target_seq FROM marks WHERE issuer = %s AND by_seq = %s", key
            ).fetchall()
            conn.execute("DELETE FROM party_index WHERE issuer = %s AND seq = %s", key)
            conn.execute("DELETE FROM name_index WHERE issuer = %s AND seq = %s", key)
            conn.execute("DELETE FROM name_forms WHERE issuer = %s AND seq = %s", key)
            conn.execute("DELETE FROM marks WHERE issuer = %s AND by_seq = %s", key)
            conn.execute("DELETE FROM memberships WHERE issuer = %s AND seq = %s", key)
            conn.execute(
                """
                INSERT INTO suspended_issuers (issuer, reason, since) VALUES (%s, %s, now())
                ON CONFLICT (issuer) DO NOTHING
                """,
                (issuer, f"bad signature at seq {seq} under its own checkpoint"),
            )
            # the refused statement leaves every memory index; what it retired counts again
            with conn.cursor() as cur:
                self._log_touched(cur, [key, *((issuer, int(r[0])) for r in retired)])

    # ------------------------------------------------------------ the index change log

    def index_state(self) -> IndexState:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT epoch, (SELECT COALESCE(MAX(generation), 0) FROM index_log) FROM index_state"
            ).fetchone()
        if row is None:  # pragma: no cover - the migration inserts the one row
            raise RuntimeError("index_state has no row")
        return IndexState(epoch=int(row[0]), generation=int(row[1]))

    def index_changes(self, after: int, *, limit: int = 50_000) -> IndexChanges:
        with self._pool.connection() as conn, conn.transaction():
            # one snapshot for the epoch and the rows
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            row = conn.execute("SELECT epoch FROM index_state").fetchone()
            rows = conn.execute(
                "SELECT generation, issuer, seq FROM index_log WHERE generation > %s ORDER BY generation LIMIT %s",
                (after, max(limit, 1)),
            ).fetchall()
        epoch = int(row[0]) if row is not None else 0
        generation = int(rows[-1][0]) if rows else after
        return IndexChanges(epoch, generation, tuple((issuer, int(seq)) for _, issuer, seq in rows))

    def index_entries(self, keys: Sequence[StatementKey]) -> list[IndexEntry]:
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return []
        with self._reading() as conn:
            rows = conn.execute(_INDEX_ENTRIES, _columns(wanted)).fetchall()
        return [_entry(*row) for row in rows]

    def index_forms(self, *, chunk: int = 20_000) -> Iterator[list[IndexEntry]]:
        last: tuple[str, int] = ("", 0)
        while True:
            with self._reading() as conn:
                rows = conn.execute(_INDEX_FORMS, (*last, max(chunk, 1))).fetchall()
            if not rows:
                return
            last = (rows[-1][0], int(rows[-1][1]))
            yield [_entry(*row) for row in rows]

    def get_many(self, keys: Sequence[StatementKey]) -> dict[StatementKey, StoredStatement]:
        wanted = [k for k in dict.fromkeys(keys) if 1 <= k[1] <= _MAX_INT64]
        if not wanted:
            return {}
        with self._reading() as conn:
            rows = conn.execute(_GET_MANY, _columns(wanted)).fetchall()
        out = {}
        for row in rows:
            stored = self._stored(row)
            out[stored.key] = stored
        return out

    # ------------------------------------------------------------ checkpoints

    def put_checkpoint(self, checkpoint: SignedCheckpoint) -> bool:
        with self._transaction() as conn:
            return self._write_checkpoint(conn, checkpoint)

    def _write_checkpoint(self, conn: Connection, checkpoint: SignedCheckpoint) -> bool:
        """``put_checkpoint`` inside the caller's transaction (it may have appended the statements)."""
        cp = checkpoint.checkpoint
        wire = signed_checkpoint_to_wire(checkpoint)
        seq = clamp_seq(cp.seq)
        # replicas storing checkpoints of one issuer at once take turns, so the checks
        # below and the writes see the same history (the rows may not exist yet)
        self._advisory_lock(conn, f"checkpoint/{cp.issuer}")
        statement = conn.execute(
            "SELECT digest FROM statements WHERE issuer = %s AND seq = %s", (cp.issuer, seq)
        ).fetchone()
        history = conn.execute(
            "SELECT head_digest, time FROM checkpoint_history WHERE issuer = %s AND seq = %s",
            (cp.issuer, seq),
        ).fetchone()
        latest = conn.execute("SELECT seq, time FROM checkpoints WHERE issuer = %s", (cp.issuer,)).fetchone()
        plan = plan_checkpoint(
            checkpoint,
            held_statement_digest=None if statement is None else bytes(statement[0]),
            history=None if history is None else (bytes(history[0]), _utc(history[1])),
            latest=None if latest is None else (int(latest[0]), _utc(latest[1])),
        )
        if plan.insert_history:
            conn.execute(
                """
                INSERT INTO checkpoint_history (issuer, seq, head_digest, time, wire)
                VALUES (%s, %s, %s, %s, %s)
                """,
                (cp.issuer, cp.seq, cp.head_digest, cp.time, wire),
            )
        elif plan.refresh_history:
            conn.execute(
                "UPDATE checkpoint_history SET time = %s, wire = %s WHERE issuer = %s AND seq = %s",
                (cp.time, wire, cp.issuer, cp.seq),
            )
        if not plan.set_latest:
            return False
        conn.execute(
            """
            INSERT INTO checkpoints (issuer, seq, head_digest, time, wire) VALUES (%s, %s, %s, %s, %s)
            ON CONFLICT (issuer) DO UPDATE SET seq = excluded.seq, head_digest = excluded.head_digest,
                time = excluded.time, wire = excluded.wire
            """,
            (cp.issuer, cp.seq, cp.head_digest, cp.time, wire),
        )
        return True

    def checkpoint(self, issuer: str) -> SignedCheckpoint | None:
        with self._reading() as conn:
            row = conn.execute("SELECT wire FROM checkpoints WHERE issuer = %s", (issuer,)).fetchone()
        return None if row is None else signed_checkpoint_from_wire(bytes(row[0]))

    def checkpoints(self) -> dict[str, SignedCheckpoint]:
        with self._reading() as conn:
            rows = conn.execute("SELECT issuer, wire FROM checkpoints ORDER BY issuer").fetchall()
        return {issuer: signed_checkpoint_from_wire(bytes(wire)) for issuer, wire in rows}

    def checkpoints_between(self, issuer: str, after_seq: int, upto_seq: int) -> list[SignedCheckpoint]:
        if after_seq >= upto_seq:
            return []
        # seqs are stored as BIGINT; a wider bound only means "all of them"
        after_seq, upto_seq = clamp_seq(after_seq), clamp_seq(upto_seq)
        with self._reading() as conn:
            rows = conn.execute(_CHECKPOINTS_BETWEEN, (issuer, after_seq, upto_seq)).fetchall()
        return [signed_checkpoint_from_wire(bytes(row[0])) for row in rows]

    def checkpoint_at_or_before(self, issuer: str, seq: int) -> SignedCheckpoint | None:
        if seq < 0:
            return None
        with self._reading() as conn:
            row = conn.execute(_CHECKPOINT_AT_OR_BEFORE, (issuer, clamp_seq(seq))).fetchone()
        return None if row is None else signed_checkpoint_from_wire(bytes(row[0]))

    # ------------------------------------------------------------ evidence, receipts, alarms

    def equivocations(self) -> list[EquivocationEvidence]:
        with self._reading() as conn:
            rows = conn.execute(
                """
                SELECT issuer, seq, held_wire, conflicting_wire, detected_at, reported_by
                  FROM equivocations ORDER BY id
                """
            ).fetchall()
        return [
            EquivocationEvidence(
                issuer=issuer,
                seq=int(seq),
                held=envelope_from_wire(bytes(held)),
                conflicting=envelope_from_wire(bytes(conflicting)),
                detected_at=_utc(detected_at),
                reported_by=reported_by,
            )
            for issuer, seq, held, conflicting, detected_at, reported_by in rows
        ]

    # ------------------------------------------------------------ cosignatures

    def put_cosignature(self, cosignature: SignedCosignature) -> bool:
        cos = cosignature.cosignature
        wire = signed_cosignature_to_wire(cosignature)
        with self._transaction() as conn:
            cursor = conn.execute(
                """
                INSERT INTO cosignatures (issuer, seq, witness, head_digest, witnessed_at, wire)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (issuer, seq, witness, head_digest) DO NOTHING
                """,
                (cos.issuer, clamp_seq(cos.seq), cos.witness, cos.head_digest, cos.time, wire),
            )
            return bool(cursor.rowcount > 0)

    def cosignatures_at(self, issuer: str, seq: int) -> list[SignedCosignature]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT wire FROM cosignatures WHERE issuer = %s AND seq = %s ORDER BY id",
                (issuer, clamp_seq(seq)),
            ).fetchall()
        return [signed_cosignature_from_wire(bytes(row[0])) for row in rows]

    def cosignatures_between(self, issuer: str, after_seq: int, upto_seq: int) -> list[SignedCosignature]:
        if after_seq >= upto_seq:
            return []
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT wire FROM cosignatures WHERE issuer = %s AND seq > %s AND seq <= %s ORDER BY seq, id",
                (issuer, clamp_seq(after_seq), clamp_seq(upto_seq)),
            ).fetchall()
        return [signed_cosignature_from_wire(bytes(row[0])) for row in rows]

    def cosignatures_after(self, after_id: int, limit: int) -> list[tuple[int, SignedCosignature]]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, wire FROM cosignatures WHERE id > %s ORDER BY id LIMIT %s",
                (after_id, limit),
            ).fetchall()
        return [(int(row[0]), signed_cosignature_from_wire(bytes(row[1]))) for row in rows]

    def witnessed_heads(self, issuer: str) -> dict[str, SignedCosignature]:
        with self._reading() as conn:
            rows = conn.execute(
                """
                SELECT c.witness, c.wire FROM cosignatures c
                JOIN (
                    SELECT witness, MAX(seq) AS seq FROM cosignatures WHERE issuer = %s GROUP BY witness
                ) top ON c.witness = top.witness AND c.seq = top.seq
                WHERE c.issuer = %s
                ORDER BY c.witness, c.witnessed_at, c.id
                """,
                (issuer, issuer),
            ).fetchall()
        # only each witness's highest seq is read (index cosignatures_witness); the last row
        # per witness is its latest time there
        return {str(row[0]): signed_cosignature_from_wire(bytes(row[1])) for row in rows}

    def record_evidence(
        self,
        kind: str,
        issuer: str,
        seq: int,
        detail: str,
        *,
        envelopes: Sequence[Envelope] = (),
        checkpoints: Sequence[SignedCheckpoint] = (),
        reported_by: str = "",
        suspend: str = "",
    ) -> bool:
        blob = pack_evidence(
            [envelope_to_wire(e.redact()) for e in envelopes],
            [signed_checkpoint_to_wire(c) for c in checkpoints],
        )
        with self._transaction() as conn:
            row = conn.execute(
                """
                INSERT INTO evidence (kind, issuer, seq, detail, wires, fingerprint, reported_by, detected_at)
                VALUES (%s, %s, %s, %s, %s, %s, %s, now())
                ON CONFLICT (kind, issuer, seq, fingerprint) DO NOTHING RETURNING id
                """,
                (kind, issuer, clamp_seq(seq), detail, blob, evidence_fingerprint(blob), reported_by),
            ).fetchone()
            if suspend:
                conn.execute(
                    """
                    INSERT INTO suspended_issuers (issuer, reason, since) VALUES (%s, %s, clock_timestamp())
                    ON CONFLICT (issuer) DO NOTHING
                    """,
                    (issuer, suspend),
                )
        return row is not None

    def evidence(self) -> list[Evidence]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, kind, issuer, seq, detail, wires, reported_by, detected_at FROM evidence ORDER BY id"
            ).fetchall()
        out = []
        for evidence_id, kind, issuer, seq, detail, blob, reported_by, detected_at in rows:
            envs, cps = unpack_evidence(bytes(blob))
            out.append(
                Evidence(
                    id=int(evidence_id),
                    kind=kind,
                    issuer=issuer,
                    seq=int(seq),
                    detail=detail,
                    envelopes=tuple(envelope_from_wire(w) for w in envs),
                    checkpoints=tuple(signed_checkpoint_from_wire(w) for w in cps),
                    detected_at=_utc(detected_at),
                    reported_by=reported_by,
                )
            )
        return out

    def receipt_record(self, key: str, principal: str) -> ReceiptRecord | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT refs, request_digest, created_at FROM receipts WHERE principal = %s AND key = %s",
                (principal, key),
            ).fetchone()
        if row is None:
            return None
        refs = tuple((str(issuer), int(seq)) for issuer, seq in json.loads(row[0]))
        return ReceiptRecord(statements=refs, request_digest=bytes(row[1]), created_at=_utc(row[2]))

    def receipt(self, key: str, principal: str) -> list[StatementKey] | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT refs FROM receipts WHERE principal = %s AND key = %s", (principal, key)
            ).fetchone()
        if row is None:
            return None
        return [(str(issuer), int(seq)) for issuer, seq in json.loads(row[0])]

    @staticmethod
    def _alarm(row: Sequence[Any]) -> Alarm:
        alarm_id, kind, issuer, detail, raised_at, last_raised_at, count, acknowledged_at, peer = row
        return Alarm(
            id=int(alarm_id),
            kind=kind,
            issuer=issuer,
            detail=detail,
            raised_at=_utc(raised_at),
            last_raised_at=_utc(last_raised_at),
            count=int(count),
            acknowledged_at=_opt_utc(acknowledged_at),
            peer=peer,
        )

    def raise_alarm(self, kind: str, issuer: str, detail: str, *, peer: str = "") -> Alarm:
        with self._transaction() as conn:
            # the partial unique index alarms_open_per_peer makes this the one open alarm,
            # even when two replicas raise it at once
            row = conn.execute(
                """
                INSERT INTO alarms (kind, issuer, peer, detail, raised_at, last_raised_at, count)
                VALUES (%s, %s, %s, %s, clock_timestamp(), clock_timestamp(), 1)
                ON CONFLICT (kind, issuer, peer) WHERE acknowledged_at IS NULL
                DO UPDATE SET count = alarms.count + 1, last_raised_at = excluded.last_raised_at,
                              detail = excluded.detail
                RETURNING id, kind, issuer, detail, raised_at, last_raised_at, count, acknowledged_at, peer
                """,
                (kind, issuer, peer, detail),
            ).fetchone()
        if row is None:  # pragma: no cover - INSERT … RETURNING always returns the row
            raise RuntimeError("raising an alarm returned no row")
        return self._alarm(row)

    def alarms(
        self, *, include_acknowledged: bool = False, after_id: int = 0, limit: int | None = None
    ) -> list[Alarm]:
        where = "id > %s" if include_acknowledged else "id > %s AND acknowledged_at IS NULL"
        params = (
            max(0, min(after_id, _MAX_INT64)),
            None if limit is None else max(0, min(limit, _MAX_INT64)),
        )
        with self._reading() as conn:
            rows = conn.execute(f"{_SELECT_ALARM} WHERE {where} ORDER BY id LIMIT %s", params).fetchall()
        return [self._alarm(row) for row in rows]

    def alarm_count(self, *, include_acknowledged: bool = False) -> int:
        with self._reading() as conn:
            row = conn.execute(_COUNT_ALARMS if include_acknowledged else _COUNT_OPEN_ALARMS).fetchone()
        return int(row[0]) if row else 0

    def acknowledge_alarm(self, alarm_id: int) -> Alarm:
        row = None
        if 1 <= alarm_id <= _MAX_INT64:
            with self._transaction() as conn:
                conn.execute(
                    "UPDATE alarms SET acknowledged_at = clock_timestamp() WHERE id = %s AND acknowledged_at IS NULL",
                    (alarm_id,),
                )
                row = conn.execute(f"{_SELECT_ALARM} WHERE id = %s", (alarm_id,)).fetchone()
        if row is None:
            raise NotFound(f"no alarm with id {alarm_id}; list them with the Admin status call")
        return self._alarm(row)

    def suspend_issuer(self, issuer: str, reason: str) -> Suspension:
        with self._transaction() as conn:
            conn.execute(
                """
                INSERT INTO suspended_issuers (issuer, reason, since) VALUES (%s, %s, clock_timestamp())
                ON CONFLICT (issuer) DO NOTHING
                """,
                (issuer, reason),
            )
            row = conn.execute(
                "SELECT reason, since FROM suspended_issuers WHERE issuer = %s", (issuer,)
            ).fetchone()
        if row is None:  # pragma: no cover - the row was just inserted or found
            raise RuntimeError(f"suspension of {issuer} vanished")
        return Suspension(issuer, row[0], _utc(row[1]))

    def resume_issuer(self, issuer: str) -> bool:
        with self._transaction() as conn:
            cursor = conn.execute("DELETE FROM suspended_issuers WHERE issuer = %s", (issuer,))
        return cursor.rowcount > 0

    def suspended_issuers(self) -> dict[str, Suspension]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT issuer, reason, since FROM suspended_issuers ORDER BY issuer"
            ).fetchall()
        return {issuer: Suspension(issuer, reason, _utc(since)) for issuer, reason, since in rows}

    # ------------------------------------------------------------ directory

    def directory_head(self) -> StoredDirectory | None:
        with self._reading() as conn:
            row = conn.execute(_SELECT_DIRECTORY_HEAD).fetchone()
        return None if row is None else StoredDirectory(row[0], row[1], bytes(row[2]), _utc(row[3]))

    def record_directory(self, version: int, digest: str, document: bytes) -> StoredDirectory:
        with self._transaction() as conn:
            # replicas sharing the database record one at a time: the head read is the one compared
            conn.execute("LOCK TABLE directory_versions IN EXCLUSIVE MODE")
            row = conn.execute(_SELECT_DIRECTORY_HEAD).fetchone()
            head = None if row is None else StoredDirectory(row[0], row[1], bytes(row[2]), _utc(row[3]))
            if not check_directory_record(head, version, digest) and head is not None:
                return head  # the head itself: nothing to record
            row = conn.execute(
                """
                INSERT INTO directory_versions (version, digest, document, accepted_at)
                VALUES (%s, %s, %s, clock_timestamp()) RETURNING accepted_at
                """,
                (version, digest, document),
            ).fetchone()
        if row is None:  # pragma: no cover - RETURNING gives the row just inserted
            raise RuntimeError(f"directory v{version} vanished")
        return StoredDirectory(version, digest, document, _utc(row[0]))

    def directory_document(self, version: int) -> StoredDirectory | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT version, digest, document, accepted_at FROM directory_versions WHERE version = %s",
                (version,),
            ).fetchone()
        return None if row is None else StoredDirectory(row[0], row[1], bytes(row[2]), _utc(row[3]))

    def record_directory_conflict(self, peer: str, version: int, digest: str, document: bytes) -> bool:
        with self._transaction() as conn:
            cursor = conn.execute(
                """
                INSERT INTO directory_conflicts (version, digest, peer, document, seen_at)
                VALUES (%s, %s, %s, %s, clock_timestamp()) ON CONFLICT (version, digest) DO NOTHING
                """,
                (version, digest, peer, document),
            )
        return cursor.rowcount > 0

    def directory_conflicts(self) -> list[DirectoryConflict]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT peer, version, digest, document, seen_at FROM directory_conflicts ORDER BY seen_at, version"
            ).fetchall()
        return [DirectoryConflict(p, v, d, bytes(doc), _utc(t)) for p, v, d, doc, t in rows]

    # ------------------------------------------------------------ replicas

    @contextmanager
    def publish_lock(self, issuer: str, *, timeout: float = 30.0) -> Iterator[None]:
        """An advisory lock, held by a transaction on a connection of its own for the block.

        Every replica sharing the schema takes the same key, so only one publishes for
        ``issuer`` at a time. The server releases it when the block ends (rollback), and
        when the holding process dies (its connection closes).
        """
        self._check_open()
        with self._lock_pool.connection() as conn, conn.transaction():
            # lock_timeout 0 means "wait forever" in PostgreSQL: at least 1 ms
            conn.execute("SELECT set_config('lock_timeout', %s, true)", (f"{max(int(timeout * 1000), 1)}ms",))
            # a server-side idle timeout would end this transaction, and the lock with it,
            # while the publisher signs: the lock would be gone without anyone noticing
            conn.execute("SELECT set_config('idle_in_transaction_session_timeout', '0', true)")
            try:
                self._advisory_lock(conn, f"publish/{issuer}")
            except psycopg.errors.LockNotAvailable:
                raise ResourceExhausted(
                    f"publishing for {issuer} waited {timeout:g} s for another publisher "
                    "(this or another replica) to finish; retry later"
                ) from None
            yield

    shared = True

    def size_bytes(self) -> int:
        """Tables and indexes of this store's schema."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                (self._namespace,),
            ).fetchone()
        return int(row[0]) if row else 0

    def hold_leadership(self, role: str) -> bool:
        """A session-level advisory lock on a connection of its own, kept while it is alive.

        The server releases the lock when the holder's connection closes (process killed,
        network gone), and another replica's next call takes it over.
        """
        self._check_open()
        with self._leader_lock:
            conn = self._leaders.get(role)
            if conn is not None:
                try:
                    conn.execute("SELECT 1")
                except psycopg.Error:
                    self._leaders.pop(role, None)
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
                else:
                    return True
            try:
                conn = self._connect()
                conn.autocommit = True
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))",
                    (f"borderx/{self._namespace}", f"leader/{role}"),
                ).fetchone()
            except psycopg.Error:
                return False
            if row and row[0]:
                self._leaders[role] = conn
                return True
            conn.close()
            return False

    def wait_for_change(self, timeout: float) -> bool:
        """LISTEN for ``notify_channel``; True once a statement was appended by any replica.

        A daemon thread owns the LISTEN connection (started by the first call, re-opened
        with backoff if it is lost, counting a reconnection as a change since
        notifications may have been missed) and bumps a generation counter.
        """
        self._check_open()
        self._start_listener()
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._changed:
            seen: int = getattr(self._seen, "generation", self._generation)
            while self._generation == seen and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            changed = self._generation != seen
            self._seen.generation = self._generation
        return changed

    def _start_listener(self) -> None:
        with self._state_lock:
            if self._listener is not None:
                return
            # LISTEN before returning, so a commit after the first call is never missed
            conn = self._listen_connection()
            self._listener = threading.Thread(
                target=self._listen, args=(conn,), name="borderx-store-listen", daemon=True
            )
            self._listener.start()

    def _listen_connection(self) -> Connection:
        conn = self._connect()
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.notify_channel)))
        return conn

    def _bump(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def _listen(self, conn: Connection | None) -> None:
        backoff = _LISTEN_POLL_S
        while not self._stopping.is_set():
            try:
                if conn is None:
                    conn = self._listen_connection()
                    backoff = _LISTEN_POLL_S
                    self._bump()  # notifications sent while disconnected are lost
                for _ in conn.notifies(timeout=_LISTEN_POLL_S):
                    self._bump()
            except (psycopg.Error, ConfigError) as exc:
                log.warning(
                    "store.listen_lost", store=self._location, error=self._clean(exc), retry_s=backoff
                )
                if conn is not None:
                    conn.close()
                conn = None
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, _LISTEN_BACKOFF_MAX_S)
        if conn is not None:
            conn.close()

    # ------------------------------------------------------------ lifecycle

    def schema_version(self) -> int:
        with self._reading() as conn:
            row = conn.execute("SELECT version FROM borderx_schema").fetchone()
        return 0 if row is None else int(row[0])

    def migrate(self) -> int:
        while True:
            try:
                with self._transaction() as conn:
                    # replicas starting together: one migrates, the others then find it done
                    self._advisory_lock(conn, "migrate")
                    version = self._checked_version(conn)
                    if version == SCHEMA_VERSION:
                        return version
                    for statement in MIGRATIONS[version]:
                        conn.execute(statement)
                    conn.execute("UPDATE borderx_schema SET version = %s", (version + 1,))
            except psycopg.Error as exc:
                raise ConfigError(
                    f"store {self._location}: cannot migrate its schema ({self._clean(exc)})"
                ) from None

    def _checked_version(self, conn: Connection) -> int:
        """The schema version, creating the schema and the version table when absent."""
        ns = self._namespace
        if conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (ns,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(ns)))
        tables = {
            str(row[0])
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (ns,)).fetchall()
        }
        # another program's tables: migrating would mix ours into its data
        if tables and "borderx_schema" not in tables:
            raise ConfigError(
                f"store {self._location}: schema {ns} holds tables of another program "
                f"({', '.join(sorted(tables)[:5])}); give borderx a schema of its own with ?schema=NAME"
            )
        if not tables:
            conn.execute(_BOOTSTRAP)
            conn.execute("INSERT INTO borderx_schema (version) VALUES (0)")
        row = conn.execute("SELECT version FROM borderx_schema").fetchone()
        version = 0 if row is None else int(row[0])
        # older code must not write a schema it does not understand
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"database schema {version} is newer than this borderx (knows {SCHEMA_VERSION}); "
                "upgrade borderx"
            )
        return version

    @property
    def location(self) -> str:
        return self._location

    def close(self) -> None:
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            listener = self._listener
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if listener is not None:
            listener.join(timeout=5 * _LISTEN_POLL_S)
        self._pool.close()
        self._lock_pool.close()
        with self._leader_lock:
            for conn in self._leaders.values():
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            self._leaders.clear()

    def __repr__(self) -> str:
        return f"PostgresStore({self.location!r})"
