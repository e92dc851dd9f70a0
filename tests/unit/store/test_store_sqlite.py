"""What only the SQLite backend promises: URLs, file identity, pragmas, schema guards, plans."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from store_helpers import Chain, new

from borderx.errors import ConfigError
from borderx.store import open_store, redact_url
from borderx.store import sqlite as backend
from borderx.store.sqlite import APPLICATION_ID, SCHEMA_VERSION, SQLiteStore


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
        ("postgresql://borderx:s3cret@db.example:5432/borderx", "PostgreSQL store is not available yet"),
        ("postgres://borderx:s3cret@db.example/borderx", "PostgreSQL store is not available yet"),
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


def test_the_envelope_cache_admits_on_the_second_miss() -> None:
    env = Chain("AU-ABF").next()
    cache = backend._EnvelopeCache(64)
    key = ("AU-ABF", 1)

    cache.put(key, env)
    assert cache.get(key) is None  # a statement asked for once is not kept
    cache.put(key, env)
    assert cache.get(key) is env
    assert cache.get(("AU-ABF", 2)) is None
    assert backend._EnvelopeCache(0).get(key) is None


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
