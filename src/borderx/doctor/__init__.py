"""``borderx doctor``: check a gateway's configuration without starting it.

This package owns the checks, as a library: :func:`run_checks` reads one gateway's TOML
and returns a list of :class:`Check`, each saying what was checked, whether it passed,
how bad a failure is (``error``: the gateway will not start or will not federate;
``warning``: it runs, but something will break or someone will be surprised), the
problem with its numbers (paths, dates, key ids, serials) and the fix.

One module per concern, run in this order (each needs what the ones before it found,
carried in a :class:`~borderx.doctor._base.Context`):

1. :mod:`.config`: the TOML is readable and valid (nothing else runs without it);
2. :mod:`.tls` (files): ``tls.key``, ``tls.key_mode``, ``tls.certificate``, ``tls.key_match``;
3. :mod:`.directory`: ``directory``, ``directory.freshness``, ``directory.endpoint``;
4. :mod:`.tls` (identity): ``tls.spiffe_id``, ``tls.chain``, ``tls.expiry``,
   ``tls.server_auth``, ``tls.hostnames``;
5. :mod:`.signing`: ``signing.key`` (Ed25519, listed under our agency, valid now),
   ``signing.key_mode``;
6. :mod:`.expiry`: ``expiry.*``, days left on our certificate, each peer agency's
   certificates as known from the directory, and each signing key's window;
7. :mod:`.store`: openable and writable, creating nothing in an existing store;
8. :mod:`.peers`, unless ``network=False``: ``peer.<AGENCY>`` and ``clock.<AGENCY>``.

Nothing here changes state: the store is opened (which applies pending migrations, as the
gateway would at start) only when it exists; otherwise only its folder is probed.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from borderx.doctor import directory as _directory
from borderx.doctor import expiry as _expiry
from borderx.doctor import peers as _peers
from borderx.doctor import signing as _signing
from borderx.doctor import store as _store
from borderx.doctor import tls as _tls
from borderx.doctor._base import (
    CLOCK_SKEW_ERROR,
    CLOCK_SKEW_WARNING,
    DEFAULT_TIMEOUT,
    DIRECTORY_STALE_AFTER,
    EXPIRY_WARNING,
    Check,
    Context,
    Severity,
    error,
    guarded,
    has_errors,
    passed,
    split_host_port,
    warning,
)
from borderx.doctor.config import check_config
from borderx.doctor.peers import clock_check
from borderx.doctor.store import check_postgres, check_sqlite
from borderx.doctor.tls import san_covers

__all__ = [
    "CLOCK_SKEW_ERROR",
    "CLOCK_SKEW_WARNING",
    "DEFAULT_TIMEOUT",
    "DIRECTORY_STALE_AFTER",
    "EXPIRY_WARNING",
    "Check",
    "Severity",
    "check_postgres",
    "check_sqlite",
    "clock_check",
    "error",
    "has_errors",
    "passed",
    "run_checks",
    "san_covers",
    "split_host_port",
    "utcnow",
    "warning",
]

_STEPS: tuple[tuple[str, Callable[[Context], list[Check]]], ...] = (
    ("tls.key", _tls.check_key),
    ("tls.certificate", _tls.check_certificate),
    ("tls.key_match", _tls.check_key_match),
    ("tls.key_mode", _tls.check_key_mode),
    ("directory", _directory.check_directory),
    ("tls.spiffe_id", _tls.check_identity),
    ("tls.expiry", _tls.check_expiry),
    ("tls.server_auth", _tls.check_server_auth),
    ("tls.hostnames", _tls.check_hostnames),
    ("signing.key", _signing.check_signing_key),
    ("expiry", _expiry.check_expiry_table),
    ("store", _store.check_store),
)


def utcnow() -> datetime:
    """The local clock (a module function so tests can shift it)."""
    return datetime.now(UTC)


def run_checks(
    config_path: str | Path,
    *,
    now: datetime | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    network: bool = True,
) -> list[Check]:
    """Check the gateway configured by ``config_path``; never raises for a misconfiguration.

    ``now`` is the local time to check validity windows and clock skew against (default:
    :func:`utcnow`; it advances with the monotonic clock while the checks run).
    ``timeout`` bounds each network step. With ``network=False`` no peer is contacted.
    The first check is always ``config``; when it fails it is the only one.
    """
    start = now if now is not None else utcnow()
    started = time.monotonic()

    def clock() -> datetime:
        return start + timedelta(seconds=time.monotonic() - started)

    config, first = check_config(config_path)
    if config is None:
        return [first]
    ctx = Context(config, clock=clock, timeout=timeout)
    steps = list(_STEPS)
    if network:
        steps.append(("peers", _peers.check_peers))
    checks = [first]
    for name, step in steps:
        checks += guarded(name, functools.partial(step, ctx))
    return checks
