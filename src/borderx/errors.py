"""One exception tree for borderx.

Library code raises these; the servicer layer is the one place that maps them to gRPC
status codes (each class names its code as a string, so this module imports nothing from
grpc), and the CLI is the one place that maps them to exit codes. A message says what was
wrong and what to fix, with the numbers ("key 3f2a… expired 2026-01-01, statement issued
2026-02-03"), and never carries key material or personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: longest prefix of a caller's value that a message echoes: a refusal quoting a 20,000
#: character value whole would pass grpc's metadata limit and never reach the caller
QUOTE_LIMIT = 40


def quote(value: object, *, limit: int = QUOTE_LIMIT, plain: bool = False) -> str:
    """``value`` for a message: at most ``limit`` characters of it, repr-quoted unless ``plain``.

    Every message that echoes a caller's value goes through here, so no message grows
    with its input. A cut value ends in "…" and says how long it was.
    """
    text = value if isinstance(value, str) else str(value)
    cut = text[:limit]
    shown = cut if plain and cut.isprintable() else repr(cut)
    return shown + (f"… ({len(text)} characters)" if len(text) > limit else "")


@dataclass(frozen=True)
class FieldViolation:
    """A bad field: its path in the request (``items[3].draft.designation.party.ids[0].value``)."""

    field: str
    description: str


@dataclass(frozen=True)
class PreconditionViolation:
    """A state the request needs and did not find; ``type`` is a short upper-case kind (``CHAIN``)."""

    type: str
    subject: str
    description: str


@dataclass(frozen=True)
class QuotaViolation:
    """A limit the request passed; ``subject`` names the limit (``limits.max_screen_batch``)."""

    subject: str
    description: str


Violation = FieldViolation | PreconditionViolation | QuotaViolation


class BorderxError(Exception):
    """Root of every error borderx raises on purpose."""

    #: name of the grpc.StatusCode this error maps to
    grpc_code: str = "INTERNAL"

    def violations(self) -> tuple[Violation, ...]:
        """What a machine can read about this error (sent as google.rpc details); () = nothing."""
        return ()


# ---------------------------------------------------------------- input


class InvalidArgument(BorderxError):
    """Bad input from a caller. ``field`` is the path of the offending field, e.g. ``party.ids[0]``."""

    grpc_code = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, field: str = "") -> None:
        self.field = field
        self.description = message
        super().__init__(f"{field}: {message}" if field else message)

    def violations(self) -> tuple[Violation, ...]:
        return (FieldViolation(self.field, self.description),)

    def under(self, prefix: str) -> InvalidArgument:
        """The same error with its field path placed under ``prefix`` (e.g. ``items[3].draft``)."""
        path = (
            f"{prefix}.{self.field}" if self.field and not self.field.startswith("[") else prefix + self.field
        )
        message = str(self)
        if self.field and message.startswith(self.field + ": "):
            message = message[len(self.field) + 2 :]
        err = type(self).__new__(type(self))
        InvalidArgument.__init__(err, message, field=path)
        return err


class ConfigError(BorderxError):
    """A configuration file, directory document or key file is missing or wrong."""

    grpc_code = "FAILED_PRECONDITION"


class DirectoryRefused(ConfigError):
    """A directory version that does not follow from the trusted one (DESIGN §2).

    ``reason`` is short and machine-readable (``threshold``, ``unknown_key``,
    ``duplicate_key``, ``bad_signature``, ``rollback``, ``conflict``, ``gap``, ``expired``,
    ``federation``, ``drops_home``), for logs, alarms and metrics.
    """

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class ResourceExhausted(BorderxError):
    """A configured limit was exceeded (batch size, message size, …); ``limit`` names it."""

    grpc_code = "RESOURCE_EXHAUSTED"

    def __init__(self, message: str, *, limit: str = "") -> None:
        self.limit = limit
        super().__init__(message)

    def violations(self) -> tuple[Violation, ...]:
        return (QuotaViolation(self.limit, str(self)),) if self.limit else ()


class FailedPrecondition(BorderxError):
    """The request is well formed but the gateway's state does not allow it (yet).

    ``kind`` and ``subject`` say which state: ``("CHAIN", "AU-ABF")``,
    ``("IDEMPOTENCY_KEY", "batch-7")``.
    """

    grpc_code = "FAILED_PRECONDITION"

    def __init__(self, message: str, *, kind: str = "", subject: str = "") -> None:
        self.kind, self.subject = kind, subject
        super().__init__(message)

    def violations(self) -> tuple[Violation, ...]:
        return (PreconditionViolation(self.kind, self.subject, str(self)),) if self.kind else ()


class IdempotencyKeyReused(FailedPrecondition):
    """An idempotency key came back with a different request than the one it receipted."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency_key {quote(key)} was used before for a different request; "
            "use a new key for a new request (a retry must resend the same items)",
            kind="IDEMPOTENCY_KEY",
            subject=key[:256],
        )


class NotFound(BorderxError):
    grpc_code = "NOT_FOUND"


# ---------------------------------------------------------------- identity and authorisation


class Unauthenticated(BorderxError):
    """The caller's certificate does not establish a principal of this federation."""

    grpc_code = "UNAUTHENTICATED"


class PermissionDenied(BorderxError):
    """The principal is known but may not do this."""

    grpc_code = "PERMISSION_DENIED"


# ---------------------------------------------------------------- statements


class VerificationError(BorderxError):
    """A statement or checkpoint failed verification. Subclasses name the reason."""

    grpc_code = "INVALID_ARGUMENT"
    #: short machine-readable reason, used in logs and metrics
    reason: str = "invalid"


class MalformedHeader(VerificationError):
    reason = "malformed_header"


class UnknownIssuer(VerificationError):
    reason = "unknown_issuer"


class UnknownKey(VerificationError):
    reason = "unknown_key"


class KeyNotValid(VerificationError):
    """The key exists but was outside its validity window at issued_at."""

    reason = "key_not_valid"


class KeyRevoked(VerificationError):
    reason = "key_revoked"


class KeyUnwitnessed(VerificationError):
    """Signed by a key whose window had closed before anyone honest can vouch the statement existed.

    Not proof of forgery (honest history signed before a rotation looks the same until the
    witnesses' cosignatures arrive), so a replicator treats it as pending, not as evidence.
    """

    reason = "key_unwitnessed"

    def __init__(self, message: str, *, deadline: datetime | None = None) -> None:
        super().__init__(message)
        #: the latest time a proof may carry (the key's window end plus the grace)
        self.deadline = deadline


class IssuerMismatch(VerificationError):
    """The header's issuer is not the agency that owns the signing key."""

    reason = "issuer_mismatch"


class BadSignature(VerificationError):
    reason = "bad_signature"


class SignatureSetInvalid(VerificationError):
    """No signatures, duplicate signatures, or signatures by keys outside the issuer."""

    reason = "signature_set"


class BodyDigestMismatch(VerificationError):
    reason = "body_digest"


class BodyTypeMismatch(VerificationError):
    reason = "body_type"


class ChainError(BorderxError):
    """A statement does not extend the issuer's chain."""

    grpc_code = "FAILED_PRECONDITION"
    reason = "chain"

    def __init__(self, *args: object, issuer: str = "") -> None:
        super().__init__(*args)
        if issuer:  # subclasses that know the issuer set it themselves
            self.issuer = issuer

    def violations(self) -> tuple[Violation, ...]:
        issuer = getattr(self, "issuer", "")
        return (PreconditionViolation("CHAIN", str(issuer), str(self)),)


class ChainGap(ChainError):
    """Statements are missing between what is held and what arrived."""

    reason = "gap"

    def __init__(self, issuer: str, have: int, got: int) -> None:
        self.issuer, self.have, self.got = issuer, have, got
        super().__init__(
            f"{issuer}: gap in chain, holding seq {have}, received seq {got}; "
            f"missing seq {have + 1}..{got - 1}"
        )


class PrevDigestMismatch(ChainError):
    reason = "prev_digest"


class Equivocation(ChainError):
    """Two different headers signed for the same (issuer, seq): proof of a fault or a stolen key."""

    reason = "equivocation"

    def __init__(self, issuer: str, seq: int, held: bytes, got: bytes) -> None:
        self.issuer, self.seq, self.held_digest, self.got_digest = issuer, seq, held, got
        super().__init__(
            f"{issuer}: equivocation at seq {seq}: holding header {held.hex()[:16]}…, "
            f"received a different header {got.hex()[:16]}…"
        )


class IssuerSuspended(BorderxError):
    """Statements of an issuer that equivocated are refused until an operator resumes it."""

    grpc_code = "FAILED_PRECONDITION"


class RuleViolation(InvalidArgument):
    """A signed statement that breaks an admission rule (DESIGN §8): refused at Publish,
    kept as signed evidence (never indexed) when it arrives from a peer.

    ``rule`` names the rule (``membership.status_transition``, ``time.before_predecessor`` …).
    """

    def __init__(self, rule: str, message: str, *, field: str = "") -> None:
        super().__init__(message, field=field)
        self.rule = rule

    def under(self, prefix: str) -> RuleViolation:
        moved = super().under(prefix)
        return RuleViolation(self.rule, str(moved).removeprefix(f"{moved.field}: "), field=moved.field)


class OwnChainForged(BorderxError):
    """A statement or checkpoint in this gateway's own agency's name that it never made.

    It verifies with the home agency's key, so it proves that key is compromised: it is
    never adopted, always kept as evidence and raised as the loudest alarm.
    """

    grpc_code = "FAILED_PRECONDITION"

    def __init__(self, issuer: str, seq: int, message: str) -> None:
        super().__init__(message)
        self.issuer, self.seq = issuer, seq
