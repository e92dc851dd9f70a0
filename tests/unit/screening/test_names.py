"""Name normalisation, blocking keys and explained scores (``borderx.screening.names``)."""

from __future__ import annotations

import pytest

from borderx.screening.names import (
    ACCOUNT,
    CONTACT,
    IDENTIFIER,
    NAME,
    blocking_keys,
    match_party,
    name_form,
    party_form,
)

HONGDA = party_form(
    ["SHENZHEN HONGDA TRADING CO LTD"],
    lines=["12 Bao An Road"],
    city="Shenzhen",
    postcode="518000",
    country="CN",
)


def shares_a_key(a: object, b: object) -> bool:
    return bool(set(blocking_keys(a)) & set(blocking_keys(b)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "written",
    [
        "Shenzhen Hong Da Trading Company Limited",  # syllable spacing, legal form spelt out
        "Hongda Trading (Shenzhen)",  # word order, no legal form
        "shenzhen hongda trading co., ltd.",  # case and punctuation
        "Shenzen Hongda Trdg Co",  # a misspelt city and an abbreviation
        "Shenzhen Hongda Trading Co tLd",  # a misspelt legal form
        "Shenzhen Höngda Trading Co Ltd",  # a diacritic
        "深圳宏达贸易有限公司",  # the Chinese name, transliterated
    ],
)
def test_variants_of_one_name_match(written: str) -> None:
    query = party_form([written], city="Shenzhen", country="CN")
    match = match_party(query, HONGDA, party="shipper")
    assert match.basis == NAME
    assert match.score >= 0.85, match
    assert shares_a_key(query, HONGDA)
    assert "country CN = CN" in match.evidence


def test_a_different_distinctive_word_does_not_match() -> None:
    query = party_form(["Shenzhen Hongxin Trading Co Ltd"], city="Shenzhen", country="CN")
    match = match_party(query, HONGDA, party="shipper")
    assert match.score < 0.85, match
    assert not shares_a_key(query, HONGDA)


def test_legal_forms_and_trade_words_do_not_decide() -> None:
    form = name_form("Müller Logistics GmbH & Co. KG")
    assert form.distinctive == ("muller",)
    assert form.legal_form_removed
    # a name that is all trade words keeps them, rather than matching everything
    assert name_form("Global Trading Limited").distinctive == ("global", "trading")


def test_contradictions_count_against() -> None:
    same = party_form(["Shenzhen Hongda Trading Co Ltd"], city="Shenzhen", postcode="518000", country="CN")
    other_country = party_form(["Shenzhen Hongda Trading Co Ltd"], country="HK")
    other_postcode = party_form(
        ["Shenzhen Hongda Trading Co Ltd"], city="Shenzhen", postcode="518999", country="CN"
    )
    other_id = party_form(["Shenzhen Hongda Trading Co Ltd"], country="CN", ids=[("MID", "CNHONDA1SHE")])
    holder = party_form(
        ["SHENZHEN HONGDA TRADING CO LTD"],
        city="Shenzhen",
        postcode="518000",
        country="CN",
        ids=[("MID", "CNHONDA2SHE")],
    )
    base = match_party(same, HONGDA, party="shipper")
    assert "postcode agrees" in base.evidence

    by_country = match_party(other_country, HONGDA, party="shipper")
    assert "country HK ≠ CN" in by_country.evidence and by_country.score < base.score - 0.2
    by_postcode = match_party(other_postcode, HONGDA, party="shipper")
    assert "postcode differs" in by_postcode.evidence and by_postcode.score < base.score
    by_id = match_party(other_id, holder, party="shipper")
    assert "MID differs" in by_id.evidence and by_id.score < 0.85


def test_identifier_account_and_contact_bases() -> None:
    holder = party_form(
        ["Acme Widgets Pty Ltd"],
        country="AU",
        ids=[("ABN", "51824753556"), ("PLATFORM", "amazon:A2X9")],
        emails=["sales@acme.example"],
        phones=["+61299999999"],
    )
    by_id = match_party(
        party_form(["Totally Different"], ids=[("ABN", "51824753556")]), holder, party="shipper"
    )
    assert (by_id.basis, by_id.score) == (IDENTIFIER, 1.0)
    assert by_id.proves_identity
    by_account = match_party(party_form([], ids=[("PLATFORM", "amazon:A2X9")]), holder, party="shipper")
    assert by_account.basis == ACCOUNT and by_account.proves_identity
    by_mail = match_party(party_form(["Someone"], emails=["sales@acme.example"]), holder, party="consignee")
    assert by_mail.basis == CONTACT and not by_mail.proves_identity
    assert by_mail.score >= 0.9 and by_mail.party == "consignee"
    assert "contact sales@acme.example agrees" in by_mail.evidence
    assert "p:+61299999999" in blocking_keys(holder) and "e:sales@acme.example" in blocking_keys(holder)


def test_corroboration_needs_name_and_address() -> None:
    full = party_form(
        ["Shenzhen Hongda Trading Co Ltd"],
        lines=["12 Bao An Road"],
        city="Shenzhen",
        postcode="518000",
        country="CN",
    )
    assert match_party(full, HONGDA, party="shipper").corroborated
    no_street = party_form(["Shenzhen Hongda Trading Co Ltd"], city="Shenzhen", country="CN")
    assert not match_party(no_street, HONGDA, party="shipper").corroborated
