"""The gateway's trusted directory: opened from the store and the file, changed only by signed successors.

This is where the pure rules of :mod:`borderx.directory.trust` meet I/O. At start the store's
highest accepted version is the truth, the configured file only a candidate successor;
the very first start trusts the configured file (TUF's shipped root). Every later change
(SIGHUP or ``Admin.ReloadDirectory`` re-reading the file, ``Admin.PublishDirectory``
handing in a document) goes through :meth:`DirectoryHolder.replace`, which verifies it and
records it in the store before anything uses it. A document refused from the file raises
an alarm: someone changed what this gateway would trust without the members' signatures.
"""

from __future__ import annotations

from datetime import UTC, datetime

from borderx.config import GatewayConfig
from borderx.directory.model import Directory, DirectoryHolder
from borderx.directory.trust import choose_at_start, root_result
from borderx.errors import ConfigError, DirectoryRefused, InvalidArgument
from borderx.logging import get_logger
from borderx.store import Store

log = get_logger("borderx.directory")

ALARM_KIND = "directory_refused"


def open_directory(config: GatewayConfig, store: Store, *, now: datetime | None = None) -> DirectoryHolder:
    """The holder a gateway starts with (see the module docstring). Raises ConfigError when
    nothing can be trusted: a first configuration under its own threshold, an expired one,
    or a recorded document that no longer parses."""
    now = now or datetime.now(UTC)
    on_disk = Directory.load(config.directory_path)
    head = store.directory_head()
    stored = None if head is None else Directory.loads(head.document, source="the store's directory")
    choice = choose_at_start(stored, on_disk, now=now)
    if choice.refused is not None:
        reason, message = choice.refused
        refused_alarm(store, config.agency, on_disk, reason, message, source=str(config.directory_path))
    if choice.stale:
        log.warning(
            "directory.file_stale",
            path=str(config.directory_path),
            file_version=on_disk.version,
            trusted_version=choice.use.version,
        )
    if choice.record:
        record(store, choice.use)
    if choice.use.expires <= now:
        # freeze attack: an expired view may be one an attacker holds us to; a signed
        # successor placed in the configured file is the way out
        raise ConfigError(
            f"the trusted directory v{choice.use.version} expired {choice.use.expires:%Y-%m-%dT%H:%M:%SZ}; "
            f"place its signed successor (v{choice.use.version + 1}) at {config.directory_path}"
        )
    return DirectoryHolder(choice.use, path=config.directory_path, persist=lambda d: record(store, d))


def record(store: Store, directory: Directory) -> None:
    store.record_directory(directory.version, directory.digest, directory.document)


def refused_alarm(
    store: Store, agency: str, candidate: Directory, reason: str, message: str, *, source: str
) -> None:
    """Raise the alarm for a refused directory, naming the candidate by version and digest."""
    store.raise_alarm(
        ALARM_KIND,
        agency,
        f"{source}: v{candidate.version} digest {candidate.digest[:16]}… refused ({reason}): {message}",
    )
    log.error(
        "directory.refused",
        source=source,
        reason=reason,
        version=candidate.version,
        digest=candidate.digest,
        detail=message,
    )


def reload_from_file(holder: DirectoryHolder, store: Store, agency: str) -> bool:
    """Re-read the configured file; a refused document raises an alarm and DirectoryRefused."""
    if holder.path is None:
        raise ConfigError("this directory was not loaded from a file; nothing to reload")
    candidate = Directory.load(holder.path)
    try:
        return holder.replace(candidate)
    except DirectoryRefused as exc:
        if exc.reason == "rollback":
            # the file is an older version than the one trusted (applied by PublishDirectory
            # or from a partner): a stale copy, not an attempt; the reload goes on without it
            log.warning(
                "directory.file_stale",
                path=str(holder.path),
                file_version=candidate.version,
                trusted_version=holder.current.version,
            )
            return False
        refused_alarm(store, agency, candidate, exc.reason, str(exc), source=str(holder.path))
        raise


#: the largest directory document accepted over the wire (a directory of many agencies with
#: several CA certificates each is tens of kilobytes)
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024


def publish_document(holder: DirectoryHolder, data: bytes) -> tuple[bool, Directory, tuple[str, ...]]:
    """Apply a signed document handed in by an operator: (changed, the document, who signed it).

    A document that does not parse is the caller's mistake (InvalidArgument, field
    ``document``); one that parses but is not the trusted successor raises DirectoryRefused.
    """
    if not data:
        raise InvalidArgument("is empty; send the signed directory JSON", field="document")
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InvalidArgument(f"is {len(data)} bytes, more than {MAX_DOCUMENT_BYTES}", field="document")
    try:
        candidate = Directory.loads(data, source="document")
    except DirectoryRefused:
        raise
    except ConfigError as exc:
        raise InvalidArgument(str(exc).removeprefix("document: "), field="document") from None
    changed = holder.replace(candidate)
    signed_by = root_result(candidate, now=datetime.now(UTC)).thresholds[0].signed
    log.info(
        "directory.published",
        changed=changed,
        version=candidate.version,
        digest=candidate.digest,
        signed_by=list(signed_by),
    )
    return changed, candidate, signed_by
