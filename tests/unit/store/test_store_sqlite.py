"""What only the SQLite backend promises: URLs, file identity, pragmas, schema guards, plans."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from store_helpers import Chain, new

from borderx.errors import ConfigError
from borderx.statements.encoding import envelope_to_wire, signed_checkpoint_to_wire
from borderx.store import IndexEffects, open_store, redact_url
from borderx.store import sqlite as backend
from borderx.store.base import IndexState, StoredStatement
from borderx.store.sqlite import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, SQLiteStore


def test_open_store_takes_sqlite_urls_and_plain_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absolute = open_store(f"sqlite:///{tmp_path / 'abs.db'}")
    assert absolute.location == f"sqlite:///{tmp_path / 'abs.db'}"
    absolute.close()

    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///rel.db")
    assert relative.location == f"sqlite:///{tmp_path / 'rel.db'}"
    relative.close()

    plain = open_store(str(tmp_path / "plain.db"))
    assert isinstance(plain, SQLiteStore)
    plain.close()
    assert {p.name for p in tmp_path.glob("*.db")} == {"abs.db", "rel.db", "plain.db"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://borderx:s3cret@db.example/borderx", "unknown store kind 'mysql'"),
        ("sqlite://host/file.db", r"write sqlite:///path/to/file\.db"),
        ("sqlite:///", r"write sqlite:///path/to/file\.db"),
        (":memory:", "give the path of a database file"),
    ],
)
def test_open_store_refuses_what_it_cannot_open(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("postgresql://bx:pw@db:5432/x") == "postgresql://bx:***@db:5432/x"
    assert redact_url("postgresql://db/x") == "postgresql://db/x"
    assert redact_url("postgresql://db/x?schema=bx&password=pw&sslmode=require") == (
        "postgresql://db/x?schema=bx&password=***&sslmode=require"
    )
    assert redact_url("postgresql://bx:pw@db/x?PASSWORD=pw") == "postgresql://bx:***@db/x?PASSWORD=***"
    assert redact_url("sqlite:////var/lib/borderx/gw.db") == "sqlite:////var/lib/borderx/gw.db"


def test_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"folder .*nowhere does not exist"):
        open_store(str(tmp_path / "nowhere" / "gw.db"))


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are not the pages you are looking for" * 100)
    with pytest.raises(ConfigError, match=r"cannot use it as a SQLite database \(file is not a database\)"):
        open_store(str(path))
    assert path.read_bytes().startswith(b"these are not")


def test_another_programs_sqlite_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (name TEXT)")
    conn.close()

    with pytest.raises(ConfigError, match="this SQLite file is not a borderx store"):
        open_store(str(path))
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("customers",)]
    conn.close()


def test_the_file_is_wal_marked_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    store = SQLiteStore(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        conn.close()
        # synchronous is per connection: the writer's is what makes a commit durable
        assert store._writer.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store._writer.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    finally:
        store.close()


def test_the_database_wal_and_shm_are_created_owner_only(tmp_path: Path) -> None:
    # whatever the umask: bodies for restricted audiences live in these files
    old = os.umask(0o022)
    try:
        path = tmp_path / "gw.db"
        store = SQLiteStore(path)
        try:
            store.append([new(e) for e in Chain("AU-ABF").many(2)])
            files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        finally:
            store.close()
    finally:
        os.umask(old)
    assert {"gw.db", "gw.db-wal", "gw.db-shm"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    SQLiteStore(path).close()
    path.chmod(0o640)  # the operator's choice (e.g. a backup group) is not undone
    SQLiteStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_stored_statements_cannot_be_changed_or_deleted(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    store = SQLiteStore(path)
    store.append([new(e) for e in Chain("AU-ABF").many(2)])
    store.close()

    with sqlite3.connect(path) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="stored statements are immutable"):
            conn.execute("UPDATE statements SET wire = x'00' WHERE seq = 1")
        with pytest.raises(sqlite3.IntegrityError, match="stored statements are never deleted"):
            conn.execute("DELETE FROM statements WHERE seq = 2")
    conn.close()


def test_lookups_use_indexes_not_scans(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "gw.db")
    try:
        conn = store._writer
        for sql, args in [
            (backend._LOOKUP_CURRENT, ("ABN", "1")),
            (backend._LOOKUP_ALL, ("ABN", "1")),
            (backend._GET, ("AU-ABF", 1)),
            (backend._READ_RANGE, ("AU-ABF", 0, 10)),
            (backend._CHECKPOINTS_BETWEEN, ("AU-ABF", 0, 10)),
            (backend._CHECKPOINT_AT_OR_BEFORE, ("AU-ABF", 10)),
        ]:
            plan = " | ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))
            # every table access is a search on a key; a SCAN would be O(n) at 1M statements
            assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", ""), plan
    finally:
        store.close()


def test_open_migrates_an_empty_file_once(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    path.touch()  # an empty file is an empty SQLite database
    first = SQLiteStore(path)
    first.close()
    second = SQLiteStore(path)
    try:
        assert second.migrate() == SCHEMA_VERSION
        assert second.schema_version() == SCHEMA_VERSION
    finally:
        second.close()


def _stored_of(store: SQLiteStore, seq: int) -> StoredStatement:
    got = store.get("AU-ABF", seq)
    assert got is not None
    return got


def test_the_statement_cache_admits_on_the_second_miss(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "gw.db", envelope_cache=64)
    try:
        store.append([new(e) for e in Chain("AU-ABF").many(2)])
        first = _stored_of(store, 1)
        second = _stored_of(store, 1)
        assert second is not first  # a statement asked for once is not kept
        assert _stored_of(store, 1) is second  # the second miss kept it
        assert backend._EnvelopeCache(64).get(("AU-ABF", 1)) is None
        assert backend._EnvelopeCache(0).get(("AU-ABF", 1)) is None
    finally:
        store.close()


def test_a_cached_statement_is_built_again_once_its_row_changes(tmp_path: Path) -> None:
    chain = Chain("AU-ABF")
    store = SQLiteStore(tmp_path / "gw.db", envelope_cache=64)
    try:
        store.append([new(chain.next(), ids=(("ABN", "1"),))])
        _stored_of(store, 1)
        cached = _stored_of(store, 1)
        assert cached.superseded_by is None
        store.append([new(chain.next(), ids=(("ABN", "1"),), supersedes=1)])
        after = _stored_of(store, 1)
        assert after.superseded_by == ("AU-ABF", 2)
        assert not after.current
        assert after.envelope is cached.envelope  # the envelope of (issuer, seq) never changes
        assert _stored_of(store, 1) is after  # the new row's statement took the old one's place
    finally:
        store.close()


def test_the_statement_cache_keeps_a_set_of_statements_sharing_a_slot(tmp_path: Path) -> None:
    ways = backend._WAYS
    store = SQLiteStore(tmp_path / "gw.db", envelope_cache=ways)  # one set: every key shares it
    try:
        store.append([new(e) for e in Chain("AU-ABF").many(ways + 1)])
        for seq in range(1, ways + 1):
            _stored_of(store, seq)
            _stored_of(store, seq)  # the second miss keeps it
        held = [_stored_of(store, seq) for seq in range(1, ways + 1)]
        assert all(_stored_of(store, seq) is held[seq - 1] for seq in range(1, ways + 1))
        for _ in range(2):
            _stored_of(store, ways + 1)  # kept: the oldest of the set gives way
        assert _stored_of(store, ways + 1) is _stored_of(store, ways + 1)
        assert all(_stored_of(store, seq) is held[seq - 1] for seq in range(2, ways + 1))
        assert _stored_of(store, 1) is not held[0]
    finally:
        store.close()


def test_lookups_served_from_the_cache_equal_lookups_from_disk(tmp_path: Path) -> None:
    chain = Chain("AU-ABF")
    path = tmp_path / "gw.db"
    cached = SQLiteStore(path, envelope_cache=1024)
    uncached = SQLiteStore(path, envelope_cache=0)
    try:
        cached.append([new(e, ids=(("ABN", str(e.seq % 3)),)) for e in chain.many(30)])
        for _ in range(3):
            for value in ("0", "1", "2"):
                assert cached.lookup("ABN", value) == uncached.lookup("ABN", value)
    finally:
        cached.close()
        uncached.close()


def test_a_version_1_store_is_migrated_to_version_2_with_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gw.db"
    chain = Chain("AU-ABF")
    envs = chain.many(4)
    latest = chain.checkpoint(4)
    # a store as version 1 of this code left it: only the v1 migrations, the latest
    # checkpoint in ``checkpoints`` (v1 had no history)
    with monkeypatch.context() as patch:
        patch.setattr(backend, "MIGRATIONS", MIGRATIONS[:1])
        patch.setattr(backend, "SCHEMA_VERSION", 1)
        SQLiteStore(path).close()
    # the rows a v1 writer left, written by today's code elsewhere and copied column by column
    scratch = SQLiteStore(tmp_path / "scratch.db")
    scratch.append([new(e, ids=(("ABN", "51824753556"),)) for e in envs], idempotency=("k", "p"))
    scratch.close()
    with sqlite3.connect(path) as conn:
        conn.execute("ATTACH DATABASE ? AS scratch", (str(tmp_path / "scratch.db"),))
        conn.execute(
            "INSERT INTO statements SELECT id, issuer, seq, digest, body_type, received_from, received_at,"
            " expires_at, wire FROM scratch.statements"
        )
        for table in ("heads", "party_index", "marks"):
            conn.execute(f"INSERT INTO {table} SELECT * FROM scratch.{table}")
        # a receipt as v1 stored it (no request digest)
        conn.execute("INSERT INTO receipts SELECT principal, key, refs, created_at FROM scratch.receipts")
        conn.commit()
        conn.execute("DETACH DATABASE scratch")
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert "checkpoint_history" not in {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        conn.execute(
            "INSERT INTO checkpoints (issuer, seq, head_digest, time, wire) VALUES (?, ?, ?, ?, ?)",
            (
                "AU-ABF",
                4,
                latest.checkpoint.head_digest,
                backend._to_us(latest.checkpoint.time),
                signed_checkpoint_to_wire(latest),
            ),
        )
    conn.close()

    store = SQLiteStore(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.directory_head() is None  # the directory migration ran: no directory recorded yet
        assert [s.wire for s in store.read_range("AU-ABF", 0, 10)] == [envelope_to_wire(e) for e in envs]
        assert [s.key for s in store.lookup("ABN", "51824753556")] == [("AU-ABF", s) for s in (1, 2, 3, 4)]
        assert store.receipt("k", "p") == [("AU-ABF", s) for s in (1, 2, 3, 4)]
        record = store.receipt_record("k", "p")
        assert record is not None and record.request_digest == b""  # v5: not known for old receipts
        held = store.checkpoint("AU-ABF")
        assert held is not None
        assert signed_checkpoint_to_wire(held) == signed_checkpoint_to_wire(latest)
        # the history starts with the latest checkpoint the v1 store knew
        assert [signed_checkpoint_to_wire(c) for c in store.checkpoints_between("AU-ABF", 0, 4)] == [
            signed_checkpoint_to_wire(latest)
        ]
        store.append([new(chain.next())])
        assert store.put_checkpoint(chain.checkpoint(5))
        assert [c.seq for c in store.checkpoints_between("AU-ABF", 0, 5)] == [4, 5]
    finally:
        store.close()


#: alarms as a version 2 store held them: deduplicated by detail, the peer inside the detail
V2_ALARMS = [
    # (kind, issuer, detail, raised_at, last_raised_at, count, acknowledged_at)
    ("bad_checkpoint", "NZ-CS", "from peer NZ-CS: checkpoint time 09:01", 10, 11, 2, None),
    ("bad_checkpoint", "NZ-CS", "from peer NZ-CS: checkpoint time 09:02", 20, 21, 1, None),
    ("bad_checkpoint", "NZ-CS", "from peer NZ-CS: checkpoint time 09:00", 5, 6, 1, 7),
    ("bad_checkpoint", "NZ-CS", "from peer AU-ABF: checkpoint time 09:03", 30, 31, 1, None),
    ("equivocation", "GB-HMRC", "seen via peer CA-CBSA: seq 4 twice; GB-HMRC is suspended", 40, 41, 1, None),
    ("gap", "US-CBP", "seq 3..4 withheld", 50, 51, 3, None),
]


def test_a_version_2_store_merges_its_alarms_per_peer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gw.db"
    with monkeypatch.context() as patch:
        patch.setattr(backend, "MIGRATIONS", MIGRATIONS[:2])
        patch.setattr(backend, "SCHEMA_VERSION", 2)
        SQLiteStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO alarms (kind, issuer, detail, raised_at, last_raised_at, count, acknowledged_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            V2_ALARMS,
        )
    conn.close()

    store = SQLiteStore(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        merged = {(a.kind, a.issuer, a.peer): a for a in store.alarms()}
        assert set(merged) == {
            ("bad_checkpoint", "NZ-CS", "NZ-CS"),
            ("bad_checkpoint", "NZ-CS", "AU-ABF"),
            ("equivocation", "GB-HMRC", "CA-CBSA"),
            ("gap", "US-CBP", ""),
        }
        nz = merged["bad_checkpoint", "NZ-CS", "NZ-CS"]
        assert (nz.id, nz.count, nz.detail) == (1, 3, "from peer NZ-CS: checkpoint time 09:02")
        assert (backend._to_us(nz.raised_at), backend._to_us(nz.last_raised_at)) == (10, 21)
        assert merged["gap", "US-CBP", ""].count == 3
        assert store.alarm_count(include_acknowledged=True) == 5  # the acknowledged one is kept
        again = store.raise_alarm("bad_checkpoint", "NZ-CS", "from peer NZ-CS: 09:05", peer="NZ-CS")
        assert (again.id, again.count) == (nz.id, 4)
    finally:
        store.close()


def test_sqlite_does_not_observe_other_writers_so_wait_for_change_sleeps(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "gw.db")
    try:
        started = time.monotonic()
        assert store.wait_for_change(0.05) is False
        assert time.monotonic() - started >= 0.05
    finally:
        store.close()


def _held_index_state(path: Path) -> IndexState:
    """The position as the file holds it, read on a connection of its own."""
    with closing(sqlite3.connect(path)) as conn:
        epoch = conn.execute("SELECT epoch FROM index_state").fetchone()[0]
        generation = conn.execute("SELECT IFNULL(MAX(generation), 0) FROM index_log").fetchone()[0]
    return IndexState(epoch=epoch, generation=generation)


def test_index_state_follows_every_writer_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    au, us = Chain("AU-ABF"), Chain("US-CBP")
    store, other = SQLiteStore(path), SQLiteStore(path)
    try:
        first = store.index_state()
        assert first == _held_index_state(path) and store.index_state() == first

        store.append([new(au.next(), ids=(("ABN", "1"),))])  # its own writer
        assert store.index_state().generation > first.generation
        assert store.index_state() == _held_index_state(path)

        other.append([new(us.next(), ids=(("ABN", "2"),))])  # another connection to the file
        assert store.index_state() == _held_index_state(path)

        other.rebuild_index(lambda stored: IndexEffects(kind="designation"))
        assert store.index_state().epoch == first.epoch + 1
        assert store.index_state() == _held_index_state(path)

        # another process: the CLI's ``borderx store`` commands open the gateway's file too
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from borderx.store import IndexEffects, open_store; "
                "open_store(sys.argv[1]).rebuild_index(lambda s: IndexEffects(kind='designation'))",
                str(path),
            ],
            check=True,
        )
        assert store.index_state().epoch == first.epoch + 2
        assert store.index_state() == _held_index_state(path)
    finally:
        store.close()
        other.close()


def test_index_state_is_unmoved_by_a_rollback_and_moved_by_the_next_commit(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    store = SQLiteStore(path)
    try:
        before = store.index_state()
        with closing(sqlite3.connect(path, isolation_level=None)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO index_log (issuer, seq) VALUES ('AU-ABF', 1)")
            conn.execute("ROLLBACK")
            assert store.index_state() == before == _held_index_state(path)
            conn.execute("INSERT INTO index_log (issuer, seq) VALUES ('AU-ABF', 1)")
        assert store.index_state() == IndexState(epoch=before.epoch, generation=before.generation + 1)
    finally:
        store.close()


def test_index_state_keeps_no_snapshot_that_would_hold_the_wal_back(tmp_path: Path) -> None:
    path = tmp_path / "gw.db"
    au = Chain("AU-ABF")
    store = SQLiteStore(path)
    try:
        for _ in range(3):
            store.append([new(au.next(), ids=(("ABN", "1"),))])
            store.index_state()
        with closing(sqlite3.connect(path)) as conn:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
        assert os.path.getsize(f"{path}-wal") == 0
        assert store.index_state() == _held_index_state(path)
    finally:
        store.close()
