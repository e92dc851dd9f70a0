"""Signing checks: ``signing.key`` (Ed25519, listed under our agency, valid now) and
``signing.key_mode`` (the key file is readable by its owner only).
"""

from __future__ import annotations

from pathlib import Path

from borderx.directory.model import SigningKey, format_time
from borderx.doctor._base import (
    EXPIRY_WARNING,
    Check,
    Context,
    days,
    error,
    passed,
    private_key_mode,
    warning,
)
from borderx.errors import ConfigError, UnknownKey


def check_signing_key(ctx: Context) -> list[Check]:
    checks = _check_signing_key(ctx)
    path = ctx.config.signing_key
    if path is not None and path.is_file():
        checks.append(private_key_mode("signing.key_mode", path, "signing key"))
    return checks


def _check_signing_key(ctx: Context) -> list[Check]:
    from borderx.statements.signing import load_signing_key  # noqa: PLC0415 - only this check needs it

    path = ctx.config.signing_key
    if path is None:
        return [
            warning(
                "signing.key",
                "no [signing] key: this gateway can relay but cannot publish or sign checkpoints",
                "set [signing] key to the agency's Ed25519 key listed in the directory",
            )
        ]
    try:
        signer = load_signing_key(path)
    except ConfigError as exc:
        return [
            error(
                "signing.key",
                str(exc),
                f"point [signing] key at {ctx.config.agency}'s Ed25519 PKCS#8 PEM key (now {path})",
            )
        ]
    directory, agency = ctx.directory, ctx.agency
    kid = signer.key_id
    if directory is None or agency is None:
        return [passed("signing.key", f"{path}: Ed25519, key id {kid[:16]}… (directory not checked)")]
    listed = ", ".join(f"{k.key_id[:16]}…" for k in agency.signing_keys) or "none"
    try:
        key = directory.key(kid)
    except UnknownKey:
        return [
            error(
                "signing.key",
                f"signing key {path} (key id {kid}) is not in directory v{directory.version}; "
                f"{agency.id}'s keys there: {listed}. Partners would refuse everything it signs",
                f"have key id {kid} registered for {agency.id} in the directory, or configure the "
                "key that is listed",
            )
        ]
    if key.agency != agency.id:
        return [
            error(
                "signing.key",
                f"signing key {path} (key id {kid[:16]}…) is listed for {key.agency}, not {agency.id}",
                f"configure {agency.id}'s own key (listed: {listed})",
            )
        ]
    return [_key_window(ctx, key, path)]


def _key_window(ctx: Context, key: SigningKey, path: Path) -> Check:
    now = ctx.clock()
    until = format_time(key.valid_until) if key.valid_until else "no end"
    window = f"valid {format_time(key.valid_from)} to {until}"
    rotate = (
        f"generate a new Ed25519 key, have it listed for {key.agency} in the directory, and point "
        "[signing] key at it"
    )
    name = f"signing key {path} (key id {key.key_id[:16]}…)"
    if key.status == "revoked":
        return error("signing.key", f"{name} is revoked in the directory ({window})", rotate)
    if now < key.valid_from:
        return error("signing.key", f"{name} is not valid yet: {window}; now is {format_time(now)}", rotate)
    if key.valid_until is not None and now >= key.valid_until:
        return error("signing.key", f"{name} expired: {window}; now is {format_time(now)}", rotate)
    if key.valid_until is not None and key.valid_until - now < EXPIRY_WARNING:
        return warning("signing.key", f"{name} expires in {days(key.valid_until - now)}: {window}", rotate)
    left = f" ({days(key.valid_until - now)} left)" if key.valid_until is not None else ""
    return passed(
        "signing.key", f"{path}: Ed25519, key id {key.key_id[:16]}… of {key.agency}, {window}{left}"
    )
