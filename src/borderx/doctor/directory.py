"""Directory checks: ``directory`` (loads, validates, lists our agency),
``directory.freshness`` (not older than :data:`DIRECTORY_STALE_AFTER`) and
``directory.endpoint`` (our entry's endpoint agrees with ``listen``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from borderx.directory.model import Agency, Directory, format_time
from borderx.doctor._base import (
    CLOCK_SKEW_ERROR,
    DIRECTORY_STALE_AFTER,
    WILDCARD_HOSTS,
    Check,
    Context,
    days,
    error,
    passed,
    split_host_port,
    warning,
)
from borderx.errors import ConfigError


def check_directory(ctx: Context) -> list[Check]:
    path = Path(os.path.normpath(ctx.config.directory_path))  # "US-CBP/../directory.json" reads badly
    try:
        directory = Directory.load(path)
    except ConfigError as exc:
        return [
            error(
                "directory",
                f"directory invalid: {exc}",
                f"replace {path} with the federation's current directory",
            )
        ]
    if ctx.config.agency not in directory.agencies:
        return [
            error(
                "directory",
                f"agency {ctx.config.agency} is not in directory {path} "
                f"({directory.federation} v{directory.version}; members: {', '.join(directory.agencies)})",
                "fix `agency` in the config, or use the directory that lists this agency",
            )
        ]
    ctx.directory = directory
    now = ctx.clock()
    age = now - directory.issued_at
    checks = [
        passed(
            "directory",
            f"{path}: {directory.federation} v{directory.version}, {len(directory.agencies)} agencies",
        )
    ]
    if age > DIRECTORY_STALE_AFTER:
        checks.append(
            warning(
                "directory.freshness",
                f"directory {directory.federation} v{directory.version} was issued "
                f"{format_time(directory.issued_at)}, {days(age)} ago (stale after "
                f"{DIRECTORY_STALE_AFTER.days} days): it may miss key rotations, revocations and members",
                f"get the current directory from the federation's operator, write it to {path}, "
                "then reload the gateway (SIGHUP)",
            )
        )
    elif age < -timedelta(seconds=CLOCK_SKEW_ERROR):
        checks.append(
            warning(
                "directory.freshness",
                f"directory v{directory.version} is issued {format_time(directory.issued_at)}, "
                f"{days(-age)} in the future of this host's clock ({format_time(now)})",
                "check this host's clock (NTP)",
            )
        )
    else:
        checks.append(
            passed("directory.freshness", f"issued {format_time(directory.issued_at)}, {days(age)} ago")
        )
    checks.append(_check_endpoint(ctx, directory.agencies[ctx.config.agency]))
    return checks


def _check_endpoint(ctx: Context, agency: Agency) -> Check:
    listen = ctx.config.listen
    if not agency.endpoint:
        return warning(
            "directory.endpoint",
            f"the directory gives no endpoint for {agency.id}: partners cannot find this gateway",
            f"ask the federation's operator to list {agency.id}'s public HOST:PORT",
        )
    listen_host, listen_port = split_host_port(listen)
    endpoint_host, endpoint_port = split_host_port(agency.endpoint)
    # behind a wildcard bind any host may be right; a port or host difference is worth a look
    # (it is normal behind NAT or a load balancer, which is why this is only a warning)
    differs = listen_port != endpoint_port or (
        listen_host not in WILDCARD_HOSTS and listen_host != endpoint_host
    )
    if differs:
        return warning(
            "directory.endpoint",
            f"the directory lists {agency.id} at {agency.endpoint}, but this gateway listens on {listen}",
            "if partners reach this gateway through NAT or a load balancer, ignore this; otherwise fix "
            "`listen` or ask the federation's operator to correct the directory's endpoint",
        )
    return passed("directory.endpoint", f"directory endpoint {agency.endpoint}, listen {listen}")
