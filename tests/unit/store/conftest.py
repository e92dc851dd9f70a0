"""Fixtures for the store contract suite: one ``backend`` per kind of store, and test chains."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_helpers import Backend, Chain, PostgresBackend, SQLiteBackend

from borderx.store import Store, open_store


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield SQLiteBackend(tmp_path)
    elif request.param == "postgres":
        pg = PostgresBackend()
        yield pg
        pg.drop()
    else:
        raise AssertionError(f"unknown backend {request.param}")


@pytest.fixture
def pg() -> Iterator[PostgresBackend]:
    """A fresh PostgreSQL schema, for the PostgreSQL-only tests."""
    backend = PostgresBackend()
    yield backend
    backend.drop()


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = open_store(backend.url)
    yield opened
    opened.close()


@pytest.fixture
def au() -> Chain:
    return Chain("AU-ABF")


@pytest.fixture
def us() -> Chain:
    return Chain("US-CBP")
