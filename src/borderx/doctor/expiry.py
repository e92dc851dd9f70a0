"""Expiry checks: ``expiry.<AGENCY>`` for every other member, the days left on its CA
certificates and signing keys as the directory lists them (our own certificate and key are
``tls.expiry`` and ``signing.key``). A partner's expiry is its operators' to fix, so an
approaching or past end is a warning here: replication with it stops when it comes.
"""

from __future__ import annotations

from borderx.directory.expiry import Expiry, expiries
from borderx.directory.model import format_time
from borderx.doctor._base import EXPIRY_WARNING, Check, Context, passed, warning


def _describe(entry: Expiry, left_days: float | None) -> str:
    what = "CA certificate serial" if entry.kind == "ca_certificate" else "signing key"
    subject = entry.subject if entry.kind == "ca_certificate" else f"{entry.subject[:16]}…"
    if entry.not_after is None or left_days is None:
        return f"{what} {subject}: no end"
    return f"{what} {subject}: until {format_time(entry.not_after)}, {left_days:.0f} days left"


def check_expiry_table(ctx: Context) -> list[Check]:
    directory = ctx.directory
    if directory is None:
        return []
    now = ctx.clock()
    checks: list[Check] = []
    by_agency: dict[str, list[Expiry]] = {}
    for entry in expiries(directory, own_agency=ctx.config.agency, own_certificate=None):
        if entry.agency != ctx.config.agency and entry.status != "revoked":
            by_agency.setdefault(entry.agency, []).append(entry)
    warn_days = EXPIRY_WARNING.total_seconds() / 86400
    for agency, entries in by_agency.items():
        lefts = [(e, e.days_left(now)) for e in entries]
        text = "; ".join(_describe(e, left) for e, left in lefts)
        ending = [(e, left) for e, left in lefts if left is not None and left < warn_days]
        name = f"expiry.{agency}"
        if ending:
            checks.append(
                warning(
                    name,
                    f"{agency}: "
                    + "; ".join(_describe(e, left) + (" (expired)" if left < 0 else "") for e, left in ending)
                    + f" (warning at {EXPIRY_WARNING.days} days)",
                    f"ask {agency}'s operators to rotate it and the federation to publish a directory "
                    "listing the new one; replication with them stops when it ends",
                )
            )
        else:
            checks.append(passed(name, text))
    return checks
