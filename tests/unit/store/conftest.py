"""Fixtures for the store contract suite: one ``backend`` per kind of store, and test chains."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from store_helpers import Backend, Chain, SQLiteBackend

from borderx.store import Store, open_store


@pytest.fixture(params=["sqlite"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        return SQLiteBackend(tmp_path)
    raise AssertionError(f"unknown backend {request.param}")


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
