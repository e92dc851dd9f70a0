"""The int64 bound and decimal id parsing written once in borderx.bounds, and errors.quote."""

from __future__ import annotations

import pytest

from borderx.bounds import INT64_MAX, check_int64, parse_decimal_id
from borderx.errors import InvalidArgument, quote


def test_check_int64_accepts_the_range_and_names_the_field_past_it() -> None:
    assert check_int64(0, "seq") == 0
    assert check_int64(INT64_MAX, "seq") == INT64_MAX
    with pytest.raises(InvalidArgument, match=r"^have\[AU-ABF\]: 9223372036854775808 is not in 0..2\^63-1$"):
        check_int64(INT64_MAX + 1, "have[AU-ABF]")
    with pytest.raises(InvalidArgument, match=r"^seq: 0 is not in 1..2\^63-1$"):
        check_int64(0, "seq", minimum=1)
    with pytest.raises(InvalidArgument, match=r"a number of 14285 bits"):
        check_int64(10**4300, "seq")


@pytest.mark.parametrize(
    "text", ["²", "٣", "1²", "-1", "+1", " 1", "1 ", "0", "", "9" * 19, "9" * 4301, "0x1"]
)
def test_parse_decimal_id_refuses_what_is_not_a_positive_int64_in_ascii(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"^id: ") as info:
        parse_decimal_id(text, "id", what="alarm id")
    assert len(str(info.value)) < 120
    assert info.value.field == "id"


def test_parse_decimal_id_reads_ascii_decimals() -> None:
    assert parse_decimal_id("1", "id") == 1
    assert parse_decimal_id("007", "id") == 7
    assert parse_decimal_id(str(INT64_MAX), "id") == INT64_MAX


def test_quote_keeps_a_short_prefix_and_says_how_long_the_value_was() -> None:
    assert quote("AU-ABF") == "'AU-ABF'"
    assert quote("AU-ABF", plain=True) == "AU-ABF"
    long = "x" * 50_000
    shown = quote(long)
    assert shown.startswith("'" + "x" * 40 + "'…") and "50000 characters" in shown
    assert len(shown) < 80
    assert quote("a\x00b", plain=True) == "'a\\x00b'"  # control characters never echo raw
