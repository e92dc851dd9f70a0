"""Integer bounds at the edge: the one place that says which numbers borderx accepts.

Protobuf carries seqs, alarm ids and version vectors as uint64, but both stores keep them
in signed 64-bit columns (SQLite INTEGER, PostgreSQL BIGINT): a value at or past 2^63
would fail deep inside a store as an overflow. Every door (servicers, the CLI, the store
layer) bounds its numbers here, so a too-large number is an ``InvalidArgument`` naming the
field, never an INTERNAL from a database driver.
"""

from __future__ import annotations

from borderx.errors import InvalidArgument, quote

#: the largest value both stores can hold (signed 64-bit)
INT64_MAX = 2**63 - 1
#: decimal digits of INT64_MAX: a longer decimal text is refused before it is converted
#: (Python refuses int() of more than 4,300 digits, and that would be a server error)
_INT64_DIGITS = len(str(INT64_MAX))


def check_int64(value: int, field: str, *, minimum: int = 0) -> int:
    """``value`` when ``minimum <= value <= 2^63-1``; else InvalidArgument naming ``field``."""
    if not minimum <= value <= INT64_MAX:
        # str() of a huge int is itself refused by Python (more than 4,300 digits)
        shown = str(value) if -(2**64) <= value <= 2**64 else f"a number of {value.bit_length()} bits"
        raise InvalidArgument(f"{shown} is not in {minimum}..2^63-1", field=field)
    return value


def parse_decimal_id(text: str, field: str, *, what: str = "id") -> int:
    """A positive int64 written in ASCII decimal digits (no sign, no spaces, no '²' or '٣')."""
    # str.isdigit() accepts superscripts and other scripts' digits that int() refuses or
    # reads differently; only 0-9 are an id
    if not text or len(text) > _INT64_DIGITS or not (text.isascii() and text.isdigit()):
        raise InvalidArgument(f"{quote(text)} is not an {what} (a decimal number 1..2^63-1)", field=field)
    return check_int64(int(text), field, minimum=1)
