"""What only the PostgreSQL backend promises: URLs, schemas, migrations, plans, and replicas.

Several ``PostgresStore`` objects on one schema stand for several gateway replicas sharing
one database: they meet only in the database, as separate processes would.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql
from store_helpers import PG_URL, T0, Chain, PostgresBackend, new, pg_admin

from borderx.errors import ChainGap, ConfigError, Equivocation, IssuerSuspended, ResourceExhausted
from borderx.statements.encoding import signed_checkpoint_to_wire
from borderx.statements.model import GENESIS_DIGEST, Envelope
from borderx.statements.signing import sign_statement
from borderx.store import Store, open_store
from borderx.store import postgres as backend
from borderx.store.postgres import SCHEMA_VERSION, PostgresStore, parse_url

ISSUER = "AU-ABF"


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return parts._replace(netloc=f"{parts.username or 'postgres'}:{password}@{host}").geturl()


@pytest.fixture
def replicas(pg: PostgresBackend) -> Iterator[list[Store]]:
    """Three stores on one schema, as three gateway replicas would open it."""
    with ExitStack() as stack:
        stores = [open_store(pg.url) for _ in range(3)]
        for opened in stores:
            stack.callback(opened.close)
        yield stores


def in_threads(n: int, target: Callable[[int], None]) -> list[BaseException]:
    """Run ``target(i)`` for i in 0..n-1 in threads released together; the errors they raised."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            target(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return errors


def assert_one_gap_free_chain(store: Store, issuer: str, length: int) -> list[Envelope]:
    head = store.head(issuer)
    assert head is not None
    assert head.seq == length
    chain = [s.envelope for s in store.read_range(issuer, 0, length + 10)]
    assert [e.seq for e in chain] == list(range(1, length + 1))
    prev = GENESIS_DIGEST
    for env in chain:
        assert env.header.prev_digest == prev
        prev = env.digest
    assert prev == head.digest
    return chain


# ---------------------------------------------------------------- URLs and schemas


def test_open_store_takes_postgresql_urls_and_never_shows_the_password(pg: PostgresBackend) -> None:
    url = with_password(pg.url, "s3cret")
    store = open_store(url)
    try:
        assert isinstance(store, PostgresStore)
        assert "s3cret" not in store.location
        assert store.location == url.replace(":s3cret@", ":***@")
        assert "s3cret" not in repr(store)
    finally:
        store.close()
    also = open_store(pg.url.replace("postgresql://", "postgres://") + "&password=s3cret")
    try:
        assert also.location.endswith(f"?schema={pg.schema}&password=***")
    finally:
        also.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://bx:s3cret@127.0.0.1:1/test", r"cannot connect to PostgreSQL \(.*127\.0\.0\.1"),
        (
            "postgresql://bx:s3cret@127.0.0.1:1/test?schema=Bx-1",
            "schema 'Bx-1' must be a lower-case identifier",
        ),
        ("postgresql://bx:s3cret@127.0.0.1:1/test?schema=a;drop", "must be a lower-case identifier"),
        ("postgresql://bx:s3cret@127.0.0.1:1/test?schema=a&schema=b", "give the schema parameter once"),
        ("postgresql://bx:s3cret@127.0.0.1:1/test?nonsense=1", "invalid URI query parameter"),
    ],
)
def test_open_store_refuses_what_it_cannot_open(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
    assert "bx:***@127.0.0.1:1" in str(caught.value)


def test_parse_url_strips_schema_and_keeps_the_rest() -> None:
    params, schema = parse_url(
        "postgresql://bx@db:6432/gw?schema=bx_au&sslmode=require&options=-c%20statement_timeout%3D5000"
    )
    assert schema == "bx_au"
    assert params["host"] == "db"
    assert params["port"] == "6432"
    assert params["dbname"] == "gw"
    assert params["sslmode"] == "require"
    assert params["options"] == "-c statement_timeout=5000 -c TimeZone=UTC -c search_path=bx_au"
    assert params["application_name"] == "borderx"
    assert "schema" not in params
    no_schema, none = parse_url("postgres://bx@db/gw")
    assert none is None
    assert no_schema["options"] == "-c TimeZone=UTC"


def test_an_absent_schema_is_created(pg: PostgresBackend) -> None:
    pg.drop()
    store = open_store(pg.url)
    try:
        assert store.schema_version() == SCHEMA_VERSION
    finally:
        store.close()


def test_a_schema_of_another_program_is_refused_and_left_alone(pg: PostgresBackend) -> None:
    with pg_admin() as conn:
        conn.execute(sql.SQL("CREATE TABLE {}.customers (name TEXT)").format(sql.Identifier(pg.schema)))

    with pytest.raises(
        ConfigError, match=rf"schema {pg.schema} holds tables of another program \(customers\)"
    ):
        open_store(pg.url)
    with pg_admin() as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (pg.schema,)
        ).fetchall()
    assert tables == [("customers",)]


def test_replicas_opening_a_fresh_schema_together_migrate_it_once(pg: PostgresBackend) -> None:
    opened: list[Store] = []
    errors = in_threads(3, lambda i: opened.append(open_store(pg.url)))
    try:
        assert errors == []
        assert [s.schema_version() for s in opened] == [SCHEMA_VERSION] * 3
    finally:
        for store in opened:
            store.close()


def test_a_version_1_schema_is_migrated_to_version_2_with_its_data(
    pg: PostgresBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = Chain(ISSUER)
    envs = chain.many(3)
    latest = chain.checkpoint(3)
    with monkeypatch.context() as patch:
        patch.setattr(backend, "MIGRATIONS", backend.MIGRATIONS[:1])
        patch.setattr(backend, "SCHEMA_VERSION", 1)
        old = PostgresStore(pg.url)
        assert old.schema_version() == 1
        old.append([new(e, ids=(("ABN", "51824753556"),)) for e in envs])
        old.close()
    with pg_admin() as conn:
        # what version 1 did with a checkpoint: the latest only, no history table
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.checkpoints (issuer, seq, head_digest, time, wire) VALUES (%s, %s, %s, %s, %s)"
            ).format(sql.Identifier(pg.schema)),
            (
                ISSUER,
                3,
                latest.checkpoint.head_digest,
                latest.checkpoint.time,
                signed_checkpoint_to_wire(latest),
            ),
        )

    store = PostgresStore(pg.url)
    try:
        assert store.schema_version() == SCHEMA_VERSION  # v3 (name_index) follows v2
        assert_one_gap_free_chain(store, ISSUER, 3)
        assert [s.key for s in store.lookup("ABN", "51824753556")] == [(ISSUER, 1), (ISSUER, 2), (ISSUER, 3)]
        [held] = store.checkpoints_between(ISSUER, 0, 3)
        assert signed_checkpoint_to_wire(held) == signed_checkpoint_to_wire(latest)
    finally:
        store.close()


# ---------------------------------------------------------------- schema guards and plans


def test_stored_statements_cannot_be_changed_or_deleted(pg: PostgresBackend) -> None:
    store = open_store(pg.url)
    store.append([new(e) for e in Chain(ISSUER).many(2)])
    store.close()

    with psycopg.connect(PG_URL, options=f"-c search_path={pg.schema}", autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="stored statements are immutable"):
            conn.execute("UPDATE statements SET wire = '\\x00' WHERE seq = 1")
        with pytest.raises(psycopg.errors.RaiseException, match="stored statements are never deleted"):
            conn.execute("DELETE FROM statements WHERE seq = 2")
        with pytest.raises(psycopg.errors.RaiseException, match="stored statements are never deleted"):
            conn.execute("TRUNCATE statements CASCADE")
        count = conn.execute("SELECT count(*) FROM statements").fetchone()
    assert count == (2,)


def test_reads_and_the_head_lock_use_indexes_not_scans(pg: PostgresBackend) -> None:
    store = open_store(pg.url)
    store.append([new(e, ids=(("ABN", str(e.seq % 7)),)) for e in Chain(ISSUER).many(50)])
    store.close()
    with psycopg.connect(PG_URL, options=f"-c search_path={pg.schema}", autocommit=True) as conn:
        # tiny tables are cheapest to scan; forbidding scans shows whether an index can serve
        conn.execute("SET enable_seqscan = off")
        cur = psycopg.ClientCursor(conn)
        for query, args in [
            (backend._LOOKUP_CURRENT, ("ABN", "1")),
            (backend._LOOKUP_ALL, ("ABN", "1")),
            (backend._LOOKUP_MANY, (["ABN", "ABN"], ["1", "2"])),
            (backend._GET, (ISSUER, 1)),
            (backend._READ_RANGE, (ISSUER, 0, 10)),
            (backend._HEAD_FOR_UPDATE, (ISSUER,)),
            (backend._CHECKPOINTS_BETWEEN, (ISSUER, 0, 10)),
            (backend._CHECKPOINT_AT_OR_BEFORE, (ISSUER, 10)),
        ]:
            plan = " | ".join(str(row[0]) for row in cur.execute(f"EXPLAIN {query}", args))
            # a Seq Scan would be O(n) at 1M statements
            assert "Seq Scan" not in plan, plan


# ---------------------------------------------------------------- replicas


def test_replicas_relaying_one_chain_at_once_store_it_once_without_gaps(replicas: list[Store]) -> None:
    envs = Chain(ISSUER).many(60)

    def relay(i: int) -> None:
        store, rng = replicas[i], random.Random(i)
        while (head := store.head(ISSUER)) is None or head.seq < len(envs):
            have = head.seq if head else 0
            # from a little behind the head we saw (duplicates) to a little ahead (a gap)
            start = max(0, have - rng.randint(0, 3) + rng.choice((0, 0, 0, 1)))
            batch = envs[start : start + rng.randint(1, 8)]
            # a gap: another replica is behind us for a moment, so read the head again
            with contextlib.suppress(ChainGap):
                store.append([new(e, ids=(("ABN", str(e.seq)),), received_from=f"peer-{i}") for e in batch])

    assert in_threads(3, relay) == []
    for store in replicas:
        chain = assert_one_gap_free_chain(store, ISSUER, 60)
        assert [e.header_bytes for e in chain] == [e.header_bytes for e in envs]
        assert store.count() == 60
        assert store.equivocations() == []
        assert store.suspended_issuers() == {}
    assert len(replicas[0].lookup("ABN", "60")) == 1


def publish_one(store: Store, chain: Chain, body: bytes) -> Envelope:
    """What the issuer's gateway does for one draft: under the lock, read the head, sign, append."""
    with store.publish_lock(chain.issuer):
        head = store.head(chain.issuer)
        env = sign_statement(
            chain.signer,
            issuer=chain.issuer,
            seq=head.seq + 1 if head else 1,
            prev_digest=head.digest if head else GENESIS_DIGEST,
            issued_at=T0,
            audience=(),
            body_type="designation",
            body=body,
        )
        store.append([new(env, ids=(("ABN", body.decode()),))])
    return env


def test_replicas_publishing_under_the_publish_lock_make_one_gap_free_chain(replicas: list[Store]) -> None:
    chain = Chain(ISSUER)
    per_thread, threads = 12, 6  # two publishing threads per replica

    def publish(i: int) -> None:
        for n in range(per_thread):
            publish_one(replicas[i % 3], chain, f"thread {i} draft {n}".encode())

    assert in_threads(threads, publish) == []
    total = per_thread * threads
    for store in replicas:
        published = assert_one_gap_free_chain(store, ISSUER, total)
        # every draft exactly once
        assert sorted(e.body or b"" for e in published) == sorted(
            f"thread {i} draft {n}".encode() for i in range(threads) for n in range(per_thread)
        )
        assert store.equivocations() == []
        assert store.suspended_issuers() == {}


def test_replicas_signing_without_the_publish_lock_equivocate(replicas: list[Store]) -> None:
    # what publish_lock prevents: two replicas read the same head and sign two headers for
    # seq 1. The head lock decides which is accepted; the other is, by definition, a second
    # signed header for one (issuer, seq), and every replica sees the evidence.
    chain = Chain(ISSUER)
    forks = [chain.build(seq=1, prev=GENESIS_DIGEST, body=f"replica {i}".encode()) for i in range(2)]
    errors = in_threads(2, lambda i: replicas[i].append([new(forks[i])]))

    assert len(errors) == 1
    assert isinstance(errors[0], Equivocation)
    head = replicas[2].head(ISSUER)
    assert head is not None
    assert head.seq == 1
    assert head.digest in {f.digest for f in forks}
    [evidence] = replicas[2].equivocations()
    assert {evidence.held.digest, evidence.conflicting.digest} == {f.digest for f in forks}
    with pytest.raises(IssuerSuspended, match="AU-ABF is suspended"):
        replicas[1].append([new(chain.build(seq=2, prev=head.digest))])


def test_racing_retries_on_different_replicas_store_one_batch(replicas: list[Store]) -> None:
    # three retries of one request, each re-signed by the replica it reached (so the
    # headers differ): the receipt's key decides, and nothing is mistaken for equivocation
    chain = Chain(ISSUER)
    attempts = [chain.build(seq=1, prev=GENESIS_DIGEST, body=f"attempt {i}".encode()) for i in range(3)]
    portal = "spiffe://border5.test/agency/AU-ABF/service/portal"
    results: dict[int, list[tuple[int, bytes, bool]]] = {}

    def retry(i: int) -> None:
        got = replicas[i].append([new(attempts[i])], idempotency=("req-1", portal))
        results[i] = [(r.seq, r.digest, r.duplicate) for r in got]

    assert in_threads(3, retry) == []
    stored = replicas[0].get(ISSUER, 1)
    assert stored is not None
    winner = stored.envelope.digest
    assert sorted(r[0][2] for r in results.values()) == [False, True, True]
    assert all(r == [(1, winner, r[0][2])] for r in results.values())
    assert replicas[0].count() == 1
    assert replicas[0].equivocations() == []
    assert replicas[1].receipt("req-1", portal) == [(ISSUER, 1)]


def test_a_follower_on_one_replica_sees_a_statement_appended_on_another_within_a_second(
    replicas: list[Store],
) -> None:
    a, b = replicas[0], replicas[1]
    seen_at: list[float] = []

    def follow() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            # a follower stream's loop: read what is new, else wait for a change
            if b.read_range(ISSUER, 0, 10):
                seen_at.append(time.monotonic())
                return
            b.wait_for_change(5.0)

    follower = threading.Thread(target=follow)
    follower.start()
    time.sleep(0.3)  # the follower is waiting (with a 5 s timeout) before the append
    appended_at = time.monotonic()
    a.append([new(Chain(ISSUER).next())])
    follower.join(timeout=15)

    assert seen_at, "the follower never saw the statement"
    assert seen_at[0] - appended_at < 1.0


def test_a_change_between_two_waits_is_reported_by_the_next_one(replicas: list[Store]) -> None:
    a, b = replicas[0], replicas[1]
    b.wait_for_change(0)  # this thread now follows b's changes
    a.append([new(Chain(ISSUER).next())])
    time.sleep(0.5)  # the notification arrives while nobody waits

    started = time.monotonic()
    assert b.wait_for_change(5.0)
    assert time.monotonic() - started < 0.5


def test_append_notifies_the_last_seq_per_issuer_at_commit(pg: PostgresBackend) -> None:
    store = open_store(pg.url)
    # issuers of this test only: the channel is per database, others may be notifying on it
    tag = secrets.token_hex(4).upper()
    au, us = Chain(f"AU-N{tag}"), Chain(f"US-N{tag}")
    with psycopg.connect(PG_URL, autocommit=True) as listener:
        listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(PostgresStore.notify_channel)))
        try:
            store.append([new(au.next()), new(us.next()), new(au.next())])
            with pytest.raises(ChainGap):
                store.append([new(au.build(seq=9, prev=au.prev))])  # rolled back: no notification
            store.append([new(e) for e in au.made])  # duplicates only: nothing new, no notification
        finally:
            store.close()
        # the commits happened before append returned; delivery is all that is left
        got = [n.payload for n in listener.notifies(timeout=0.3) if tag in n.payload]
    assert sorted(got) == [f"AU-N{tag}:2", f"US-N{tag}:1"]


HOLD_LOCK = """
import sys, time
from borderx.store import open_store
store = open_store(sys.argv[1])
with store.publish_lock("AU-ABF"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_the_publish_lock_of_a_killed_replica_is_released(pg: PostgresBackend) -> None:
    open_store(pg.url).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, pg.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    store = open_store(pg.url)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        with (
            pytest.raises(ResourceExhausted, match=r"waited 0\.2 s"),
            store.publish_lock("AU-ABF", timeout=0.2),
        ):
            pass
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)
        # the server ends the dead replica's session, and its transaction's lock with it
        with store.publish_lock("AU-ABF", timeout=10):
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
        store.close()


def test_equivocation_evidence_is_kept_when_the_batch_rolls_back(replicas: list[Store]) -> None:
    chain = Chain(ISSUER)
    envs = chain.many(3)
    replicas[0].append([new(e) for e in envs[:2]])
    fork = chain.build(seq=2, prev=envs[0].digest, body=b"fork")

    # the fork comes with a good statement of another issuer: that one is rolled back
    with pytest.raises(Equivocation, match="AU-ABF: equivocation at seq 2"):
        replicas[1].append([new(Chain("US-CBP").next()), new(fork, received_from="NZ-CS")])

    assert replicas[2].count_by_issuer() == {ISSUER: 2}
    [evidence] = replicas[2].equivocations()
    assert evidence.reported_by == "NZ-CS"
    assert evidence.held.header_bytes == envs[1].header_bytes
    assert "equivocation at seq 2" in replicas[2].suspended_issuers()[ISSUER].reason
    assert replicas[0].checkpoint_at_or_before(ISSUER, 2) is None
    assert replicas[0].put_checkpoint(chain.checkpoint(2, at=T0 + timedelta(minutes=1)))
