"""Party identifier schemes (DESIGN §4): validation and the one normal form of each value.

This module owns the answer to "is ``(scheme, value)`` a well-formed identifier, and how is
it written?". Screening matches identifiers by exact value, so every identifier the gateway
stores goes through :func:`normalise_party_id` first; two spellings of one identifier
("51 824 753 556", "51824753556") must never become two parties.

Invariants kept here:

- normalisation is idempotent: normalising a normalised value returns it unchanged;
- separators (spaces, hyphens) and letter case are folded only where the scheme allows it;
  ``US_IOR`` keeps its hyphen layout, because it tells the EIN form from the CBP-assigned
  form; ``CTPAT`` account numbers and ``PLATFORM`` seller ids are opaque and keep their case;
- only ASCII is accepted (besides surrounding whitespace), so that case folding cannot change
  a value's length or turn one letter into two ("ß" → "SS") and look-alike characters cannot
  make a second spelling of an identifier;
- check digits are verified with python-stdnum where it implements them (ABN mod 89, GS1
  mod 10, Luhn) rather than written again here;
- a refusal is an :class:`~borderx.errors.InvalidArgument` naming the field, the scheme, the
  value and the rule. Messages echo only the identifier the caller gave (cut to a bounded
  length), never other data, and never a ``US_IOR`` value at all: one in the SSN form is a
  person's Social Security number, and a malformed one may be one with a typo.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from stdnum import ean, luhn
from stdnum.au import abn
from stdnum.ca import bn
from stdnum.exceptions import InvalidChecksum, ValidationError

from borderx.errors import InvalidArgument, quote
from borderx.statements.bodies import PartyId

#: longest value accepted before any parsing; longer input is refused, not processed
MAX_VALUE_LENGTH = 256
#: how much of a refused value a message may echo
_MAX_ECHO = 64

#: CRA program identifiers of a BN15 program account
CA_BN15_PROGRAMS = frozenset({"RC", "RM", "RP", "RT"})

_SEPARATORS = re.compile(r"[\s\-]+")
_DIGITS = re.compile(r"[0-9]+")
_PLAIN = re.compile(r"[A-Za-z0-9:._\-]+")
_EORI = re.compile(r"[A-Z]{2}[A-Z0-9]{1,15}")
_EORI_GB_XI = re.compile(r"(GB|XI)[0-9]{12}")
_MID = re.compile(r"[A-Z]{2}[A-Z0-9]{1,13}")
_ALNUM = re.compile(r"[A-Z0-9]+")
_PLATFORM_NAME = re.compile(r"[a-z0-9][a-z0-9._\-]{0,63}")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")

_IOR_FORMS = (
    "an EIN-based number NN-NNNNNNNXX (9-digit EIN and 2-character suffix) "
    "or a CBP-assigned number YYDDPP-NNNNN"
)


class _Refused(Exception):
    """A scheme's rule failed. ``shown`` is the form of the value to echo (default: as given)."""

    def __init__(self, rule: str, *, shown: str | None = None) -> None:
        super().__init__(rule)
        self.rule = rule
        self.shown = shown


def _show(value: str) -> str:
    """``value`` as a message may echo it: bare when plain, else quoted, and cut to a bounded length."""
    if len(value) <= _MAX_ECHO and _PLAIN.fullmatch(value):
        return value
    return quote(value, limit=_MAX_ECHO)


def _require_ascii(value: str) -> None:
    # Stops look-alike (homoglyph) spellings and case folds that change length ("ß" → "SS").
    if not value.isascii():
        raise _Refused("must be written in ASCII characters only")


def _compact(value: str) -> str:
    """The value without surrounding/inner whitespace and hyphens, upper-cased."""
    _require_ascii(value)
    return _SEPARATORS.sub("", value).upper()


def _digits(value: str, count: int, what: str) -> str:
    compact = _compact(value)
    if not compact:
        raise _Refused(f"is empty; {what}")
    if not _DIGITS.fullmatch(compact):
        raise _Refused(f"must contain only digits (spaces and hyphens allowed between them); {what}")
    if len(compact) != count:
        raise _Refused(f"has {len(compact)} digits; {what}")
    return compact


# ---------------------------------------------------------------- schemes


def _abn(value: str) -> str:
    compact = _digits(value, 11, "an ABN is 11 digits")
    try:
        return str(abn.validate(compact))
    except InvalidChecksum:
        raise _Refused("fails its mod-89 check", shown=compact) from None


def _nzbn(value: str) -> str:
    compact = _digits(value, 13, "an NZBN is 13 digits")
    try:
        return str(ean.validate(compact))
    except InvalidChecksum:
        raise _Refused("fails its GS1 mod-10 check digit", shown=compact) from None


def _ca_bn(value: str) -> str:
    compact = _compact(value)
    if len(compact) == 15:
        raise _Refused("is 15 characters; a program account number (BN15) goes under scheme CA_BN15")
    compact = _digits(value, 9, "a business number (BN9) is 9 digits")
    try:
        return str(luhn.validate(compact))
    except InvalidChecksum:
        raise _Refused("fails its Luhn check", shown=compact) from None


def _ca_bn15(value: str) -> str:
    compact = _compact(value)
    shape = "a BN15 is a 9-digit BN, RC/RM/RP/RT and a 4-digit reference number, e.g. 123026635RC0001"
    if len(compact) != 15 or not (_DIGITS.fullmatch(compact[:9]) and _DIGITS.fullmatch(compact[11:])):
        raise _Refused(f"is not a BN15: {shape}")
    if compact[9:11] not in CA_BN15_PROGRAMS:
        raise _Refused(f"has program identifier {compact[9:11]!r}, not one of RC, RM, RP, RT", shown=compact)
    try:
        return str(bn.validate(compact))
    except InvalidChecksum:
        raise _Refused(f"fails the Luhn check of its BN9 {compact[:9]}", shown=compact) from None
    except ValidationError:  # pragma: no cover - the shape was checked above
        raise _Refused(f"is not a BN15: {shape}", shown=compact) from None


def _eori(value: str) -> str:
    compact = _compact(value)
    if not _EORI.fullmatch(compact):
        raise _Refused(
            "is not an EORI: a 2-letter country code then 1 to 15 letters or digits, e.g. DE1234567890123"
        )
    if compact[:2] in ("GB", "XI") and not _EORI_GB_XI.fullmatch(compact):
        raise _Refused(
            f"is not a {compact[:2]} EORI: {compact[:2]} followed by exactly 12 digits", shown=compact
        )
    return compact


def _us_ior(value: str) -> str:
    _require_ascii(value)
    upper = value.strip().upper()
    groups = _SEPARATORS.split(upper)
    if not upper or not all(_ALNUM.fullmatch(g) for g in groups):
        raise _Refused(f"must be {_IOR_FORMS}; only letters, digits, hyphens and spaces")
    lengths = tuple(len(g) for g in groups)
    joined = "".join(groups)
    digits9 = bool(_DIGITS.fullmatch(joined[:9]))
    # Personal data: an IOR number built on a Social Security number identifies a person. It is
    # refused, and never echoed, so that it reaches no log, reply or peer.
    if digits9 and lengths in ((3, 2, 4), (3, 2, 4, 2), (3, 2, 6)):
        raise _Refused(
            "is in the SSN form NNN-NN-NNNN, which is personal data and not accepted; "
            "use the importer's EIN-based or CBP-assigned number"
        )
    if digits9 and lengths in ((2, 9), (2, 7, 2)):
        return f"{joined[:2]}-{joined[2:]}"
    if lengths == (11,) and digits9 and not _DIGITS.fullmatch(joined[9:]):
        # 9 digits and a suffix with a letter can only be the EIN form.
        return f"{joined[:2]}-{joined[2:]}"
    if lengths == (6, 5) and _DIGITS.fullmatch(joined):
        return f"{joined[:6]}-{joined[6:]}"
    if lengths == (11,) and _DIGITS.fullmatch(joined):
        raise _Refused(
            "is 11 digits without a hyphen, which reads both as NN-NNNNNNNXX (EIN-based) and "
            "YYDDPP-NNNNN (CBP-assigned); write the hyphen where it belongs"
        )
    if lengths in ((9,), (2, 7)) and digits9:
        raise _Refused("has no 2-character suffix; an EIN-based IOR number is NN-NNNNNNNXX")
    raise _Refused(f"must be {_IOR_FORMS}")


def _mid(value: str) -> str:
    compact = _compact(value)
    if len(compact) > 15:
        raise _Refused(f"is {len(compact)} characters; a MID is at most 15")
    if not _MID.fullmatch(compact):
        raise _Refused("is not a MID: a 2-letter country code then 1 to 13 letters or digits")
    if compact.startswith("CA"):
        # Canada is coded by province (XA to XY) in a MID; "CA…" is a frequent, wrong, guess.
        raise _Refused("starts with CA; Canadian MIDs start with the province code XA to XY", shown=compact)
    return compact


def _ctpat(value: str) -> str:
    stripped = value.strip()
    if not stripped:
        raise _Refused("is empty; a CTPAT account number is required")
    _require_ascii(stripped)
    if not _PRINTABLE_ASCII.fullmatch(stripped):
        # Stops control characters (log injection, display spoofing) riding in an opaque value.
        raise _Refused("contains control characters")
    return stripped


def _platform(value: str) -> str:
    _require_ascii(value)
    platform, sep, seller = value.strip().partition(":")
    platform, seller = platform.strip().lower(), seller.strip()
    if not sep or not platform or not seller:
        raise _Refused("must be platform:seller-id with both parts non-empty, e.g. amazon:A2X9EXAMPLE")
    if not _PLATFORM_NAME.fullmatch(platform):
        raise _Refused(
            f"has platform name {_show(platform)}; it must be letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    if not _VISIBLE_ASCII.fullmatch(seller):
        raise _Refused("has a seller id with spaces or control characters")
    return f"{platform}:{seller}"


_NORMALISERS: dict[str, Callable[[str], str]] = {
    "ABN": _abn,
    "NZBN": _nzbn,
    "CA_BN": _ca_bn,
    "CA_BN15": _ca_bn15,
    "EORI": _eori,
    "US_IOR": _us_ior,
    "MID": _mid,
    "CTPAT": _ctpat,
    "PLATFORM": _platform,
}

#: every identifier scheme the gateway knows, in the order of DESIGN §4
KNOWN_SCHEMES: tuple[str, ...] = tuple(_NORMALISERS)

#: schemes whose values must never be echoed in a message (they may carry personal data)
_NEVER_ECHO = frozenset({"US_IOR"})


def _path(field: str, leaf: str) -> str:
    return f"{field}.{leaf}" if field else leaf


def normalise_party_id(scheme: str, value: str, *, field: str = "") -> PartyId:
    """Validate ``(scheme, value)`` and return it in its normal form.

    ``field`` is the path of the identifier in the caller's message (e.g. ``party.ids[0]``);
    a refusal names ``<field>.scheme`` or ``<field>.value``. The scheme itself is matched
    case-insensitively and returned upper-case.

    Raises :class:`InvalidArgument` for an unknown scheme, an over-long value, or a value that
    breaks its scheme's rule, with a message such as ``ABN 51824753557 fails its mod-89 check``.
    """
    canonical_scheme = scheme.strip().upper()
    if canonical_scheme not in _NORMALISERS:
        raise InvalidArgument(
            f"unknown identifier scheme {_show(scheme)}; known schemes: {', '.join(KNOWN_SCHEMES)}",
            field=_path(field, "scheme"),
        )
    # Bounds the work and the message for huge input before any parsing.
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidArgument(
            f"{canonical_scheme} value is {len(value)} characters; at most {MAX_VALUE_LENGTH} are accepted",
            field=_path(field, "value"),
        )
    try:
        normal = _NORMALISERS[canonical_scheme](value)
    except _Refused as refused:
        if canonical_scheme in _NEVER_ECHO:
            message = f"{canonical_scheme} value {refused.rule}"
        else:
            shown = refused.shown if refused.shown is not None else _show(value)
            message = f"{canonical_scheme} {shown} {refused.rule}"
        raise InvalidArgument(message, field=_path(field, "value")) from None
    return PartyId(canonical_scheme, normal)
