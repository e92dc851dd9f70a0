"""Identifier schemes: known valid and invalid values, refusal messages, normalisation properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum import ean, luhn
from stdnum.au import abn

from borderx.errors import InvalidArgument
from borderx.parties import KNOWN_SCHEMES, MAX_VALUE_LENGTH, normalise_party_id
from borderx.statements.bodies import PartyId

FIELD = "party.ids[3]"

# ---------------------------------------------------------------- known valid values

VALID = [
    # ABN
    ("ABN", "51824753556", "51824753556"),
    ("ABN", "51 824 753 556", "51824753556"),
    ("ABN", " 83-914-571-673 ", "83914571673"),
    ("ABN", "33051775556", "33051775556"),
    ("ABN", "53 004 085 616", "53004085616"),
    # NZBN
    ("NZBN", "9429041535134", "9429041535134"),
    ("NZBN", "94290 37641573", "9429037641573"),
    ("NZBN", "9429-0001-06078", "9429000106078"),
    # CA_BN
    ("CA_BN", "123026635", "123026635"),
    ("CA_BN", "12302 6635", "123026635"),
    ("CA_BN", "046454286", "046454286"),
    ("CA_BN", "123-456-782", "123456782"),
    # CA_BN15
    ("CA_BN15", "123026635RC0001", "123026635RC0001"),
    ("CA_BN15", "12302 6635 rc 0001", "123026635RC0001"),
    ("CA_BN15", "123026635-RM-0002", "123026635RM0002"),
    ("CA_BN15", "046454286RP0001", "046454286RP0001"),
    ("CA_BN15", "046454286rt0003", "046454286RT0003"),
    # EORI
    ("EORI", "GB123456789000", "GB123456789000"),
    ("EORI", "gb123456789000", "GB123456789000"),
    ("EORI", "XI 123456789000", "XI123456789000"),
    ("EORI", "DE1234567890123", "DE1234567890123"),
    ("EORI", "fr12345678901234", "FR12345678901234"),
    ("EORI", "NLX1", "NLX1"),
    ("EORI", "IE-1234567T", "IE1234567T"),
    # US_IOR
    ("US_IOR", "12-345678900", "12-345678900"),
    ("US_IOR", "12-3456789-00", "12-345678900"),
    ("US_IOR", "12 3456789AB", "12-3456789AB"),
    ("US_IOR", "98-7654321a1", "98-7654321A1"),
    ("US_IOR", "1234567891A", "12-34567891A"),
    ("US_IOR", "260115-00123", "260115-00123"),
    ("US_IOR", " 991231 00001 ", "991231-00001"),
    # MID
    ("MID", "XAMAPLE1818", "XAMAPLE1818"),
    ("MID", "cnshatex123shan", "CNSHATEX123SHAN"),
    ("MID", "DE ACME 12", "DEACME12"),
    ("MID", "XOBIGCO9999ONT", "XOBIGCO9999ONT"),
    ("MID", "MX1", "MX1"),
    # CTPAT
    ("CTPAT", "CTP123456", "CTP123456"),
    ("CTPAT", "  abc-999 ", "abc-999"),
    ("CTPAT", "1", "1"),
    # PLATFORM
    ("PLATFORM", "amazon:A2X9EXAMPLE", "amazon:A2X9EXAMPLE"),
    ("PLATFORM", "Amazon:A2X9EXAMPLE", "amazon:A2X9EXAMPLE"),
    ("PLATFORM", " ebay : seller_42 ", "ebay:seller_42"),
    ("PLATFORM", "shopify:store.example.com", "shopify:store.example.com"),
    ("PLATFORM", "temu:shop:7", "temu:shop:7"),
]


@pytest.mark.parametrize(("scheme", "given_value", "expected"), VALID)
def test_valid_identifiers_normalise(scheme: str, given_value: str, expected: str) -> None:
    assert normalise_party_id(scheme, given_value, field=FIELD) == PartyId(scheme, expected)


@pytest.mark.parametrize(("scheme", "given_value", "expected"), VALID)
def test_normal_form_is_a_fixed_point(scheme: str, given_value: str, expected: str) -> None:
    assert normalise_party_id(scheme, expected).value == expected


def test_scheme_is_matched_case_insensitively() -> None:
    assert normalise_party_id(" abn ", "51824753556") == PartyId("ABN", "51824753556")


# ---------------------------------------------------------------- known invalid values

INVALID = [
    # ABN
    ("ABN", "51824753557", r"ABN 51824753557 fails its mod-89 check"),
    ("ABN", "51 824 753 557", r"ABN 51824753557 fails its mod-89 check"),
    ("ABN", "5182475355", r"has 10 digits; an ABN is 11 digits"),
    ("ABN", "518247535560", r"has 12 digits"),
    ("ABN", "5182475355X", r"must contain only digits"),
    ("ABN", "", r"is empty"),
    ("ABN", "\uff15\uff11824753556", r"ASCII"),  # full-width digits
    ("ABN", "99999999999", r"fails its mod-89 check"),
    # NZBN
    ("NZBN", "9429041535135", r"NZBN 9429041535135 fails its GS1 mod-10 check digit"),
    ("NZBN", "942904153513", r"has 12 digits; an NZBN is 13 digits"),
    ("NZBN", "94290415351340", r"has 14 digits"),
    ("NZBN", "9429O41535134", r"must contain only digits"),
    # CA_BN
    ("CA_BN", "123026636", r"CA_BN 123026636 fails its Luhn check"),
    ("CA_BN", "12302663", r"has 8 digits; a business number \(BN9\) is 9 digits"),
    ("CA_BN", "123026635RC0001", r"goes under scheme CA_BN15"),
    ("CA_BN", "12345678Z", r"must contain only digits"),
    # CA_BN15
    ("CA_BN15", "123026635XX0001", r"program identifier 'XX', not one of RC, RM, RP, RT"),
    ("CA_BN15", "123026636RC0001", r"fails the Luhn check of its BN9 123026636"),
    ("CA_BN15", "123026635", r"is not a BN15"),
    ("CA_BN15", "123026635RC001", r"is not a BN15"),
    ("CA_BN15", "123026635RC000A", r"is not a BN15"),
    ("CA_BN15", "12302663XRC0001", r"is not a BN15"),
    # EORI
    ("EORI", "GB12345", r"EORI GB12345 is not a GB EORI: GB followed by exactly 12 digits"),
    ("EORI", "XI1234567890123", r"is not a XI EORI"),
    ("EORI", "GB12345678900A", r"is not a GB EORI"),
    ("EORI", "D1234", r"is not an EORI"),
    ("EORI", "DE", r"is not an EORI"),
    ("EORI", "DE12345678901234567", r"is not an EORI"),
    ("EORI", "12DE345", r"is not an EORI"),
    ("EORI", "DE12_34", r"is not an EORI"),
    # US_IOR (never echoed, see below)
    ("US_IOR", "12-3456789", r"US_IOR value has no 2-character suffix"),
    ("US_IOR", "12345678900", r"reads both as NN-NNNNNNNXX"),
    ("US_IOR", "1-23456789-00", r"must be an EIN-based number NN-NNNNNNNXX"),
    ("US_IOR", "260115-0012", r"must be an EIN-based number"),
    ("US_IOR", "26O115-00123", r"must be an EIN-based number"),
    ("US_IOR", "12_345678900", r"only letters, digits, hyphens and spaces"),
    ("US_IOR", "", r"must be an EIN-based number"),
    ("US_IOR", "-12-345678900", r"must be an EIN-based number"),
    # MID
    (
        "MID",
        "CAACME123",
        r"MID CAACME123 starts with CA; Canadian MIDs start with the province code XA to XY",
    ),
    ("MID", "caacme123", r"MID CAACME123 starts with CA"),
    ("MID", "XAMAPLE181812345", r"is 16 characters; a MID is at most 15"),
    ("MID", "X1AB", r"is not a MID"),
    ("MID", "XA", r"is not a MID"),
    ("MID", "XA_ACME", r"is not a MID"),
    # CTPAT
    ("CTPAT", "", r"is empty; a CTPAT account number is required"),
    ("CTPAT", "   ", r"is empty"),
    ("CTPAT", "CTP\x00123", r"contains control characters"),
    ("CTPAT", "CTPé123", r"ASCII"),
    # PLATFORM
    ("PLATFORM", "amazon", r"must be platform:seller-id with both parts non-empty"),
    ("PLATFORM", ":A2X9", r"must be platform:seller-id"),
    ("PLATFORM", "amazon:", r"must be platform:seller-id"),
    ("PLATFORM", "amazon:  ", r"must be platform:seller-id"),
    ("PLATFORM", "ama zon:A2X9", r"has platform name 'ama zon'"),
    ("PLATFORM", "-amazon:A2X9", r"has platform name -amazon"),
    ("PLATFORM", "amazon:A2 X9", r"seller id with spaces or control characters"),
    ("PLATFORM", "amazon:A2\tX9", r"seller id with spaces or control characters"),
    ("PLATFORM", "amazon:Ä2X9", r"ASCII"),
]


@pytest.mark.parametrize(("scheme", "given_value", "match"), INVALID)
def test_invalid_identifiers_are_refused(scheme: str, given_value: str, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match) as caught:
        normalise_party_id(scheme, given_value, field=FIELD)
    assert caught.value.field == f"{FIELD}.value"
    assert str(caught.value).startswith(f"{FIELD}.value: {scheme} ")


def test_fifteen_character_mid_is_accepted() -> None:
    assert normalise_party_id("MID", "XAMAPLE18181234").value == "XAMAPLE18181234"


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(
        InvalidArgument, match=r"party\.ids\[3\]\.scheme: unknown identifier scheme DUNS"
    ) as e:
        normalise_party_id("DUNS", "150483782", field=FIELD)
    for scheme in KNOWN_SCHEMES:
        assert scheme in str(e.value)
    assert e.value.field == f"{FIELD}.scheme"


def test_unknown_scheme_message_is_bounded() -> None:
    with pytest.raises(InvalidArgument, match=r"unknown identifier scheme") as e:
        normalise_party_id("X" * 10_000, "1")
    assert len(str(e.value)) < 300


def test_oversized_value_is_refused_before_parsing() -> None:
    with pytest.raises(InvalidArgument, match=rf"ABN value is {MAX_VALUE_LENGTH + 1} characters; at most"):
        normalise_party_id("ABN", "1" * (MAX_VALUE_LENGTH + 1), field=FIELD)


def test_long_invalid_value_is_cut_in_the_message() -> None:
    with pytest.raises(InvalidArgument) as e:
        normalise_party_id("EORI", "D" + "1" * 200)
    assert len(str(e.value)) < 300
    assert "…" in str(e.value)


def test_field_defaults_to_the_leaf_names() -> None:
    with pytest.raises(InvalidArgument) as e:
        normalise_party_id("ABN", "1")
    assert e.value.field == "value"
    with pytest.raises(InvalidArgument) as e:
        normalise_party_id("NOPE", "1")
    assert e.value.field == "scheme"


# ---------------------------------------------------------------- US_IOR and personal data

SSN_FORMS = ["123-45-6789", "123 45 6789", "123-45-678900", "123-45-6789-00", "123-45-6789AB", "078-05-1120"]


@pytest.mark.parametrize("ssn", SSN_FORMS)
def test_ssn_form_is_refused_and_not_echoed(ssn: str) -> None:
    with pytest.raises(InvalidArgument, match=r"SSN form NNN-NN-NNNN, which is personal data") as e:
        normalise_party_id("US_IOR", ssn, field=FIELD)
    digits = re.sub(r"\D", "", ssn)
    message = str(e.value)
    assert digits[:9] not in re.sub(r"\D", "", message)
    for group in re.findall(r"\d{2,}", ssn):
        assert group not in message


@pytest.mark.parametrize("value", ["123456789", "12-3456789", "12345678900", "12-34567-8900"])
def test_refused_us_ior_values_are_never_echoed(value: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        normalise_party_id("US_IOR", value)
    assert not re.search(r"\d{3,}", str(e.value))


@settings(max_examples=60, deadline=None)
@given(
    area=st.from_regex(r"\A[0-9]{3}\Z"),
    group=st.from_regex(r"\A[0-9]{2}\Z"),
    serial=st.from_regex(r"\A[0-9]{4}\Z"),
)
def test_no_ssn_is_ever_accepted_or_echoed(area: str, group: str, serial: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        normalise_party_id("US_IOR", f"{area}-{group}-{serial}")
    assert f"{area}{group}{serial}" not in re.sub(r"\D", "", str(e.value))
    assert serial not in str(e.value)


# ---------------------------------------------------------------- properties


def _n_digits(n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=n, max_size=n)


_alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_country_not_gb_xi = st.from_regex(r"\A[A-Z]{2}\Z").filter(lambda c: c not in ("GB", "XI"))

abns = _n_digits(9).map(lambda n: abn.calc_check_digits(n) + n)
nzbns = _n_digits(9).map(lambda n: "942" + n).map(lambda n: n + ean.calc_check_digit(n))
bn9s = _n_digits(8).map(lambda n: n + luhn.calc_check_digit(n))
bn15s = st.tuples(bn9s, st.sampled_from(["RC", "RM", "RP", "RT"]), _n_digits(4)).map("".join)
eoris = st.one_of(
    st.tuples(st.sampled_from(["GB", "XI"]), _n_digits(12)).map("".join),
    st.tuples(_country_not_gb_xi, st.text(alphabet=_alnum, min_size=1, max_size=15)).map("".join),
)
mids = st.tuples(
    st.from_regex(r"\A[A-Z]{2}\Z").filter(lambda c: c != "CA"),
    st.text(alphabet=_alnum, min_size=1, max_size=13),
).map("".join)

COMPACTABLE = {"ABN": abns, "NZBN": nzbns, "CA_BN": bn9s, "CA_BN15": bn15s, "EORI": eoris, "MID": mids}

ein_iors = st.tuples(_n_digits(2), _n_digits(7), st.text(alphabet=_alnum, min_size=2, max_size=2)).map(
    lambda t: f"{t[0]}-{t[1]}{t[2]}"
)
cbp_iors = st.tuples(_n_digits(6), _n_digits(5)).map(lambda t: f"{t[0]}-{t[1]}")
ctpats = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
platforms = st.tuples(
    st.from_regex(r"\A[a-z0-9][a-z0-9._-]{0,15}\Z"),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20),
).map(lambda t: f"{t[0]}:{t[1]}")

ALL_VALID = {**COMPACTABLE, "US_IOR": st.one_of(ein_iors, cbp_iors), "CTPAT": ctpats, "PLATFORM": platforms}

scheme_and_value = st.sampled_from(sorted(ALL_VALID)).flatmap(
    lambda scheme: ALL_VALID[scheme].map(lambda value: (scheme, value))
)
separators = st.sampled_from(["", "", "", " ", "-", "  ", "\t", " - "])
surrounding = st.sampled_from(["", " ", "\t", "  \n"])


@settings(max_examples=150, deadline=None)
@given(scheme_and_value)
def test_normalisation_is_idempotent(pair: tuple[str, str]) -> None:
    scheme, value = pair
    once = normalise_party_id(scheme, value)
    assert normalise_party_id(once.scheme, once.value) == once


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(COMPACTABLE)).flatmap(lambda s: COMPACTABLE[s].map(lambda v: (s, v))), st.data()
)
def test_spacing_hyphen_and_case_variants_normalise_alike(pair: tuple[str, str], data: st.DataObject) -> None:
    scheme, value = pair
    normal = normalise_party_id(scheme, value)
    variant = data.draw(surrounding)
    for ch in value:
        variant += data.draw(st.sampled_from([ch.lower(), ch.upper()])) + data.draw(separators)
    variant += data.draw(surrounding)
    assert normalise_party_id(scheme, variant) == normal


@settings(max_examples=80, deadline=None)
@given(ein_iors, st.data())
def test_us_ior_variants_keep_the_hyphen_layout(value: str, data: st.DataObject) -> None:
    normal = normalise_party_id("US_IOR", value)
    assert normal.value == value.upper()
    head, tail = value.split("-")
    sep = data.draw(st.sampled_from(["-", " ", " - ", "--"]))
    suffix_sep = data.draw(st.sampled_from(["", "-", " "]))
    variant = (
        f"{data.draw(surrounding)}{head}{sep}{tail[:7]}{suffix_sep}{tail[7:].lower()}{data.draw(surrounding)}"
    )
    assert normalise_party_id("US_IOR", variant) == normal


@settings(max_examples=80, deadline=None)
@given(platforms, st.data())
def test_platform_variants_fold_the_platform_name_only(value: str, data: st.DataObject) -> None:
    normal = normalise_party_id("PLATFORM", value)
    name, _, seller = value.partition(":")
    variant = (
        f"{data.draw(surrounding)}{name.upper()}{data.draw(surrounding)}:{data.draw(surrounding)}{seller}"
    )
    assert normalise_party_id("PLATFORM", variant) == normal
    assert normal.value.endswith(":" + seller)  # the seller id keeps its case


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(KNOWN_SCHEMES), st.text(max_size=40))
def test_arbitrary_text_is_normalised_or_refused_cleanly(scheme: str, value: str) -> None:
    refusal: InvalidArgument | None = None
    try:
        normal = normalise_party_id(scheme, value, field=FIELD)
    except InvalidArgument as err:
        refusal = err
    if refusal is not None:
        assert refusal.field == f"{FIELD}.value"
        assert str(refusal).startswith(f"{FIELD}.value: {scheme} ")
    else:
        assert normal.value.isascii()
        assert normalise_party_id(scheme, normal.value) == normal
