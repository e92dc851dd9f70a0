"""The list of command modules, in the order ``borderx --help`` shows them."""

from __future__ import annotations

from types import ModuleType

MODULES: list[ModuleType] = []
