"""The SQLite store: one WAL-mode database file per gateway (the default backend).

This module owns the SQLite schema, its migrations and every SQL statement run against
it; it implements the MUSTs of :class:`borderx.store.base.Store`. What it adds:

- **Durability.** WAL journal with ``synchronous=FULL``: a commit is fsync'd to the WAL
  before ``append`` returns, so an acknowledged statement survives ``kill -9`` and power
  loss. (``NORMAL`` would be faster and could lose the last commits on power loss.)
- **Concurrency.** One writer connection, guarded by a lock; writes open with
  ``BEGIN IMMEDIATE`` so the chain checks and the inserts see the same state even when
  another process (the CLI) writes the same file. Reads use a pool of read-only
  connections, one per concurrently reading thread, each read in one snapshot.
  ``publish_lock`` is a lock of this process per (file, issuer): one gateway process owns
  a file, so several replicas of a gateway need the PostgreSQL backend instead.
- **Immutability in the schema.** Triggers refuse UPDATE of a statement's identity or
  bytes and any DELETE, so "nothing is deleted" (DESIGN §3) holds even against a bug here.
- **Small rows, logarithmic lookups.** ``statements`` keeps the wire bytes and the columns
  queries need; ``party_index`` and ``marks`` are WITHOUT ROWID B-trees keyed by what is
  searched. Resident memory is bounded (page caches and the decoded-statement cache have fixed
  sizes) and does not grow with the number of statements held.
- **Versioned schema.** ``PRAGMA user_version`` is the schema version, ``PRAGMA
  application_id`` marks the file as borderx's; a newer or foreign file is refused at open.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from borderx.errors import (
    BorderxError,
    ConfigError,
    NotFound,
    ResourceExhausted,
)
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
from borderx.statements.model import Envelope, SignedCheckpoint, SignedCosignature
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

#: ``PRAGMA application_id`` of a borderx store ("BDX1"), so a foreign SQLite file is refused.
APPLICATION_ID: Final = 0x42445831

#: Schema migrations: entry ``i`` takes the schema from version ``i`` to ``i + 1``. Append
#: new migrations; never edit one that has shipped.
MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    (
        # The truth: each statement exactly as received, plus the columns queries need.
        # ``id`` is insertion order, which per issuer is also seq order (chains grow by one).
        """
        CREATE TABLE statements (
            id            INTEGER PRIMARY KEY,
            issuer        TEXT    NOT NULL,
            seq           INTEGER NOT NULL CHECK (seq >= 1),
            digest        BLOB    NOT NULL CHECK (length(digest) = 32),
            body_type     TEXT    NOT NULL,
            received_from TEXT    NOT NULL,
            received_at   INTEGER NOT NULL,
            expires_at    INTEGER,
            wire          BLOB    NOT NULL,
            UNIQUE (issuer, seq)
        )
        """,
        # columns: received_at/expires_at are microseconds since the Unix epoch, UTC;
        # expires_at is derived (written by the indexer, reset by rebuild_index)
        """
        CREATE TRIGGER statements_immutable BEFORE UPDATE OF
            id, issuer, seq, digest, body_type, received_from, received_at, wire ON statements
        BEGIN SELECT RAISE(ABORT, 'borderx: stored statements are immutable'); END
        """,
        """
        CREATE TRIGGER statements_kept BEFORE DELETE ON statements
        BEGIN SELECT RAISE(ABORT, 'borderx: stored statements are never deleted'); END
        """,
        # The head of each issuer's chain, written in the same transaction as the statements.
        """
        CREATE TABLE heads (
            issuer TEXT PRIMARY KEY,
            seq    INTEGER NOT NULL,
            digest BLOB    NOT NULL
        ) WITHOUT ROWID
        """,
        # Derived: party identifier -> statement. Rebuilt from ``statements`` by rebuild_index.
        """
        CREATE TABLE party_index (
            scheme       TEXT    NOT NULL,
            value        TEXT    NOT NULL,
            statement_id INTEGER NOT NULL REFERENCES statements (id),
            PRIMARY KEY (scheme, value, statement_id)
        ) WITHOUT ROWID
        """,
        # Derived: (issuer, target_seq) was superseded or withdrawn by (issuer, by_seq).
        """
        CREATE TABLE marks (
            issuer     TEXT    NOT NULL,
            target_seq INTEGER NOT NULL,
            kind       TEXT    NOT NULL CHECK (kind IN ('superseded', 'withdrawn')),
            by_seq     INTEGER NOT NULL,
            PRIMARY KEY (issuer, target_seq, kind)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE equivocations (
            id                 INTEGER PRIMARY KEY,
            issuer             TEXT    NOT NULL,
            seq                INTEGER NOT NULL,
            held_digest        BLOB    NOT NULL,
            conflicting_digest BLOB    NOT NULL,
            held_wire          BLOB    NOT NULL,
            conflicting_wire   BLOB    NOT NULL,
            detected_at        INTEGER NOT NULL,
            reported_by        TEXT    NOT NULL,
            UNIQUE (issuer, seq, held_digest, conflicting_digest)
        )
        """,
        """
        CREATE TABLE checkpoints (
            issuer      TEXT    PRIMARY KEY,
            seq         INTEGER NOT NULL,
            head_digest BLOB    NOT NULL,
            time        INTEGER NOT NULL,
            wire        BLOB    NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE receipts (
            principal  TEXT    NOT NULL,
            key        TEXT    NOT NULL,
            refs       TEXT    NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (principal, key)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE alarms (
            id              INTEGER PRIMARY KEY,
            kind            TEXT    NOT NULL,
            issuer          TEXT    NOT NULL,
            detail          TEXT    NOT NULL,
            raised_at       INTEGER NOT NULL,
            last_raised_at  INTEGER NOT NULL,
            count           INTEGER NOT NULL,
            acknowledged_at INTEGER
        )
        """,
        # at most one open alarm per (kind, issuer, detail): the dedup rule, kept by the schema
        """
        CREATE UNIQUE INDEX alarms_open ON alarms (kind, issuer, detail)
            WHERE acknowledged_at IS NULL
        """,
        """
        CREATE TABLE suspended_issuers (
            issuer TEXT    PRIMARY KEY,
            reason TEXT    NOT NULL,
            since  INTEGER NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    (
        # v2: every checkpoint, one per (issuer, seq) (the freshest time seen for it), so a
        # bulk sync can authenticate a long chain in runs between consecutive checkpoints.
        # ``checkpoints`` stays the latest per issuer; every row of it is also a row here.
        """
        CREATE TABLE checkpoint_history (
            issuer      TEXT    NOT NULL,
            seq         INTEGER NOT NULL,
            head_digest BLOB    NOT NULL,
            time        INTEGER NOT NULL,
            wire        BLOB    NOT NULL,
            PRIMARY KEY (issuer, seq)
        ) WITHOUT ROWID
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
        # … whether every signature was checked (0: admitted on a checkpoint's authority,
        # the Ed25519 check pending; never relayed or exported until it is done) …
        "ALTER TABLE statements ADD COLUMN verified INTEGER NOT NULL DEFAULT 1",
        "CREATE INDEX statements_unverified ON statements (issuer, seq) WHERE verified = 0",
        # … the latest conforming designation of each membership (derived) …
        """
        CREATE TABLE memberships (
            issuer    TEXT    NOT NULL,
            programme TEXT    NOT NULL,
            member_id TEXT    NOT NULL,
            seq       INTEGER NOT NULL,
            status    TEXT    NOT NULL,
            PRIMARY KEY (issuer, programme, member_id)
        ) WITHOUT ROWID
        """,
        # … and signed proof that is not a statement of the chain (own-chain forgeries,
        # bad signatures under a checkpoint), kept forever
        """
        CREATE TABLE evidence (
            id          INTEGER PRIMARY KEY,
            kind        TEXT    NOT NULL,
            issuer      TEXT    NOT NULL,
            seq         INTEGER NOT NULL,
            detail      TEXT    NOT NULL,
            wires       BLOB    NOT NULL,
            fingerprint BLOB    NOT NULL,
            reported_by TEXT    NOT NULL,
            detected_at INTEGER NOT NULL,
            UNIQUE (kind, issuer, seq, fingerprint)
        )
        """,
        """
        CREATE TRIGGER evidence_kept BEFORE DELETE ON evidence
        BEGIN SELECT RAISE(ABORT, 'borderx: evidence is never deleted'); END
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
        UPDATE alarms SET peer = substr(detail, 11, instr(detail, ':') - 11)
         WHERE detail LIKE 'from peer %:%'
        """,
        """
        UPDATE alarms SET peer = substr(detail, 15, instr(detail, ':') - 15)
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
            version     INTEGER PRIMARY KEY,
            digest      TEXT    NOT NULL,
            document    BLOB    NOT NULL,
            accepted_at INTEGER NOT NULL
        )
        """,
        # a partner's directory that conflicts with ours at one version: signed evidence
        """
        CREATE TABLE directory_conflicts (
            version  INTEGER NOT NULL,
            digest   TEXT    NOT NULL,
            peer     TEXT    NOT NULL,
            document BLOB NOT NULL,
            seen_at  INTEGER NOT NULL,
            PRIMARY KEY (version, digest)
        )
        """,
    ),
    (
        # v6: a receipt is bound to its request (issue 11): the SHA-256 of the canonical
        # request (empty for receipts stored before v6: not checkable, they expire), and an
        # index to purge expired receipts
        "ALTER TABLE receipts ADD COLUMN request_digest BLOB NOT NULL DEFAULT x''",
        "CREATE INDEX receipts_created ON receipts (created_at)",
    ),
    (
        # v7: derived: name-index blocking key (screening.names) -> statement (issue #13).
        # Rebuilt from ``statements`` by rebuild_index, like party_index.
        """
        CREATE TABLE name_index (
            key          TEXT    NOT NULL,
            statement_id INTEGER NOT NULL REFERENCES statements (id),
            PRIMARY KEY (key, statement_id)
        ) WITHOUT ROWID
        """,
    ),
    (
        # v8: witnessing (issue 12 item 5): every cosignature kept, one per (issuer, seq,
        # witness, head), never deleted; id orders what a follower is sent
        """
        CREATE TABLE cosignatures (
            id           INTEGER PRIMARY KEY,
            issuer       TEXT    NOT NULL,
            seq          INTEGER NOT NULL,
            witness      TEXT    NOT NULL,
            head_digest  BLOB    NOT NULL,
            witnessed_at INTEGER NOT NULL,
            wire         BLOB    NOT NULL,
            UNIQUE (issuer, seq, witness, head_digest)
        )
        """,
        "CREATE INDEX cosignatures_witness ON cosignatures (issuer, witness, seq)",
        """
        CREATE TRIGGER cosignatures_kept BEFORE DELETE ON cosignatures
        BEGIN SELECT RAISE(ABORT, 'borderx: cosignatures are never deleted'); END
        """,
    ),
    (
        # v9 (issues 13/14: the in-memory screening index). Derived: each indexed party's
        # matching form (screening.names.dump_form), so a gateway builds its memory index
        # without decoding every body; rebuilt by rebuild_index like name_index …
        """
        CREATE TABLE name_forms (
            statement_id INTEGER PRIMARY KEY REFERENCES statements (id),
            form         BLOB    NOT NULL,
            keys         TEXT    NOT NULL
        )
        """,
        # a store that held statements: their keys from the index tables, forms empty (a
        # memory index decodes those bodies until `borderx store rebuild-index`); the two
        # helper indexes make it one pass over each table
        "CREATE INDEX name_index_v9 ON name_index (statement_id)",
        "CREATE INDEX party_index_v9 ON party_index (statement_id)",
        """
        INSERT INTO name_forms (statement_id, form, keys)
        SELECT s.id, x'', json_array(
                   (SELECT IFNULL(json_group_array(n.key), json_array()) FROM name_index AS n WHERE n.statement_id = s.id),
                   (SELECT IFNULL(json_group_array(json_array(p.scheme, p.value)), json_array())
                      FROM party_index AS p WHERE p.statement_id = s.id))
          FROM statements AS s
         WHERE s.id IN (SELECT statement_id FROM name_index UNION SELECT statement_id FROM party_index)
        """,
        "DROP INDEX name_index_v9",
        "DROP INDEX party_index_v9",
        # … the index change log: one row per statement whose index state a mutation
        # changed, in commit order, which every process's memory index tails …
        """
        CREATE TABLE index_log (
            generation INTEGER PRIMARY KEY,
            issuer     TEXT    NOT NULL,
            seq        INTEGER NOT NULL
        )
        """,
        # … and the epoch a rebuild moves
        """
        CREATE TABLE index_state (
            one   INTEGER PRIMARY KEY CHECK (one = 1),
            epoch INTEGER NOT NULL
        )
        """,
        "INSERT INTO index_state (one, epoch) VALUES (1, 1)",
    ),
)

_SELECT_DIRECTORY_HEAD: Final = (
    "SELECT version, digest, document, accepted_at FROM directory_versions ORDER BY version DESC LIMIT 1"
)

#: The schema version this code writes and reads.
SCHEMA_VERSION: Final = len(MIGRATIONS)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: The largest value an INTEGER column holds (seqs are bound as signed 64-bit integers).

# Page caches are per connection; fixed sizes keep resident memory independent of how
# many statements are held. Negative values are KiB (SQLite's convention).
_WRITER_CACHE_KIB: Final = 32 * 1024
_READER_CACHE_KIB: Final = 8 * 1024
#: How long a connection waits for another process's write lock before failing.
_BUSY_TIMEOUT_S: Final = 30.0
#: Rows read per step while rebuilding the index (bounds memory during a rebuild).
_REBUILD_CHUNK: Final = 2_000

# Columns of a StoredStatement: the statement, then the supersede/withdraw marks.
_SELECT_STORED: Final = """
    SELECT s.issuer, s.seq, s.wire, s.received_from, s.received_at, s.expires_at,
           (SELECT by_seq FROM marks
             WHERE issuer = s.issuer AND target_seq = s.seq AND kind = 'superseded'),
           (SELECT by_seq FROM marks
             WHERE issuer = s.issuer AND target_seq = s.seq AND kind = 'withdrawn'),
           s.violation, s.verified
"""
_NOT_MARKED: Final = """
    NOT EXISTS (SELECT 1 FROM marks WHERE issuer = s.issuer AND target_seq = s.seq)
"""
_LOOKUP_CURRENT: Final = f"""
    {_SELECT_STORED}
      FROM party_index AS p JOIN statements AS s ON s.id = p.statement_id
     WHERE p.scheme = ? AND p.value = ? AND {_NOT_MARKED}
     ORDER BY s.issuer, s.seq
"""
_LOOKUP_ALL: Final = f"""
    {_SELECT_STORED}
      FROM party_index AS p JOIN statements AS s ON s.id = p.statement_id
     WHERE p.scheme = ? AND p.value = ?
     ORDER BY s.issuer, s.seq
"""
#: name keys (or statement ids) bound per query in lookup_names
_NAME_CHUNK: Final = 500
_GET: Final = f"{_SELECT_STORED} FROM statements AS s WHERE s.issuer = ? AND s.seq = ?"
#: statements per ``get_many`` query (two bound parameters each, well under SQLite's limit)
_GET_MANY_CHUNK: Final = 400
_READ_RANGE: Final = (
    f"{_SELECT_STORED} FROM statements AS s WHERE s.issuer = ? AND s.seq > ? ORDER BY s.seq LIMIT ?"
)
_INSERT_STATEMENT: Final = """
    INSERT INTO statements
        (id, issuer, seq, digest, body_type, received_from, received_at, expires_at, wire, violation, verified)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_UPSERT_MEMBERSHIP: Final = """
    INSERT INTO memberships (issuer, programme, member_id, seq, status) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (issuer, programme, member_id) DO UPDATE SET seq = excluded.seq, status = excluded.status
"""
_INSERT_INDEX: Final = "INSERT OR IGNORE INTO party_index (scheme, value, statement_id) VALUES (?, ?, ?)"
_INSERT_NAME: Final = "INSERT OR IGNORE INTO name_index (key, statement_id) VALUES (?, ?)"
_INSERT_FORM: Final = "INSERT OR REPLACE INTO name_forms (statement_id, form, keys) VALUES (?, ?, ?)"
_INSERT_LOG: Final = "INSERT INTO index_log (issuer, seq) VALUES (?, ?)"
_LIVE: Final = f"(s.violation IS NULL AND {_NOT_MARKED})"
_INDEX_ENTRY: Final = f"""
    SELECT s.issuer, s.seq, {_LIVE}, f.form, f.keys
      FROM statements AS s LEFT JOIN name_forms AS f ON f.statement_id = s.id
     WHERE s.issuer = ? AND s.seq = ?
"""  # noqa: S608
_INDEX_FORMS: Final = f"""
    SELECT f.statement_id, s.issuer, s.seq, {_LIVE}, f.form, f.keys
      FROM name_forms AS f JOIN statements AS s ON s.id = f.statement_id
     WHERE f.statement_id > ? ORDER BY f.statement_id LIMIT ?
"""  # noqa: S608
# the first mark wins: a later statement cannot re-point an earlier supersede or withdrawal
_INSERT_MARK: Final = "INSERT OR IGNORE INTO marks (issuer, target_seq, kind, by_seq) VALUES (?, ?, ?, ?)"
_UPSERT_HEAD: Final = """
    INSERT INTO heads (issuer, seq, digest) VALUES (?, ?, ?)
    ON CONFLICT (issuer) DO UPDATE SET seq = excluded.seq, digest = excluded.digest
"""
_INSERT_CHECKPOINT_HISTORY: Final = """
    INSERT INTO checkpoint_history (issuer, seq, head_digest, time, wire) VALUES (?, ?, ?, ?, ?)
"""
_CHECKPOINTS_BETWEEN: Final = """
    SELECT wire FROM checkpoint_history WHERE issuer = ? AND seq > ? AND seq <= ? ORDER BY seq
"""
_CHECKPOINT_AT_OR_BEFORE: Final = """
    SELECT wire FROM checkpoint_history WHERE issuer = ? AND seq <= ? ORDER BY seq DESC LIMIT 1
"""
_SELECT_ALARM: Final = (
    "SELECT id, kind, issuer, detail, raised_at, last_raised_at, count, acknowledged_at, peer FROM alarms"
)
_COUNT_OPEN_ALARMS: Final = "SELECT count(*) FROM alarms WHERE acknowledged_at IS NULL"
_ALL_ALARMS: Final = f"{_SELECT_ALARM} WHERE id > ? ORDER BY id LIMIT ?"
_OPEN_ALARMS: Final = f"{_SELECT_ALARM} WHERE id > ? AND acknowledged_at IS NULL ORDER BY id LIMIT ?"


def _to_us(when: datetime) -> int:
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _opt_from_us(value: int | None) -> datetime | None:
    return None if value is None else _from_us(value)


def _now_us() -> int:
    return _to_us(datetime.now(UTC))


#: Publish locks of this process, per (database file, issuer); see ``SQLiteStore.publish_lock``.
_PUBLISH_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_PUBLISH_LOCKS_GUARD = threading.Lock()


#: One entry of the statement cache: the key, the row it was decoded from, the result.
_Entry = tuple[StatementKey, Sequence[Any], StoredStatement]
#: Entries per set of the statement cache, and keys per set of its doorkeeper.
_WAYS: Final = 4


class _EnvelopeCache:
    """A fixed-size cache of decoded statements keyed by (issuer, seq); safe across threads.

    Each entry keeps the row a StoredStatement was built from and is served only for an
    equal row: the marks, violation and verified columns may change, so a statement read
    again after it was superseded is built again (from the cached envelope: the envelope
    of an (issuer, seq) never changes). A hit skips the envelope's decoding and the
    StoredStatement's construction, not only the former.

    Set-associative (``_WAYS`` entries a set, the newest first, the oldest giving way),
    admitting an entry only on its second miss (a "doorkeeper" of recently missed keys,
    itself in sets of ``_WAYS``, twice as many keys as entries). All from measurement:
    under uniformly random lookups over 1M statements an LRU that admits every miss made
    each lookup ~20% slower than no cache at all (linked-list upkeep and freeing cold
    entries cost more than decoding); and with one slot per key hash (cache and
    doorkeeper) Screen's ~5,700 recurring hit statements were half missed at 8,192 slots,
    as keys sharing a slot kept evicting each other or never got past the doorkeeper.
    Sets are replaced by single slice assignments, atomic under the GIL, so no lock (a
    race can only lose an entry).
    """

    def __init__(self, size: int) -> None:
        self._sets = max(size, 0) // _WAYS
        self._slots: list[_Entry | None] = [None] * (self._sets * _WAYS)
        self._missed: list[StatementKey | None] = [None] * (2 * self._sets * _WAYS)

    def _entry(self, key: StatementKey) -> tuple[int, _Entry | None]:
        """The slot of ``key``'s entry and the entry, or the first slot of its set and None."""
        first = hash(key) % self._sets * _WAYS
        for way, entry in enumerate(self._slots[first : first + _WAYS]):
            if entry is not None and entry[0] == key:
                return first + way, entry
        return first, None

    def get(self, key: StatementKey) -> Envelope | None:
        """The decoded envelope of ``key``, if held."""
        if not self._sets:
            return None
        entry = self._entry(key)[1]
        return None if entry is None else entry[2].envelope

    def find(self, key: StatementKey, row: Sequence[Any]) -> tuple[StoredStatement | None, Envelope | None]:
        """The statement built from a row equal to ``row``; else None, and its envelope if held."""
        if not self._sets:
            return None, None
        entry = self._entry(key)[1]
        if entry is None:
            return None, None
        return (entry[2] if entry[1] == row else None), entry[2].envelope

    def put(self, key: StatementKey, row: Sequence[Any], stored: StoredStatement) -> None:
        """Keep ``stored``, built from ``row``: in place of its key's entry, else on a second miss."""
        if not self._sets:
            return
        at, entry = self._entry(key)
        slots = self._slots
        if entry is not None:
            slots[at] = (key, row, stored)
            return
        seen = hash(key) % (2 * self._sets) * _WAYS
        recent = self._missed[seen : seen + _WAYS]
        if key not in recent:
            # first miss: remember the key, not the statement
            self._missed[seen : seen + _WAYS] = [key, *recent[:-1]]
            return
        slots[at : at + _WAYS] = [(key, row, stored), *slots[at : at + _WAYS - 1]]


class _Reader:
    """The plan's view of the chain, read inside the writer's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def head(self, issuer: str) -> ChainHead | None:
        row = self._conn.execute("SELECT seq, digest FROM heads WHERE issuer = ?", (issuer,)).fetchone()
        return None if row is None else ChainHead(issuer, row[0], bytes(row[1]))

    def held_digest(self, issuer: str, seq: int) -> bytes | None:
        row = self._conn.execute(
            "SELECT digest FROM statements WHERE issuer = ? AND seq = ?", (issuer, seq)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def held_wire(self, issuer: str, seq: int) -> bytes:
        row = self._conn.execute(
            "SELECT wire FROM statements WHERE issuer = ? AND seq = ?", (issuer, seq)
        ).fetchone()
        return bytes(row[0])

    def suspension(self, issuer: str) -> tuple[str, datetime] | None:
        row = self._conn.execute(
            "SELECT reason, since FROM suspended_issuers WHERE issuer = ?", (issuer,)
        ).fetchone()
        return None if row is None else (row[0], _from_us(row[1]))


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only, when it does not exist yet.

    The store holds bodies addressed to restricted audiences. SQLite gives the -wal and
    -shm files it creates the mode of the database file, so making the file 0600 from
    creation (no window with the umask's mode) keeps all three private.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConfigError(f"store {path}: cannot create it ({exc.strerror})") from exc
    os.close(fd)


def _entry(issuer: str, seq: int, live: int, form: bytes | None, keys: str | None) -> IndexEntry:
    names, ids = decode_keys(keys) if keys else ((), ())
    return IndexEntry(issuer, int(seq), bool(live), bytes(form or b""), names, ids)


def _name_rows(statement_id: int, effects: IndexEffects) -> list[tuple[str, int]]:
    return [(key, statement_id) for key in dict.fromkeys(effects.names)]


class SQLiteStore(Store):
    """A :class:`Store` in one SQLite file (WAL mode). See the module docstring."""

    def __init__(self, path: str | Path, *, envelope_cache: int = 16_384) -> None:
        """Open (creating if absent) the store at ``path`` and apply pending migrations.

        ``envelope_cache`` is how many decoded statements to keep (0 disables the cache).
        Raises ConfigError when the file is not a borderx store, is newer than this code,
        or its folder does not exist.
        """
        self._path = Path(path)
        # an in-memory database is per connection and lost on exit: every acknowledged
        # statement would vanish at restart, which the durability MUST forbids
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise ConfigError(f"store path {str(path)!r}: give the path of a database file")
        if not self._path.parent.is_dir():
            raise ConfigError(f"store {self._path}: folder {self._path.parent} does not exist")
        # re-entrant: append holds it across the batch's rollback and the evidence transaction
        self._write_lock = threading.RLock()
        self._pool_lock = threading.Lock()
        self._idle_readers: list[sqlite3.Connection] = []
        self._closed = False
        self._cache = _EnvelopeCache(envelope_cache)
        # index_state's watch (see there): opened on first use, with the position it last read
        self._watch_lock = threading.Lock()
        self._watch: sqlite3.Connection | None = None
        self._watched: tuple[int, IndexState] | None = None
        _create_private(self._path)
        self._writer = self._connect(writer=True)
        try:
            # identify the file before changing anything in it (journal mode included)
            self._checked_version(self._writer)
            self._enable_wal(self._writer)
            self.migrate()
        except BaseException:
            self._writer.close()
            raise

    # ------------------------------------------------------------ connections

    def _connect(self, *, writer: bool) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,  # autocommit; transactions are explicit BEGIN/COMMIT
                check_same_thread=False,  # guarded by the write lock or the reader pool
                cached_statements=64,
            )
        except sqlite3.Error as exc:
            raise ConfigError(f"store {self._path}: cannot open it ({exc})") from exc
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            if writer:
                conn.execute(f"PRAGMA cache_size = -{_WRITER_CACHE_KIB}")
            else:
                conn.execute("PRAGMA query_only = ON")
                conn.execute(f"PRAGMA cache_size = -{_READER_CACHE_KIB}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ConfigError(f"store {self._path}: cannot use it as a SQLite database ({exc})") from exc
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            # FULL: the WAL is fsync'd at every commit, so an acknowledged append survives
            # power loss, not only a process crash
            conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"store {self._path}: cannot use it as a SQLite database ({exc})") from exc
        # without WAL, readers block the writer and the durability reasoning above changes;
        # some filesystems (network mounts) cannot do WAL
        if str(mode).lower() != "wal":
            raise ConfigError(
                f"store {self._path}: SQLite could not switch to WAL mode (got {mode!r}); "
                "put the database on a local filesystem"
            )

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"store {self._path} is closed")

    @contextmanager
    def _reading(self, *, snapshot: bool = False) -> Iterator[sqlite3.Connection]:
        """A read-only connection from the pool.

        Each statement reads one committed state on its own; with ``snapshot`` the whole
        block reads one state (a deferred read transaction), for reads of several statements.
        """
        self._check_open()
        with self._pool_lock:
            conn = self._idle_readers.pop() if self._idle_readers else None
        if conn is None:
            conn = self._connect(writer=False)
        reusable = False
        try:
            if snapshot:
                conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if snapshot:
                    conn.execute("COMMIT")
                reusable = not conn.in_transaction
        finally:
            # a connection whose BEGIN or COMMIT failed is in an unknown state: drop it
            with self._pool_lock:
                if reusable and not self._closed:
                    self._idle_readers.append(conn)
                else:
                    conn.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """The writer connection in an IMMEDIATE transaction; commits on success, else rolls back."""
        with self._write_lock:
            self._check_open()
            conn = self._writer
            # IMMEDIATE takes the write lock now, so what the checks read cannot change
            # before the inserts (another process may share the file)
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------ decoding

    def _stored(self, row: Sequence[Any], *, cache: bool = True) -> StoredStatement:
        """A StoredStatement from a ``_SELECT_STORED`` row; ``cache=False`` for scans.

        Only lookups fill the cache: a scan (a follower's bulk read_range) would otherwise
        evict the parties screening keeps asking about, for statements read once.
        """
        (
            issuer,
            seq,
            wire,
            received_from,
            received_at,
            expires_at,
            superseded_by,
            withdrawn_by,
            violation,
            verified,
        ) = row
        key = (issuer, seq)
        held, env = self._cache.find(key, row)
        if held is not None:
            return held
        stored = StoredStatement(
            envelope=env or envelope_from_wire(wire),
            wire=wire,
            received_from=received_from,
            received_at=_from_us(received_at),
            superseded_by=None if superseded_by is None else (issuer, superseded_by),
            withdrawn_by=None if withdrawn_by is None else (issuer, withdrawn_by),
            expires_at=_opt_from_us(expires_at),
            violation=violation,
            verified=bool(verified),
        )
        if cache:
            self._cache.put(key, row, stored)
        return stored

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
        # CPU work outside the write lock: serialisation
        wires = [envelope_to_wire(entry.envelope) for entry in entries]
        now = _now_us()
        # one lock over the batch and, on equivocation, the evidence: no other append can
        # slip a statement of the equivocating issuer in before it is suspended
        with self._write_lock:
            try:
                with self._writing() as conn:
                    if claim is not None:
                        replay = self._replay_receipt(conn, claim)
                        if replay is not None:
                            return replay
                    plan = plan_append(entries, wires, _Reader(conn))
                    self._write_plan(conn, plan, now)
                    if checkpoint is not None:
                        self._write_checkpoint(conn, checkpoint)
                    if claim is not None:
                        refs = json.dumps([[r.issuer, r.seq] for r in plan.results])
                        conn.execute(
                            "INSERT INTO receipts (principal, key, refs, created_at, request_digest) "
                            "VALUES (?, ?, ?, ?, ?)",
                            (claim.principal, claim.key, refs, now, claim.request_digest),
                        )
            except EquivocationFound as found:
                self._record_equivocation(found, now)
                raise found.error from None
        return plan.results

    def _replay_receipt(self, conn: sqlite3.Connection, claim: Idempotency) -> list[AppendResult] | None:
        if claim.not_before is not None:
            # expired receipts free their keys (and stop growing the table)
            conn.execute("DELETE FROM receipts WHERE created_at < ?", (_to_us(claim.not_before),))
        row = conn.execute(
            "SELECT refs, request_digest FROM receipts WHERE principal = ? AND key = ?",
            (claim.principal, claim.key),
        ).fetchone()
        if row is None:
            return None
        check_receipt_digest(claim, bytes(row[1]))
        results = []
        for issuer, seq in json.loads(row[0]):
            found = conn.execute(
                "SELECT digest FROM statements WHERE issuer = ? AND seq = ?", (issuer, seq)
            ).fetchone()
            results.append(AppendResult(issuer, seq, found[0] if found else b"", duplicate=True))
        return results

    def _write_plan(self, conn: sqlite3.Connection, plan: AppendPlan, now: int) -> None:
        """Execute an append plan inside the caller's transaction."""
        if not plan.statements:
            return
        row = conn.execute("SELECT IFNULL(MAX(id), 0) FROM statements").fetchone()
        next_id = int(row[0]) + 1
        ids_of: dict[StatementKey, int] = {}
        statement_rows = []
        for entry, wire in plan.statements:
            env, effects = entry.envelope, entry.index
            ids_of[(env.issuer, env.seq)] = next_id
            statement_rows.append(
                (
                    next_id,
                    env.issuer,
                    env.seq,
                    env.digest,
                    env.header.body_type,
                    entry.received_from,
                    now,
                    None if effects.expires_at is None else _to_us(effects.expires_at),
                    wire,
                    effects.violation or None,
                    int(entry.verified),
                )
            )
            next_id += 1
        conn.executemany(_INSERT_STATEMENT, statement_rows)
        conn.executemany(_INSERT_INDEX, [(sc, v, ids_of[(i, q)]) for sc, v, i, q in plan.ids])
        conn.executemany(
            _INSERT_NAME,
            [
                row
                for entry, _ in plan.statements
                for row in _name_rows(ids_of[entry.envelope.issuer, entry.envelope.seq], entry.index)
            ],
        )
        conn.executemany(_INSERT_MARK, plan.marks)
        conn.executemany(_UPSERT_MEMBERSHIP, plan.memberships)
        conn.executemany(_UPSERT_HEAD, [(h.issuer, h.seq, h.digest) for h in plan.heads.values()])
        conn.executemany(_INSERT_FORM, [(ids_of[(i, q)], form, keys) for i, q, form, keys in plan.forms])
        # the single writer commits in generation order
        conn.executemany(_INSERT_LOG, plan.touched)

    def _record_equivocation(self, found: EquivocationFound, now: int) -> None:
        """Keep both headers (redacted) and suspend the issuer, in a transaction of its own.

        The batch that revealed the equivocation is rolled back, but the evidence must
        survive it: it is signed proof of a fault or a stolen key.
        """
        err = found.error
        held, conflicting = redacted_wire(found.held_wire), redacted_wire(found.conflicting_wire)
        try:
            with self._writing() as conn:
                conn.execute(
                    """
                    INSERT OR IGNORE INTO equivocations (issuer, seq, held_digest, conflicting_digest,
                        held_wire, conflicting_wire, detected_at, reported_by)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    (
                        err.issuer,
                        err.seq,
                        err.held_digest,
                        err.got_digest,
                        held,
                        conflicting,
                        now,
                        found.reported_by,
                    ),
                )
                conn.execute(
                    "INSERT OR IGNORE INTO suspended_issuers (issuer, reason, since) VALUES (?, ?, ?)",
                    (err.issuer, f"equivocation at seq {err.seq}", now),
                )
        except (sqlite3.Error, BorderxError, RuntimeError) as exc:
            err.add_note(f"the equivocation evidence could not be recorded: {exc}")

    def heads(self) -> dict[str, ChainHead]:
        with self._reading() as conn:
            rows = conn.execute("SELECT issuer, seq, digest FROM heads ORDER BY issuer").fetchall()
        return {issuer: ChainHead(issuer, seq, bytes(digest)) for issuer, seq, digest in rows}

    def head(self, issuer: str) -> ChainHead | None:
        with self._reading() as conn:
            row = conn.execute("SELECT seq, digest FROM heads WHERE issuer = ?", (issuer,)).fetchone()
        return None if row is None else ChainHead(issuer, row[0], bytes(row[1]))

    def get(self, issuer: str, seq: int) -> StoredStatement | None:
        with self._reading() as conn:
            row = conn.execute(_GET, (issuer, seq)).fetchone()
        return None if row is None else self._stored(row)

    def read_range(self, issuer: str, after_seq: int, limit: int) -> list[StoredStatement]:
        if limit <= 0:
            return []
        with self._reading() as conn:
            rows = conn.execute(
                _READ_RANGE,
                (issuer, after_seq, limit),
            ).fetchall()
        return [self._stored(row, cache=False) for row in rows]

    def count(self) -> int:
        # chains are gap-free from seq 1, so the heads' seqs sum to the number of statements
        with self._reading() as conn:
            row = conn.execute("SELECT IFNULL(SUM(seq), 0) FROM heads").fetchone()
        return int(row[0])

    def count_by_issuer(self) -> dict[str, int]:
        with self._reading() as conn:
            rows = conn.execute("SELECT issuer, seq FROM heads ORDER BY issuer").fetchall()
        return {issuer: int(seq) for issuer, seq in rows}

    # ------------------------------------------------------------ screening index

    def lookup(self, scheme: str, value: str, *, include_history: bool = False) -> list[StoredStatement]:
        sql = _LOOKUP_ALL if include_history else _LOOKUP_CURRENT
        with self._reading() as conn:
            rows = conn.execute(sql, (scheme, value)).fetchall()
        return [self._stored(row) for row in rows]

    def lookup_many(self, ids: Sequence[PartyKey]) -> dict[PartyKey, list[StoredStatement]]:
        out: dict[PartyKey, list[StoredStatement]] = {}
        with self._reading(snapshot=True) as conn:
            for party in ids:
                if party not in out:
                    out[party] = [
                        self._stored(row) for row in conn.execute(_LOOKUP_CURRENT, party).fetchall()
                    ]
        return out

    def lookup_names(
        self, keys: Sequence[str], *, max_postings: int | None = None
    ) -> dict[str, list[StoredStatement]]:
        # Two steps in one snapshot: the keys' statement ids (many keys of one query name
        # the same candidate), then each distinct current statement once.
        wanted = list(dict.fromkeys(keys))
        hits: list[tuple[str, int]] = []
        stored: dict[int, StoredStatement] = {}
        with self._reading(snapshot=True) as conn:
            for lo in range(0, len(wanted), _NAME_CHUNK):
                chunk = wanted[lo : lo + _NAME_CHUNK]
                marks = ",".join("?" * len(chunk))
                hits.extend(
                    conn.execute(
                        f"SELECT key, statement_id FROM name_index WHERE key IN ({marks})",  # noqa: S608 - placeholders only
                        chunk,
                    ).fetchall()
                )
            if max_postings is not None:
                per_key: dict[str, int] = {}
                for key, _ in hits:
                    per_key[key] = per_key.get(key, 0) + 1
                hits = [(k, i) for k, i in hits if per_key[k] <= max_postings]
            ids = list(dict.fromkeys(statement_id for _, statement_id in hits))
            for lo in range(0, len(ids), _NAME_CHUNK):
                chunk_ids = ids[lo : lo + _NAME_CHUNK]
                marks = ",".join("?" * len(chunk_ids))
                rows = conn.execute(
                    f"{_SELECT_STORED}, s.id FROM statements AS s WHERE s.id IN ({marks}) AND {_NOT_MARKED}",
                    chunk_ids,
                ).fetchall()
                for row in rows:
                    stored[row[-1]] = self._stored(row[:-1])
        out: dict[str, list[StoredStatement]] = {key: [] for key in wanted}
        for key, statement_id in hits:
            found = stored.get(statement_id)
            if found is not None:
                out[key].append(found)
        for found_list in out.values():
            found_list.sort(key=lambda s: s.key)
        return out

    def rebuild_index(self, indexer: Callable[[StoredStatement], IndexEffects]) -> int:
        indexed = 0
        with self._writing() as conn:
            conn.execute("DELETE FROM party_index")
            conn.execute("DELETE FROM name_index")
            conn.execute("DELETE FROM name_forms")
            conn.execute("DELETE FROM marks")
            conn.execute("DELETE FROM memberships")
            # every memory index sees a new epoch and rebuilds; the log starts again
            conn.execute("DELETE FROM index_log")
            conn.execute("UPDATE index_state SET epoch = epoch + 1")
            conn.execute(
                "UPDATE statements SET expires_at = NULL, violation = NULL "
                "WHERE expires_at IS NOT NULL OR violation IS NOT NULL"
            )
            last_id = 0
            while True:
                # chunks by id (= per-issuer seq order), fetched whole so that no cursor
                # is open on ``statements`` while it is updated
                rows = conn.execute(
                    "SELECT id, issuer, seq, wire, received_from, received_at FROM statements "
                    "WHERE id > ? ORDER BY id LIMIT ?",
                    (last_id, _REBUILD_CHUNK),
                ).fetchall()
                if not rows:
                    break
                plan = AppendPlan()
                updates: list[tuple[int | None, str | None, int]] = []
                ids_of: dict[StatementKey, int] = {}
                name_rows: list[tuple[str, int]] = []
                form_rows: list[tuple[int, bytes, str]] = []
                for statement_id, issuer, seq, wire, received_from, received_at in rows:
                    env = self._cache.get((issuer, seq)) or envelope_from_wire(wire)
                    stored = StoredStatement(env, wire, received_from, _from_us(received_at))
                    effects = indexer(stored)
                    check_index_effects(env, effects)
                    ids, marks, members = index_rows(env, NewStatement(env, received_from, effects))
                    ids_of[(issuer, seq)] = statement_id
                    name_rows.extend(_name_rows(statement_id, effects))
                    if is_indexed(effects):
                        form_rows.append((statement_id, effects.form, encode_keys(effects)))
                    plan.ids.extend(ids)
                    plan.marks.extend(marks)
                    plan.memberships.extend(members)
                    if effects.expires_at is not None or effects.violation:
                        expiry = None if effects.expires_at is None else _to_us(effects.expires_at)
                        updates.append((expiry, effects.violation or None, statement_id))
                last_id = rows[-1][0]
                indexed += len(rows)
                conn.executemany(_INSERT_INDEX, [(sc, v, ids_of[(i, q)]) for sc, v, i, q in plan.ids])
                conn.executemany(_INSERT_NAME, name_rows)
                conn.executemany(_INSERT_FORM, form_rows)
                conn.executemany(_INSERT_MARK, plan.marks)
                conn.executemany(_UPSERT_MEMBERSHIP, plan.memberships)
                conn.executemany("UPDATE statements SET expires_at = ?, violation = ? WHERE id = ?", updates)
        return indexed

    def membership(self, issuer: str, programme: str, member_id: str) -> tuple[int, str] | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT seq, status FROM memberships WHERE issuer = ? AND programme = ? AND member_id = ?",
                (issuer, programme, member_id),
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def memberships(
        self, issuer: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, str]]:
        wanted = list(dict.fromkeys(keys))
        out: dict[tuple[str, str], tuple[int, str]] = {}
        # one read state for the whole batch, in chunks under SQLite's bound-parameter limit
        with self._reading(snapshot=True) as conn:
            for start in range(0, len(wanted), 400):
                chunk = wanted[start : start + 400]
                marks = ", ".join(["(?, ?)"] * len(chunk))
                sql = f"SELECT programme, member_id, seq, status FROM memberships WHERE issuer = ? AND (programme, member_id) IN (VALUES {marks})"  # noqa: S608 - placeholders only
                rows = conn.execute(sql, (issuer, *(part for key in chunk for part in key))).fetchall()
                out.update({(str(p), str(m)): (int(q), str(st)) for p, m, q, st in rows})
        return out

    def violations(self, *, limit: int = 1000) -> list[StoredStatement]:
        with self._reading() as conn:
            rows = conn.execute(
                f"{_SELECT_STORED} FROM statements AS s WHERE s.violation IS NOT NULL ORDER BY s.id LIMIT ?",
                (max(limit, 0),),
            ).fetchall()
        return [self._stored(row, cache=False) for row in rows]

    # ------------------------------------------------------------ deferred signature checks

    def unverified(self, *, limit: int = 4096) -> list[PendingCheck]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT issuer, seq, wire FROM statements WHERE verified = 0 AND violation IS NULL "
                "ORDER BY issuer, seq LIMIT ?",
                (max(limit, 0),),
            ).fetchall()
        return [PendingCheck((issuer, int(seq)), *signed_parts_from_wire(wire)) for issuer, seq, wire in rows]

    def mark_verified(self, keys: Sequence[StatementKey]) -> None:
        with self._writing() as conn:
            conn.executemany("UPDATE statements SET verified = 1 WHERE issuer = ? AND seq = ?", keys)

    def verified_heads(self) -> dict[str, int]:
        with self._reading(snapshot=True) as conn:
            heads = dict(conn.execute("SELECT issuer, seq FROM heads").fetchall())
            pending = conn.execute(
                "SELECT issuer, MIN(seq) FROM statements WHERE verified = 0 GROUP BY issuer"
            ).fetchall()
        for issuer, first in pending:
            heads[issuer] = int(first) - 1
        return {issuer: int(seq) for issuer, seq in heads.items()}

    def refuse_unverified(self, key: StatementKey, violation: str) -> None:
        issuer, seq = key
        with self._writing() as conn:
            row = conn.execute("SELECT id FROM statements WHERE issuer = ? AND seq = ?", key).fetchone()
            if row is None:
                raise NotFound(f"{issuer} seq {seq} is not held")
            retired = conn.execute(
                "SELECT target_seq FROM marks WHERE issuer = ? AND by_seq = ?", key
            ).fetchall()
            conn.execute("DELETE FROM party_index WHERE statement_id = ?", (row[0],))
            conn.execute("DELETE FROM name_index WHERE statement_id = ?", (row[0],))
            conn.execute("DELETE FROM name_forms WHERE statement_id = ?", (row[0],))
            conn.execute("DELETE FROM marks WHERE issuer = ? AND by_seq = ?", key)
            # the refused statement leaves every memory index; what it retired counts again
            conn.executemany(_INSERT_LOG, [key, *((issuer, int(r[0])) for r in retired)])
            conn.execute("DELETE FROM memberships WHERE issuer = ? AND seq = ?", key)
            conn.execute("UPDATE statements SET violation = ? WHERE id = ?", (violation, row[0]))
            conn.execute(
                "INSERT OR IGNORE INTO suspended_issuers (issuer, reason, since) VALUES (?, ?, ?)",
                (issuer, f"bad signature at seq {seq} under its own checkpoint", _now_us()),
            )

    # ------------------------------------------------------------ the index change log

    def index_state(self) -> IndexState:
        """The position, read from the tables only when the file changed since the last read.

        Called before every Lookup and Screen, so it is answered from one connection that
        never writes: its ``PRAGMA data_version`` moves whenever any other connection
        commits to the file (this store's writer, another store or process on the same
        file; in WAL mode each commit changes the header every read checks), and not for a
        rollback. The version is read before the position, so a commit in between only
        makes the next call read the position again.
        """
        with self._watch_lock:
            self._check_open()
            if self._watch is None:
                self._watch = self._connect(writer=False)
            version = int(self._watch.execute("PRAGMA data_version").fetchone()[0])
            if self._watched is None or self._watched[0] != version:
                row = self._watch.execute(
                    "SELECT epoch, (SELECT IFNULL(MAX(generation), 0) FROM index_log) FROM index_state"
                ).fetchone()
                self._watched = (version, IndexState(epoch=int(row[0]), generation=int(row[1])))
            return self._watched[1]

    def index_changes(self, after: int, *, limit: int = 50_000) -> IndexChanges:
        with self._reading(snapshot=True) as conn:
            epoch = int(conn.execute("SELECT epoch FROM index_state").fetchone()[0])
            rows = conn.execute(
                "SELECT generation, issuer, seq FROM index_log WHERE generation > ? ORDER BY generation LIMIT ?",
                (after, max(limit, 1)),
            ).fetchall()
        generation = int(rows[-1][0]) if rows else after
        return IndexChanges(epoch, generation, tuple((issuer, int(seq)) for _, issuer, seq in rows))

    def index_entries(self, keys: Sequence[StatementKey]) -> list[IndexEntry]:
        out: list[IndexEntry] = []
        with self._reading(snapshot=True) as conn:
            for key in dict.fromkeys(keys):
                row = conn.execute(_INDEX_ENTRY, key).fetchone()
                if row is not None:
                    out.append(_entry(*row))
        return out

    def index_forms(self, *, chunk: int = 20_000) -> Iterator[list[IndexEntry]]:
        last_id = 0
        while True:
            with self._reading() as conn:
                rows = conn.execute(_INDEX_FORMS, (last_id, max(chunk, 1))).fetchall()
            if not rows:
                return
            last_id = rows[-1][0]
            yield [_entry(*row[1:]) for row in rows]

    def get_many(self, keys: Sequence[StatementKey]) -> dict[StatementKey, StoredStatement]:
        wanted = list(dict.fromkeys(keys))
        out: dict[StatementKey, StoredStatement] = {}
        # one query per chunk, not one per key: each query lets the GIL go and wait to come
        # back, which under concurrent Screens cost more than the read (a batch asks ~150)
        with self._reading(snapshot=True) as conn:
            for start in range(0, len(wanted), _GET_MANY_CHUNK):
                chunk = wanted[start : start + _GET_MANY_CHUNK]
                pairs = ",".join(["(?, ?)"] * len(chunk))
                rows = conn.execute(
                    f"WITH q (issuer, seq) AS (VALUES {pairs}) {_SELECT_STORED}"
                    " FROM q JOIN statements AS s ON s.issuer = q.issuer AND s.seq = q.seq",
                    [part for key in chunk for part in key],
                ).fetchall()
                for row in rows:
                    stored = self._stored(row)
                    out[stored.key] = stored
        return out

    # ------------------------------------------------------------ checkpoints

    def put_checkpoint(self, checkpoint: SignedCheckpoint) -> bool:
        with self._writing() as conn:
            return self._write_checkpoint(conn, checkpoint)

    def _write_checkpoint(self, conn: sqlite3.Connection, checkpoint: SignedCheckpoint) -> bool:
        """``put_checkpoint`` inside the caller's transaction (it may have appended the statements)."""
        cp = checkpoint.checkpoint
        wire = signed_checkpoint_to_wire(checkpoint)
        time = _to_us(cp.time)
        statement = conn.execute(
            "SELECT digest FROM statements WHERE issuer = ? AND seq = ?", (cp.issuer, clamp_seq(cp.seq))
        ).fetchone()
        history = conn.execute(
            "SELECT head_digest, time FROM checkpoint_history WHERE issuer = ? AND seq = ?",
            (cp.issuer, clamp_seq(cp.seq)),
        ).fetchone()
        latest = conn.execute("SELECT seq, time FROM checkpoints WHERE issuer = ?", (cp.issuer,)).fetchone()
        plan = plan_checkpoint(
            checkpoint,
            held_statement_digest=None if statement is None else bytes(statement[0]),
            history=None if history is None else (bytes(history[0]), _from_us(history[1])),
            latest=None if latest is None else (int(latest[0]), _from_us(latest[1])),
        )
        if plan.insert_history:
            conn.execute(_INSERT_CHECKPOINT_HISTORY, (cp.issuer, cp.seq, cp.head_digest, time, wire))
        elif plan.refresh_history:
            conn.execute(
                "UPDATE checkpoint_history SET time = ?, wire = ? WHERE issuer = ? AND seq = ?",
                (time, wire, cp.issuer, cp.seq),
            )
        if not plan.set_latest:
            return False
        conn.execute(
            """
            INSERT INTO checkpoints (issuer, seq, head_digest, time, wire) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (issuer) DO UPDATE SET seq = excluded.seq, head_digest = excluded.head_digest,
                time = excluded.time, wire = excluded.wire
            """,
            (cp.issuer, cp.seq, cp.head_digest, time, wire),
        )
        return True

    def checkpoint(self, issuer: str) -> SignedCheckpoint | None:
        with self._reading() as conn:
            row = conn.execute("SELECT wire FROM checkpoints WHERE issuer = ?", (issuer,)).fetchone()
        return None if row is None else signed_checkpoint_from_wire(row[0])

    def checkpoints(self) -> dict[str, SignedCheckpoint]:
        with self._reading() as conn:
            rows = conn.execute("SELECT issuer, wire FROM checkpoints ORDER BY issuer").fetchall()
        return {issuer: signed_checkpoint_from_wire(wire) for issuer, wire in rows}

    def checkpoints_between(self, issuer: str, after_seq: int, upto_seq: int) -> list[SignedCheckpoint]:
        if after_seq >= upto_seq:
            return []
        # seqs are stored as signed 64-bit integers; a wider bound only means "all of them"
        after_seq, upto_seq = clamp_seq(after_seq), clamp_seq(upto_seq)
        with self._reading() as conn:
            rows = conn.execute(_CHECKPOINTS_BETWEEN, (issuer, after_seq, upto_seq)).fetchall()
        return [signed_checkpoint_from_wire(row[0]) for row in rows]

    def checkpoint_at_or_before(self, issuer: str, seq: int) -> SignedCheckpoint | None:
        if seq < 0:
            return None
        with self._reading() as conn:
            row = conn.execute(_CHECKPOINT_AT_OR_BEFORE, (issuer, clamp_seq(seq))).fetchone()
        return None if row is None else signed_checkpoint_from_wire(row[0])

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
                seq=seq,
                held=envelope_from_wire(held),
                conflicting=envelope_from_wire(conflicting),
                detected_at=_from_us(detected_at),
                reported_by=reported_by,
            )
            for issuer, seq, held, conflicting, detected_at, reported_by in rows
        ]

    # ------------------------------------------------------------ cosignatures

    def put_cosignature(self, cosignature: SignedCosignature) -> bool:
        cos = cosignature.cosignature
        wire = signed_cosignature_to_wire(cosignature)
        with self._writing() as conn:
            cursor = conn.execute(
                """
                INSERT OR IGNORE INTO cosignatures (issuer, seq, witness, head_digest, witnessed_at, wire)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
                (cos.issuer, clamp_seq(cos.seq), cos.witness, cos.head_digest, _to_us(cos.time), wire),
            )
            return bool(cursor.rowcount > 0)

    def cosignatures_at(self, issuer: str, seq: int) -> list[SignedCosignature]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT wire FROM cosignatures WHERE issuer = ? AND seq = ? ORDER BY id",
                (issuer, clamp_seq(seq)),
            ).fetchall()
        return [signed_cosignature_from_wire(row[0]) for row in rows]

    def cosignatures_between(self, issuer: str, after_seq: int, upto_seq: int) -> list[SignedCosignature]:
        if after_seq >= upto_seq:
            return []
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT wire FROM cosignatures WHERE issuer = ? AND seq > ? AND seq <= ? ORDER BY seq, id",
                (issuer, clamp_seq(after_seq), clamp_seq(upto_seq)),
            ).fetchall()
        return [signed_cosignature_from_wire(bytes(row[0])) for row in rows]

    def cosignatures_after(self, after_id: int, limit: int) -> list[tuple[int, SignedCosignature]]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, wire FROM cosignatures WHERE id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [(int(row[0]), signed_cosignature_from_wire(bytes(row[1]))) for row in rows]

    def witnessed_heads(self, issuer: str) -> dict[str, SignedCosignature]:
        with self._reading() as conn:
            rows = conn.execute(
                """
                SELECT c.witness, c.wire FROM cosignatures c
                JOIN (
                    SELECT witness, MAX(seq) AS seq FROM cosignatures WHERE issuer = ? GROUP BY witness
                ) top ON c.witness = top.witness AND c.seq = top.seq
                WHERE c.issuer = ?
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
        with self._writing() as conn:
            cursor = conn.execute(
                """
                INSERT OR IGNORE INTO evidence
                    (kind, issuer, seq, detail, wires, fingerprint, reported_by, detected_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    kind,
                    issuer,
                    clamp_seq(seq),
                    detail,
                    blob,
                    evidence_fingerprint(blob),
                    reported_by,
                    _now_us(),
                ),
            )
            if suspend:
                conn.execute(
                    "INSERT OR IGNORE INTO suspended_issuers (issuer, reason, since) VALUES (?, ?, ?)",
                    (issuer, suspend, _now_us()),
                )
        return cursor.rowcount > 0

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
                    id=evidence_id,
                    kind=kind,
                    issuer=issuer,
                    seq=seq,
                    detail=detail,
                    envelopes=tuple(envelope_from_wire(w) for w in envs),
                    checkpoints=tuple(signed_checkpoint_from_wire(w) for w in cps),
                    detected_at=_from_us(detected_at),
                    reported_by=reported_by,
                )
            )
        return out

    def receipt_record(self, key: str, principal: str) -> ReceiptRecord | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT refs, request_digest, created_at FROM receipts WHERE principal = ? AND key = ?",
                (principal, key),
            ).fetchone()
        if row is None:
            return None
        refs = tuple((str(issuer), int(seq)) for issuer, seq in json.loads(row[0]))
        return ReceiptRecord(statements=refs, request_digest=bytes(row[1]), created_at=_from_us(row[2]))

    def receipt(self, key: str, principal: str) -> list[StatementKey] | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT refs FROM receipts WHERE principal = ? AND key = ?", (principal, key)
            ).fetchone()
        if row is None:
            return None
        return [(str(issuer), int(seq)) for issuer, seq in json.loads(row[0])]

    @staticmethod
    def _alarm(row: Sequence[Any]) -> Alarm:
        alarm_id, kind, issuer, detail, raised_at, last_raised_at, count, acknowledged_at, peer = row
        return Alarm(
            id=alarm_id,
            kind=kind,
            issuer=issuer,
            detail=detail,
            raised_at=_from_us(raised_at),
            last_raised_at=_from_us(last_raised_at),
            count=count,
            acknowledged_at=_opt_from_us(acknowledged_at),
            peer=peer,
        )

    def raise_alarm(self, kind: str, issuer: str, detail: str, *, peer: str = "") -> Alarm:
        now = _now_us()
        with self._writing() as conn:
            # the partial unique index alarms_open_per_peer makes this the one open alarm
            conn.execute(
                """
                INSERT INTO alarms (kind, issuer, peer, detail, raised_at, last_raised_at, count)
                VALUES (?, ?, ?, ?, ?, ?, 1)
                ON CONFLICT (kind, issuer, peer) WHERE acknowledged_at IS NULL
                DO UPDATE SET count = count + 1, last_raised_at = excluded.last_raised_at,
                              detail = excluded.detail
                """,
                (kind, issuer, peer, detail, now, now),
            )
            row = conn.execute(
                f"{_SELECT_ALARM} WHERE kind = ? AND issuer = ? AND peer = ? AND acknowledged_at IS NULL",
                (kind, issuer, peer),
            ).fetchone()
        return self._alarm(row)

    def alarms(
        self, *, include_acknowledged: bool = False, after_id: int = 0, limit: int | None = None
    ) -> list[Alarm]:
        sql = _ALL_ALARMS if include_acknowledged else _OPEN_ALARMS
        bounds = (max(0, min(after_id, MAX_INT64)), -1 if limit is None else max(0, min(limit, MAX_INT64)))
        with self._reading() as conn:
            rows = conn.execute(sql, bounds).fetchall()
        return [self._alarm(row) for row in rows]

    def alarm_count(self, *, include_acknowledged: bool = False) -> int:
        with self._reading() as conn:
            sql = "SELECT count(*) FROM alarms" if include_acknowledged else _COUNT_OPEN_ALARMS
            return int(conn.execute(sql).fetchone()[0])

    def acknowledge_alarm(self, alarm_id: int) -> Alarm:
        with self._writing() as conn:
            conn.execute(
                "UPDATE alarms SET acknowledged_at = ? WHERE id = ? AND acknowledged_at IS NULL",
                (_now_us(), alarm_id),
            )
            row = conn.execute(f"{_SELECT_ALARM} WHERE id = ?", (alarm_id,)).fetchone()
        if row is None:
            raise NotFound(f"no alarm with id {alarm_id}; list them with the Admin status call")
        return self._alarm(row)

    def suspend_issuer(self, issuer: str, reason: str) -> Suspension:
        with self._writing() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO suspended_issuers (issuer, reason, since) VALUES (?, ?, ?)",
                (issuer, reason, _now_us()),
            )
            row = conn.execute(
                "SELECT reason, since FROM suspended_issuers WHERE issuer = ?", (issuer,)
            ).fetchone()
        return Suspension(issuer, row[0], _from_us(row[1]))

    def resume_issuer(self, issuer: str) -> bool:
        with self._writing() as conn:
            cursor = conn.execute("DELETE FROM suspended_issuers WHERE issuer = ?", (issuer,))
        return cursor.rowcount > 0

    def suspended_issuers(self) -> dict[str, Suspension]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT issuer, reason, since FROM suspended_issuers ORDER BY issuer"
            ).fetchall()
        return {issuer: Suspension(issuer, reason, _from_us(since)) for issuer, reason, since in rows}

    # ------------------------------------------------------------ directory

    def directory_head(self) -> StoredDirectory | None:
        with self._reading() as conn:
            row = conn.execute(_SELECT_DIRECTORY_HEAD).fetchone()
        return None if row is None else StoredDirectory(row[0], row[1], bytes(row[2]), _from_us(row[3]))

    def record_directory(self, version: int, digest: str, document: bytes) -> StoredDirectory:
        with self._writing() as conn:
            row = conn.execute(_SELECT_DIRECTORY_HEAD).fetchone()
            head = None if row is None else StoredDirectory(row[0], row[1], bytes(row[2]), _from_us(row[3]))
            if not check_directory_record(head, version, digest) and head is not None:
                return head  # the head itself: nothing to record
            now = _now_us()
            conn.execute(
                "INSERT INTO directory_versions (version, digest, document, accepted_at) VALUES (?, ?, ?, ?)",
                (version, digest, document, now),
            )
        return StoredDirectory(version, digest, document, _from_us(now))

    def directory_document(self, version: int) -> StoredDirectory | None:
        with self._reading() as conn:
            row = conn.execute(
                "SELECT version, digest, document, accepted_at FROM directory_versions WHERE version = ?",
                (version,),
            ).fetchone()
        return None if row is None else StoredDirectory(row[0], row[1], bytes(row[2]), _from_us(row[3]))

    def record_directory_conflict(self, peer: str, version: int, digest: str, document: bytes) -> bool:
        with self._writing() as conn:
            cursor = conn.execute(
                """
                INSERT OR IGNORE INTO directory_conflicts (version, digest, peer, document, seen_at)
                VALUES (?, ?, ?, ?, ?)
                """,
                (version, digest, peer, document, _now_us()),
            )
        return cursor.rowcount > 0

    def directory_conflicts(self) -> list[DirectoryConflict]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT peer, version, digest, document, seen_at FROM directory_conflicts ORDER BY seen_at, version"
            ).fetchall()
        return [DirectoryConflict(p, v, d, bytes(doc), _from_us(t)) for p, v, d, doc, t in rows]

    # ------------------------------------------------------------ replicas

    @contextmanager
    def publish_lock(self, issuer: str, *, timeout: float = 30.0) -> Iterator[None]:
        """A lock of this process per (file, issuer), shared by every SQLiteStore on the file.

        One gateway process owns a SQLite file (other processes only run maintenance
        commands, which do not publish), so a process-level lock is the whole exclusion
        the contract asks for; it is keyed by the resolved path so two store objects on one
        file exclude each other too.
        """
        self._check_open()
        key = (str(self._path.resolve()), issuer)
        with _PUBLISH_LOCKS_GUARD:
            lock = _PUBLISH_LOCKS.setdefault(key, threading.Lock())
        if not lock.acquire(timeout=max(timeout, 0.0)):
            raise ResourceExhausted(
                f"publishing for {issuer} waited {timeout:g} s for another publisher to finish; retry later"
            )
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------ lifecycle

    def schema_version(self) -> int:
        with self._reading() as conn:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> int:
        while True:
            with self._writing() as conn:
                version = self._checked_version(conn)
                if version == SCHEMA_VERSION:
                    return version
                for sql in MIGRATIONS[version]:
                    conn.execute(sql)
                # both pragmas write the database header inside this transaction
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {version + 1}")

    def _checked_version(self, conn: sqlite3.Connection) -> int:
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"store {self._path}: cannot use it as a SQLite database ({exc})") from exc
        # a file of another program: migrating it would mix our tables into its data
        if app_id != APPLICATION_ID and (app_id != 0 or version != 0 or tables):
            raise ConfigError(f"store {self._path}: this SQLite file is not a borderx store")
        # older code must not write a schema it does not understand
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"database schema {version} is newer than this borderx (knows {SCHEMA_VERSION}); "
                "upgrade borderx"
            )
        return version

    @property
    def location(self) -> str:
        return f"sqlite:///{self._path.resolve()}"

    def size_bytes(self) -> int:
        """The database file plus its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            try:
                total += Path(f"{self._path}{suffix}").stat().st_size
            except OSError:
                continue
        return total

    def close(self) -> None:
        with self._write_lock, self._pool_lock, self._watch_lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle_readers = self._idle_readers, []
            for conn in idle:
                conn.close()
            if self._watch is not None:
                self._watch.close()
            self._writer.close()

    def __repr__(self) -> str:
        return f"SQLiteStore({self.location!r})"
