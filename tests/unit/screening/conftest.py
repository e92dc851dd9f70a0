"""Fixtures shared by the screening tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from borderx.store import open_store
from borderx.store.base import Store
from tests.unit.store.store_helpers import PostgresBackend


@pytest.fixture(params=["sqlite", "postgres"])
def two_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    """(writer, reader): two store objects on one database, as two processes or replicas have."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gw.db'}"
        backend = None
    else:
        backend = PostgresBackend()
        url = backend.url
    writer, reader = open_store(url), open_store(url)
    try:
        yield writer, reader
    finally:
        writer.close()
        reader.close()
        if backend is not None:
            backend.drop()
