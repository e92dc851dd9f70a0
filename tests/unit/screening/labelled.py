"""A generated, labelled set for name screening (issue #13): parties, true variants, hard negatives.

Company names in several countries' styles and Chinese romanised seller names; variants
as manifests really spell them (legal forms, abbreviations, typos, word order, syllable
spacing, case and punctuation, missing address parts); hard negatives that share city,
trade words and legal form but differ in the distinctive word. Deterministic per seed.
Used by the quality test and by ``tests/bench/bench_names.py``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

SYLLABLES = [
    "hong",
    "da",
    "xin",
    "li",
    "tai",
    "feng",
    "sheng",
    "jia",
    "hua",
    "yuan",
    "long",
    "cheng",
    "fu",
    "kang",
    "rui",
    "bao",
    "ming",
    "tian",
    "hui",
    "jin",
    "mei",
    "xiang",
    "yong",
    "chang",
    "hao",
    "shun",
    "wei",
    "yi",
    "kai",
    "guang",
    "rong",
    "jun",
    "ding",
    "tong",
    "lian",
    "an",
    "bo",
    "chao",
    "heng",
    "qiang",
    "zhong",
    "sen",
    "lan",
    "pu",
    "run",
    "ze",
    "tao",
    "yu",
    "ying",
    "zhi",
    "kun",
    "peng",
    "xu",
    "bin",
    "hai",
    "qi",
    "song",
    "wen",
    "jing",
    "yao",
    "can",
    "ke",
    "ling",
    "mao",
    "le",
    "nuo",
    "ou",
    "pei",
    "quan",
    "shen",
    "wang",
    "xing",
    "yan",
    "zhan",
    "zhou",
]
CN_CITIES = (("Shenzhen", "518000"), ("Guangzhou", "510000"), ("Yiwu", "322000"), ("Dongguan", "523000"))
CN_TRADES = ("Trading", "Electronics", "Technology", "Import and Export", "Industrial", "Garments")
CN_ROADS = ("Bao An Road", "Shennan Avenue", "Binhe Road", "Jiefang Road", "Renmin Road", "Huanshi Road")

WESTERN_WORDS = [
    "pacific",
    "harbour",
    "kowhai",
    "summit",
    "cedar",
    "granite",
    "maple",
    "aurora",
    "ironbark",
    "wattle",
    "thistle",
    "heron",
    "falcon",
    "juniper",
    "silver",
    "copper",
    "oakridge",
    "riverside",
    "bluegum",
    "kestrel",
    "banksia",
    "tamarack",
    "orchid",
    "pinnacle",
    "meridian",
    "coral",
    "lantern",
    "anchor",
    "beacon",
    "harvest",
    "willow",
    "saffron",
    "ember",
    "cobalt",
    "brightwater",
    "hollis",
    "marlow",
    "penrose",
    "ashford",
    "calder",
    "dunmore",
    "everly",
    "fairholm",
    "glenrock",
    "hartley",
    "ivory",
    "kingsley",
    "larkspur",
    "mossgiel",
    "northam",
    "ormond",
    "pemberton",
    "quarry",
    "redwood",
    "sterling",
    "thornbury",
    "upland",
    "vale",
    "westbrook",
    "yarrow",
    "zenith",
    "bramble",
    "crestview",
    "driftwood",
]
WESTERN_TRADES = ("Trading", "Imports", "Supplies", "Logistics", "Distribution", "Wholesale")
COUNTRIES = {
    "AU": (("Pty Ltd", "Pty Limited", "Proprietary Limited"), ("Sydney", "Melbourne"), "2000"),
    "NZ": (("Limited", "Ltd"), ("Auckland", "Wellington"), "1010"),
    "GB": (("Ltd", "Limited", "PLC"), ("London", "Leeds"), "LS1 4AP"),
    "US": (("LLC", "Inc", "Incorporated"), ("Seattle", "Austin"), "98101"),
    "DE": (("GmbH", "GmbH & Co. KG", "AG"), ("Hamburg", "Köln"), "20095"),
    "CA": (("Inc.", "Ltd.", "Corporation"), ("Toronto", "Vancouver"), "M5H 2N2"),
}
STREETS = ("George Street", "Queen Street", "High Street", "Main Street", "Hauptstraße", "King Street")
ABBREVIATIONS = {
    "Trading": "Trdg",
    "Technology": "Tech",
    "Electronics": "Elec",
    "International": "Intl",
    "Company": "Co",
    "Limited": "Ltd",
    "Industrial": "Ind",
    "Import and Export": "Imp & Exp",
    "Supplies": "Supply",
    "Proprietary": "Pty",
    "Incorporated": "Inc",
}

VARIANT_KINDS = (
    "legal_form",
    "abbreviation",
    "typo",
    "word_order",
    "syllable_spacing",
    "case_punctuation",
    "missing_address",
)


@dataclass(frozen=True)
class Sample:
    """A party as a statement or a manifest names it."""

    name: str
    lines: tuple[str, ...]
    city: str
    postcode: str
    country: str
    # the generator's view of the name, to build variants and negatives
    style: str = ""
    distinctive: tuple[str, ...] = ()
    trade: str = ""
    legal: str = ""


def _cn_name(distinctive: tuple[str, ...], city: str, trade: str, legal: str, spaced: bool) -> str:
    word = " ".join(s.capitalize() for s in distinctive) if spaced else "".join(distinctive).capitalize()
    return f"{city} {word} {trade} {legal}".strip()


def _western_name(distinctive: tuple[str, ...], trade: str, legal: str) -> str:
    return " ".join((*(w.capitalize() for w in distinctive), trade, legal)).strip()


def make_party(
    rng: random.Random, *, distinctive: tuple[str, ...] | None = None, like: Sample | None = None
) -> Sample:
    """A party; with ``like``, one in the same style, city, trade and legal form (a hard negative)."""
    style = like.style if like else rng.choice(("cn", "cn", "western"))
    if style == "cn":
        city, postcode = (like.city, like.postcode) if like else rng.choice(CN_CITIES)
        distinctive = distinctive or tuple(rng.sample(SYLLABLES, rng.choice((2, 2, 3))))
        trade = like.trade if like else rng.choice(CN_TRADES)
        legal = like.legal if like else rng.choice(("Co., Ltd.", "Company Limited", "Co Ltd", "Limited"))
        lines = (
            f"{rng.randint(1, 999)} {rng.choice(CN_ROADS)}",
            f"{rng.choice(('Futian', 'Nanshan', 'Baiyun', 'Tianhe'))} District",
        )
        name = _cn_name(distinctive, city, trade, legal, spaced=False)
        return Sample(
            name,
            lines,
            city,
            postcode[:3] + f"{rng.randint(0, 999):03d}",
            "CN",
            style,
            distinctive,
            trade,
            legal,
        )
    country = like.country if like else rng.choice(sorted(COUNTRIES))
    legals, cities, postcode = COUNTRIES[country]
    city = like.city if like else rng.choice(cities)
    distinctive = distinctive or tuple(rng.sample(WESTERN_WORDS, 2))
    trade = like.trade if like else rng.choice(WESTERN_TRADES)
    legal = like.legal if like else rng.choice(legals)
    lines = (f"{rng.randint(1, 999)} {rng.choice(STREETS)}",)
    pc = postcode if country not in ("AU", "US") else str(int(postcode) + rng.randint(0, 800))
    return Sample(
        _western_name(distinctive, trade, legal), lines, city, pc, country, style, distinctive, trade, legal
    )


def _typo(rng: random.Random, text: str) -> str:
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    i = rng.choice(letters)
    kind = rng.choice(("substitute", "delete", "insert", "transpose"))
    if kind == "substitute":
        c = rng.choice([x for x in "abcdefghijklmnopqrstuvwxyz" if x != text[i].lower()])
        return text[:i] + c + text[i + 1 :]
    if kind == "delete":
        return text[:i] + text[i + 1 :]
    if kind == "insert":
        return text[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + text[i:]
    if i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + text[i] + text[i:]


def make_variant(rng: random.Random, party: Sample, kind: str) -> Sample:
    """How a manifest spells ``party``, changed in one way of ``kind``."""
    d, trade, legal = party.distinctive, party.trade, party.legal
    if kind == "legal_form":
        options = ("", "Co.", "Limited", "LLC", "Pty Ltd", "Company Limited", "GmbH", "Ltd.")
        new_legal = rng.choice([o for o in options if o != legal])
        name = (
            _cn_name(d, party.city, trade, new_legal, spaced=False)
            if party.style == "cn"
            else _western_name(d, trade, new_legal)
        )
        return replace(party, name=name)
    if kind == "abbreviation":
        name = party.name
        for long, short in ABBREVIATIONS.items():
            name = name.replace(long, short)
        if name == party.name:
            name = name.replace(" and ", " & ") + "."
        return replace(party, name=name)
    if kind == "typo":
        # a typo in the name the manifest carries, address as filed
        return replace(party, name=_typo(rng, party.name))
    if kind == "word_order":
        if party.style == "cn":
            word = "".join(d).capitalize()
            return replace(party, name=f"{word} {trade} ({party.city}) {legal}")
        return replace(party, name=_western_name(tuple(reversed(d)), trade, legal))
    if kind == "syllable_spacing":
        if party.style == "cn":
            return replace(party, name=_cn_name(d, party.city, trade, legal, spaced=True))
        return replace(party, name=_western_name(("".join(d),), trade, legal))
    if kind == "case_punctuation":
        name = party.name.upper() if rng.random() < 0.5 else party.name.lower()
        name = name.replace(" ", rng.choice((", ", " - ", ". ", "  ")), 1)
        return replace(party, name=name.replace("O", "Ö", 1) if rng.random() < 0.3 else name)
    if kind == "missing_address":
        drop = rng.choice(("lines", "postcode", "both"))
        return replace(
            party,
            lines=() if drop in ("lines", "both") else party.lines,
            postcode="" if drop in ("postcode", "both") else party.postcode,
        )
    raise ValueError(kind)


def make_negative(rng: random.Random, party: Sample) -> Sample:
    """A different firm in the same city and trade: one distinctive word differs."""
    pool = SYLLABLES if party.style == "cn" else WESTERN_WORDS
    d = list(party.distinctive)
    i = rng.randrange(len(d))
    d[i] = rng.choice([w for w in pool if w not in d])
    return make_party(rng, distinctive=tuple(d), like=party)


@dataclass(frozen=True)
class LabelledSet:
    parties: list[Sample]
    #: (index of the true party, variant kind, variant)
    variants: list[tuple[int, str, Sample]]
    #: parties that match nothing held
    negatives: list[Sample]


def labelled_set(n_parties: int, *, variants_per_kind: int, n_negatives: int, seed: int = 13) -> LabelledSet:
    rng = random.Random(seed)
    parties: list[Sample] = []
    seen: set[tuple[str, ...]] = set()
    while len(parties) < n_parties:
        p = make_party(rng)
        if p.distinctive in seen or tuple(reversed(p.distinctive)) in seen:
            continue
        seen.add(p.distinctive)
        parties.append(p)
    variants = []
    for kind in VARIANT_KINDS:
        for _ in range(variants_per_kind):
            i = rng.randrange(len(parties))
            variants.append((i, kind, make_variant(rng, parties[i], kind)))
    negatives = []
    while len(negatives) < n_negatives:
        base = parties[rng.randrange(len(parties))]
        neg = make_negative(rng, base)
        if neg.distinctive in seen or tuple(reversed(neg.distinctive)) in seen:
            continue
        negatives.append(neg)
    return LabelledSet(parties, variants, negatives)
