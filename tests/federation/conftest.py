"""Fixtures for federation tests: a PKI for the session, and federations torn down whatever happens."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.federation.harness import Federation


@pytest.fixture(scope="session")
def federation_pki(pki: Path) -> Path:
    """The session's five-agency dev PKI (read-only: the harness writes only into its workdir)."""
    return pki


FederationFactory = Callable[..., Federation]


@pytest.fixture
def federation(federation_pki: Path, tmp_path: Path) -> Iterator[FederationFactory]:
    """``federation(agencies=None, *, start=True, **Federation kwargs) -> Federation``.

    Each call makes a federation in its own folder under ``tmp_path`` (configs, stores and
    gateway logs stay there for a post-mortem) and, unless ``start=False``, starts it. At
    teardown every federation made is stopped — gateways SIGTERMed, proxies closed — even
    when the test failed.
    """
    made: list[Federation] = []

    def make(agencies: Sequence[str] | None = None, *, start: bool = True, **kwargs: Any) -> Federation:
        workdir = tmp_path / f"federation-{len(made)}"
        fed = Federation(federation_pki, workdir, agencies, **kwargs)
        made.append(fed)
        print(f"federation {len(made) - 1}: configs, stores and logs in {workdir}")
        if start:
            fed.start()
        return fed

    yield make
    errors: list[BaseException] = []
    for fed in reversed(made):
        try:
            fed.stop()
        except Exception as exc:  # stop the others anyway
            errors.append(exc)
    if errors:
        raise errors[0]
