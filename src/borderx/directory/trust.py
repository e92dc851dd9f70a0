"""Which directory versions to trust: TUF's root-rotation rule, as pure functions.

A gateway trusts the directory it is first configured with (as TUF trusts the root it
ships with), provided that document is signed by a threshold of its own directory keys and
has not expired. After that it accepts version N+1 only when N+1's signatures reach

- the threshold of **version N** (the members trusted now agree to the change), and
- the threshold of **version N+1** (the members trusted next accept their new duties),

as ``tuf.ngclient`` does for root metadata (``Root.verify_delegate`` with the old and the
new root). Two things are stricter than TUF, on purpose:

- a threshold counts **agencies**, not keys: an agency holding two directory keys (during
  a rotation) counts once, so no single member can reach a threshold alone;
- a document is refused whole when any signature is unknown to both versions, listed twice,
  or does not verify: in a ceremony these mean a wrong or stale draft, and in transit an
  attempt, never something to skip silently (TUF ignores them).

python-tuf's ``Metadata``/``Root`` is not used because its ``Root`` requires the four TUF
top-level roles and counts keys; what is kept from it is the shape (``signed`` +
``signatures``, canonical JSON, ``verify_*`` raising and ``*_result`` inspecting) and the
rule. Nothing here does I/O: callers persist and apply what these functions accept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidSignature

from borderx.errors import DirectoryRefused

if TYPE_CHECKING:  # model imports this module: types only
    from borderx.directory.model import Directory, DirectoryKey


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ThresholdResult:
    """How one version's threshold fares against a document's valid signatures."""

    version: int
    threshold: int
    signed: tuple[str, ...]  # agencies of that version with a valid signature, sorted
    unsigned: tuple[str, ...]  # its other agencies, sorted

    @property
    def ok(self) -> bool:
        return len(self.signed) >= self.threshold

    def describe(self, subject: int) -> str:
        return (
            f"directory v{subject} is signed by {len(self.signed)} of the {self.threshold} agencies "
            f"v{self.version} requires (signed: {', '.join(self.signed) or 'none'}; "
            f"not yet: {', '.join(self.unsigned) or 'none'})"
        )


@dataclass(frozen=True)
class UpdateResult:
    """What passed and what is missing for a candidate directory (``verify_*``'s inspect twin)."""

    version: int
    digest: str
    problems: tuple[tuple[str, str], ...]  # (reason, message) that refuse it whatever is signed
    thresholds: tuple[ThresholdResult, ...]
    #: True when the candidate is the trusted version itself (nothing to apply)
    same: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems and all(t.ok for t in self.thresholds)

    def refusal(self) -> DirectoryRefused | None:
        for reason, message in self.problems:
            return DirectoryRefused(message, reason=reason)
        for t in self.thresholds:
            if not t.ok:
                return DirectoryRefused(t.describe(self.version), reason="threshold")
        return None


def _signature_problems(
    new: Directory, known: Mapping[str, DirectoryKey]
) -> tuple[list[tuple[str, str]], set[str]]:
    """Problems with ``new``'s signatures, and the key ids whose signatures verify."""
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()
    valid: set[str] = set()
    for sig in new.signatures:
        if sig.key_id in seen:
            # one key signing twice must never count twice toward a threshold
            problems.append(
                ("duplicate_key", f"directory v{new.version}: key {sig.key_id[:16]}… signed twice")
            )
            continue
        seen.add(sig.key_id)
        key = known.get(sig.key_id)
        if key is None:
            problems.append(
                (
                    "unknown_key",
                    f"directory v{new.version}: signature by key {sig.key_id[:16]}…, which is not a "
                    "directory key of the trusted or the new version",
                )
            )
            continue
        try:
            key.public_key.verify(sig.sig, new.signed_bytes)
        except InvalidSignature:
            problems.append(
                (
                    "bad_signature",
                    f"directory v{new.version}: the signature by {key.agency}'s key {sig.key_id[:16]}… "
                    "does not verify over this document (signed another draft, or altered since)",
                )
            )
            continue
        valid.add(sig.key_id)
    return problems, valid


def _threshold(of: Directory, valid: Iterable[str]) -> ThresholdResult:
    signed = set()
    for key_id in valid:
        key = of.directory_key(key_id)
        if key is not None:
            signed.add(key.agency)  # an agency counts once, however many of its keys signed
    return ThresholdResult(
        version=of.version,
        threshold=of.threshold,
        signed=tuple(sorted(signed)),
        unsigned=tuple(sorted(set(of.agencies) - signed)),
    )


def _expiry(new: Directory, now: datetime) -> list[tuple[str, str]]:
    if new.expires <= now:
        # an expired document may be a frozen old view an attacker replays: never adopt one
        return [("expired", f"directory v{new.version} expired {_time(new.expires)}; now is {_time(now)}")]
    return []


def root_result(new: Directory, *, now: datetime) -> UpdateResult:
    """Inspect ``new`` as a first trusted directory: its own threshold, unexpired."""
    problems, valid = _signature_problems(new, new.directory_keys)
    problems += _expiry(new, now)
    return UpdateResult(new.version, new.digest, tuple(problems), (_threshold(new, valid),))


def update_result(current: Directory, new: Directory, *, now: datetime) -> UpdateResult:
    """Inspect ``new`` as the successor of the trusted ``current``."""
    if new.federation != current.federation:
        message = f"directory is for federation {new.federation!r}, this gateway is in {current.federation!r}"
        return UpdateResult(new.version, new.digest, (("federation", message),), ())
    if new.version == current.version:
        if new.digest == current.digest:
            return UpdateResult(new.version, new.digest, (), (), same=True)
        # two different documents under one version number: one of them is forged or a fork
        message = (
            f"directory v{new.version} (digest {new.digest[:16]}…) differs from the trusted v{current.version} "
            f"(digest {current.digest[:16]}…); a change needs a new version signed by the members"
        )
        return UpdateResult(new.version, new.digest, (("conflict", message),), ())
    if new.version < current.version:
        message = (
            f"directory version {new.version} is older than the trusted version {current.version}; "
            "refusing a rollback"
        )
        return UpdateResult(new.version, new.digest, (("rollback", message),), ())
    if new.version != current.version + 1:
        # the chain of signatures runs version by version: a skipped one was never checked
        message = (
            f"directory v{new.version} does not follow the trusted v{current.version}; "
            f"apply v{current.version + 1} first"
        )
        return UpdateResult(new.version, new.digest, (("gap", message),), ())
    known = {**current.directory_keys, **new.directory_keys}
    problems, valid = _signature_problems(new, known)
    problems += _expiry(new, now)
    return UpdateResult(
        new.version, new.digest, tuple(problems), (_threshold(current, valid), _threshold(new, valid))
    )


def verify_root(new: Directory, *, now: datetime) -> None:
    """Raise DirectoryRefused unless ``new`` may be trusted on first configuration."""
    refusal = root_result(new, now=now).refusal()
    if refusal is not None:
        raise refusal


def verify_update(current: Directory, new: Directory, *, now: datetime) -> None:
    """Raise DirectoryRefused unless ``new`` is the trusted successor of ``current`` (or is it)."""
    refusal = update_result(current, new, now=now).refusal()
    if refusal is not None:
        raise refusal


@dataclass(frozen=True)
class StartChoice:
    """What a starting gateway trusts, given what its store recorded and what its file says."""

    use: Directory
    #: record ``use`` in the store (first configuration, or a verified successor on disk)
    record: bool
    #: (reason, message) of a file refused as the successor: raise an alarm, keep ``use``
    refused: tuple[str, str] | None = None
    #: the file is an older version than the recorded one (a stale copy: logged, not trusted)
    stale: bool = False


def choose_at_start(stored: Directory | None, on_disk: Directory, *, now: datetime) -> StartChoice:
    """Decide a gateway's directory at start (pure: the caller reads, records and alarms).

    - nothing recorded: trust on first configuration — the file, if it carries its own
      threshold and has not expired (raises DirectoryRefused otherwise: nothing to fall back to);
    - the file is the recorded version: use it;
    - the file is a newer version: use it if it is the verified successor, else keep the
      recorded one and report the refusal (an edit on disk without the members' signatures);
    - the file is older: keep the recorded one (a restart never rolls back).
    """
    if stored is None:
        verify_root(on_disk, now=now)
        return StartChoice(use=on_disk, record=True)
    result = update_result(stored, on_disk, now=now)
    if result.same:
        return StartChoice(use=stored, record=False)
    if any(reason == "rollback" for reason, _ in result.problems):
        return StartChoice(use=stored, record=False, stale=True)
    refusal = result.refusal()
    if refusal is None:
        return StartChoice(use=on_disk, record=True)
    return StartChoice(use=stored, record=False, refused=(refusal.reason, str(refusal)))
