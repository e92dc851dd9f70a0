"""What every doctor check shares: the :class:`Check` result, its constructors, the
:class:`Context` the checks fill in for the ones after them, and small formatting helpers.

Nothing here reads a file or the network.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from cryptography import x509

from borderx.config import GatewayConfig
from borderx.directory.model import Agency, Directory

Severity = Literal["error", "warning"]

#: A certificate or signing key that ends within this long is a warning.
EXPIRY_WARNING = timedelta(days=30)
#: A directory issued longer ago than this is stale: it probably misses rotations and revocations.
DIRECTORY_STALE_AFTER = timedelta(days=90)
#: Clock difference to a peer above which doctor warns (seconds).
CLOCK_SKEW_WARNING = 30.0
#: Clock difference to a peer above which doctor reports an error (seconds): key windows,
#: certificate validity and statement times stop agreeing between partners.
CLOCK_SKEW_ERROR = 300.0
#: Default deadline of each network step (TCP connect, TLS handshake, each RPC), seconds.
DEFAULT_TIMEOUT = 3.0

WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]", "*"})  # noqa: S104 - names binds, binds nothing


@dataclass(frozen=True)
class Check:
    """One check's result. ``severity`` is how bad it is when ``ok`` is False.

    ``problem`` and ``fix`` are empty when the check passed; ``detail`` says what was
    found either way (the numbers an operator would want to see).
    """

    name: str
    ok: bool
    severity: Severity
    problem: str
    fix: str
    detail: str = ""

    @property
    def status(self) -> Literal["OK", "WARN", "FAIL"]:
        if self.ok:
            return "OK"
        return "WARN" if self.severity == "warning" else "FAIL"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "ok": self.ok,
            "severity": self.severity,
            "problem": self.problem,
            "fix": self.fix,
            "detail": self.detail,
        }


def passed(name: str, detail: str) -> Check:
    return Check(name, ok=True, severity="error", problem="", fix="", detail=detail)


def error(name: str, problem: str, fix: str) -> Check:
    return Check(name, ok=False, severity="error", problem=problem, fix=fix)


def warning(name: str, problem: str, fix: str) -> Check:
    return Check(name, ok=False, severity="warning", problem=problem, fix=fix)


def has_errors(checks: Iterable[Check]) -> bool:
    return any(not c.ok and c.severity == "error" for c in checks)


@dataclass
class Context:
    """One doctor run: the config, the clock, and what earlier checks found for later ones."""

    config: GatewayConfig
    clock: Callable[[], datetime]
    timeout: float
    key: Any = None
    cert: x509.Certificate | None = None
    pair_ok: bool = False
    directory: Directory | None = None
    checks: list[Check] = field(default_factory=list)

    @property
    def agency(self) -> Agency | None:
        if self.directory is None:
            return None
        return self.directory.agencies.get(self.config.agency)


def guarded(name: str, fn: Callable[[], list[Check]]) -> list[Check]:
    """Run one check; a bug in it becomes an error of that check, not a crash of all of them."""
    try:
        return fn()
    except Exception as exc:  # report and go on: the other checks still tell the operator something
        return [
            error(
                name,
                f"the check itself failed ({type(exc).__name__}: {exc})",
                "report this as a borderx bug, with the output of doctor",
            )
        ]


def serial(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def split_host_port(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host without brackets, port)."""
    host, _, port = address.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def days(delta: timedelta) -> str:
    """A duration as an operator reads it: days, else hours, else minutes."""
    seconds = delta.total_seconds()
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if abs(seconds) >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds:.0f} seconds"


def private_key_mode(name: str, path: Path, what: str) -> Check:
    """FAIL when the private key file ``path`` may be read by its group or by anyone.

    A key another local user can read is a key that user can steal: the TLS key lets them
    speak as this gateway, the signing key lets them sign statements as this agency.
    """
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError as exc:
        return error(name, f"{what} {path}: cannot stat it ({exc.strerror})", f"check that {path} exists")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return error(
            name,
            f"{what} {path} has mode {mode:04o}: its group or other users may read or change it",
            f"chmod 600 {path} (readable by the user the gateway runs as only)",
        )
    return passed(name, f"{path}: mode {mode:04o}, owner only")
