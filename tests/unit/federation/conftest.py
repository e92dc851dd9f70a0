"""Fixtures shared with the statement tests: a small federation with deterministic keys."""

from tests.unit.statements.conftest import world

__all__ = ["world"]
