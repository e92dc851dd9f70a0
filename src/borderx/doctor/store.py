"""Store check: ``store`` is openable and writable, creating nothing in an existing store.

An existing store is opened with the store's own code (:func:`borderx.store.open_store`,
which applies pending migrations as the gateway would at start, and refuses a file that is
not a borderx store or a schema newer than this code); a store that does not exist yet is
only probed (its folder's writability, or the PostgreSQL user's rights), so nothing is created.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from borderx.doctor._base import Check, Context, error, passed
from borderx.errors import ConfigError

if TYPE_CHECKING:
    from borderx.store import Store


def check_store(ctx: Context) -> list[Check]:
    url = ctx.config.store_url
    if url.startswith(("postgresql://", "postgres://")):
        return [check_postgres(url, timeout=ctx.timeout)]
    return [check_sqlite(url)]


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


@contextlib.contextmanager
def _probe_file(folder: Path) -> Iterator[None]:
    """Create and remove a file in ``folder``: the one test of writability that holds for root too."""
    fd, name = tempfile.mkstemp(prefix=".borderx-doctor-", dir=folder)
    try:
        yield
    finally:
        os.close(fd)
        os.unlink(name)


def check_sqlite(url: str) -> Check:  # noqa: PLR0911 - one return per failure, each with its fix
    from borderx.store import open_store  # noqa: PLC0415 - loads the backend only when checked

    path = Path(url.removeprefix("sqlite:///"))
    folder = path.parent
    if not path.exists():
        if not folder.is_dir():
            existing = _first_existing(folder)
            what = "is a file, not a folder" if existing.is_file() else "does not exist"
            if existing != folder:
                problem = f"store {path}: folder {folder} does not exist ({existing} {what})"
            else:
                problem = f"store {path}: folder {folder} {what}"
            return error(
                "store",
                problem,
                f"point `store` at a file in a writable folder, or create the folder (mkdir -p {folder}) "
                "owned by the user the gateway runs as",
            )
        try:
            with _probe_file(folder):
                pass
        except OSError as exc:
            return error(
                "store",
                f"store {path}: cannot create files in {folder} ({exc.strerror})",
                f"give the user the gateway runs as write access to {folder}, or point `store` elsewhere",
            )
        return passed(
            "store", f"{path} does not exist yet; folder {folder} is writable (created at first start)"
        )
    if path.is_dir():
        return error(
            "store", f"store {path} is a folder, not a database file", f"point `store` at a file in {path}"
        )
    try:
        # O_RDWR fails on a read-only file system or a file we may not write, root or not
        os.close(os.open(path, os.O_RDWR))
        # SQLite's WAL keeps -wal and -shm files next to the database
        with _probe_file(folder):
            pass
    except OSError as exc:
        return error(
            "store",
            f"store {path} is not writable ({exc.strerror}: {exc.filename or path})",
            f"give the user the gateway runs as write access to {path} and its folder {folder}",
        )
    try:
        store = open_store(url)
    except ConfigError as exc:
        return error(
            "store", str(exc), f"point `store` at this gateway's borderx store, or move {path} aside"
        )
    return passed("store", f"{path}: a borderx store, writable, {_describe_open(store)}")


def check_postgres(url: str, *, timeout: float) -> Check:  # noqa: PLR0911 - one return per failure, each with its fix
    """Connect with a short timeout and check the rights the gateway will need; changes nothing."""
    import psycopg  # noqa: PLC0415 - only a PostgreSQL store needs psycopg
    from psycopg.conninfo import make_conninfo  # noqa: PLC0415

    from borderx.store import redact_url  # noqa: PLC0415
    from borderx.store.postgres import parse_url  # noqa: PLC0415

    where = redact_url(url)
    try:
        params, schema = parse_url(url)
    except ConfigError as exc:
        return error("store", str(exc), 'write store = "postgresql://USER@HOST:PORT/DATABASE?schema=NAME"')
    params["connect_timeout"] = str(max(1, round(timeout)))
    password = params.get("password")

    def clean(exc: BaseException) -> str:
        message = str(exc).strip()
        return message.replace(password, "***") if password else message

    try:
        conn = psycopg.connect(make_conninfo("", **params), autocommit=True)
    except psycopg.Error as exc:
        return error(
            "store",
            f"store {where}: cannot connect to PostgreSQL within {params['connect_timeout']} s ({clean(exc)})",
            "check host, port, database, user and password, and that the server accepts this host "
            "(listen_addresses, pg_hba.conf)",
        )
    try:
        with conn:
            row = conn.execute("SHOW transaction_read_only").fetchone()
            if row is not None and row[0] == "on":
                return error(
                    "store",
                    f"store {where}: the server is read-only (a standby?)",
                    "point `store` at the primary",
                )
            tables = conn.execute("SELECT to_regclass('borderx_schema')").fetchone()
            existing = tables is not None and tables[0] is not None
            if existing:
                row = conn.execute(
                    "SELECT has_table_privilege(to_regclass('statements'), 'INSERT')"
                ).fetchone()
                can, what = bool(row and row[0]), "insert into its tables"
            elif (
                schema is not None
                and conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
            ):
                row = conn.execute("SELECT has_schema_privilege(%s, 'CREATE')", (schema,)).fetchone()
                can, what = bool(row and row[0]), f"create tables in schema {schema}"
            elif schema is not None:
                row = conn.execute("SELECT has_database_privilege(current_database(), 'CREATE')").fetchone()
                can, what = bool(row and row[0]), f"create schema {schema}"
            else:
                row = conn.execute(
                    "SELECT current_schema(), has_schema_privilege(current_schema(), 'CREATE')"
                ).fetchone()
                if row is None or row[0] is None:
                    return error(
                        "store",
                        f"store {where}: the search_path names no existing schema",
                        "add ?schema=NAME to the store URL (it is created if absent)",
                    )
                can, what = bool(row[1]), f"create tables in schema {row[0]}"
    except psycopg.Error as exc:
        return error("store", f"store {where}: {clean(exc)}", "check the user's rights on the database")
    if not can:
        return error(
            "store",
            f"store {where}: user {params.get('user', '(default)')} may not {what}",
            f"GRANT the user the right to {what}, or use the gateway's own database user",
        )
    if existing:
        # a borderx schema is there: open it with the store's own code, as the gateway will
        from borderx.store import open_store  # noqa: PLC0415

        try:
            store = open_store(url)
        except ConfigError as exc:
            return error("store", f"store {where}: {exc}", "point `store` at this gateway's borderx store")
        return passed("store", f"{where}: reachable, writable (may {what}), {_describe_open(store)}")
    return passed("store", f"{where}: reachable, writable (may {what})")


def _describe_open(store: Store) -> str:
    """What the store's own probes say of an open store; closes it."""
    try:
        return (
            f"{len(store.heads())} issuer chains held, schema {store.schema_version()}, "
            f"{store.size_bytes()} bytes"
        )
    finally:
        store.close()
