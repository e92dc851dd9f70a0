"""Name, address and contact matching: normal forms, blocking keys and explained scores.

Pure functions, no I/O: the indexer (``screening.index``) turns a statement's party into
blocking keys that the store keeps; the screener turns a manifest's party into the same
kind of keys, reads the candidates that share one, and scores each candidate here.
Never a scan of all parties: blocking, then scoring.

What must not matter (issue #13): legal forms (Co., Ltd, Limited, Pty, LLC, GmbH …, by
``rigour``'s table of organisation types), punctuation, case, word order, diacritics and
scripts (transliterated to ASCII by ``rigour.text.ascii_text``), and the spacing of
romanised syllables ("Hong Da" = "Hongda"). What must: a different distinctive word
("Hongda Trading" is not "Hongxin Trading"). Words that name trades, places or company
structure ("trading", "electronics", "shenzhen", "group") are kept for scoring but carry
little weight, so that two firms that share a city and a trade are told apart by the
word that distinguishes them.

Blocking keys (``d:`` namespace) are the distinctive words run together, and every string
one deletion away from it (the symmetric-deletion scheme of SymSpell): two names one edit
apart on their distinctive part (a typo, a dropped or doubled letter, two swapped letters)
always share a key, at the cost of about one key per letter; the distinctive words sorted
are one more key in the same namespace (word order). ``e:`` and ``p:`` are normalised
e-mails and E.164 phones.

Scores are 0..1 with evidence strings that say what agreed and what contradicted:
similarity by ``rapidfuzz`` (normalised Indel similarity), then country, postcode, street
and identifier agreement move it up or down.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA
from rigour.names import remove_org_types
from rigour.text import ascii_text

#: basis of a match (``borderx.v1.Match.basis``); only the first two prove identity
IDENTIFIER, ACCOUNT, CONTACT, NAME = "IDENTIFIER", "ACCOUNT", "CONTACT", "NAME"
PROOF_BASES = frozenset({IDENTIFIER, ACCOUNT})
#: the identifier scheme of marketplace seller accounts
ACCOUNT_SCHEME = "PLATFORM"

#: the distinctive part used for keys is cut here: longer names are still scored whole
_KEY_LENGTH = 24
#: below this many letters the distinctive part gets no deletion keys (too unselective)
_MIN_DELETE_KEY = 4

# Words that describe what a firm does, how it is organised, or where it is: they recur
# across unrelated firms, so they must not decide a match (issue #13's hard negatives
# share their city and trade words). Abbreviations seen on manifests are included.
_GENERIC_TEXT = """
    trading trade trdg traders trader import imports importer export exports exporter impex imp exp
    industrial industry industries ind ent enterprise enterprises technology technologies tech
    electronic electronics elec electrical electric commerce ecommerce ecom commercial comm
    international intl global worldwide world group grp holding holdings hldgs company co corp
    corporation inc incorporated limited ltd llc plc pty pte gmbh sa sarl bv nv ag kg oy ab as
    manufacturing manufacturer mfg mfr factory supply supplies supplier services service svcs
    logistics shipping freight express products product goods garment garments apparel clothing
    textile textiles fashion toys toy crafts craft gifts gift jewelry jewellery accessories
    cosmetics beauty household home hardware machinery machine equipment parts auto digital
    network smart new development dev investment partners associates general distribution
    distributors distributor wholesale retail store shop online mall sourcing solutions
    the and of
"""
# places: matched exactly only (a one-letter slip of "jinhua" is the seller name "jiahua")
_PLACE_TEXT = """
    shenzhen guangzhou dongguan foshan yiwu hangzhou ningbo shanghai beijing xiamen quanzhou
    fuzhou suzhou wenzhou shantou zhongshan jinhua tianjin qingdao wuhan chengdu nanjing
    china chinese hk kowloon taiwan taipei vietnam hanoi india mumbai delhi turkey istanbul
    sydney melbourne auckland wellington london toronto vancouver
"""
GENERIC_WORDS: frozenset[str] = frozenset((*_GENERIC_TEXT.split(), *_PLACE_TEXT.split()))
# place and trade phrases of several words, removed before the words are weighed (so that
# the "hong" of Hong Kong is not taken for the distinctive syllable of "Hong Da")
_GENERIC_PHRASES = re.compile(
    r"\b(?:hong kong|new zealand|united kingdom|united states|e commerce|import and export|"
    r"import export|imp exp|you xian gong si|gong si|mao yi|ke ji|shen zhen shi|shen zhen|guang zhou|yi wu)\b"
)
_FUZZY_GENERIC = tuple(sorted(w for w in _GENERIC_TEXT.split() if len(w) >= 4))
_LONG_PLACES = tuple(sorted(w for w in _PLACE_TEXT.split() if len(w) >= 7))
# legal-form words a misspelt tail of a name may stand for ("Co tLd", "Coo", "Lctd")
_LEGAL_TAIL = ("co", "ltd", "llc", "inc", "pty", "plc", "gmbh", "corp", "limited", "company")


def _near(token: str, words: Sequence[str]) -> bool:
    return process.extractOne(token, words, scorer=OSA.distance, score_cutoff=1) is not None


@lru_cache(maxsize=65_536)
def _place(token: str, places: tuple[str, ...]) -> bool:
    """The party's own city or region, or a well-known long place name, spelt with at most one slip."""
    if token in places:
        return True
    if len(token) < 5:
        return False
    return _near(token, places) or (len(token) >= 7 and _near(token, _LONG_PLACES))


@lru_cache(maxsize=65_536)
def _generic(token: str) -> bool:
    """A trade/place word, or a one-edit misspelling of one ("shenzen", "comapny", "gmibh")."""
    if token in GENERIC_WORDS:
        return True
    if len(token) < 5:
        return False
    return _near(token, _FUZZY_GENERIC)


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


# ---------------------------------------------------------------- normal forms


@dataclass(frozen=True, slots=True)
class NameForm:
    """One name, normalised. ``compact`` (distinctive words run together) is what keys use."""

    text: str
    tokens: tuple[str, ...]
    distinctive: tuple[str, ...]
    legal_form_removed: bool
    full: str = field(init=False)
    compact: str = field(init=False)
    sorted_compact: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "full", " ".join(self.tokens))
        object.__setattr__(self, "compact", "".join(self.distinctive))
        object.__setattr__(self, "sorted_compact", "".join(sorted(self.distinctive)))


def _plain(text: str) -> str:
    """ASCII, lower case, words separated by single spaces: scripts, accents, case and punctuation gone."""
    # ``ascii_text`` leaves ASCII text as it is (tested): most manifests skip it
    ascii = text if text.isascii() else ascii_text(text)
    return _NON_ALNUM.sub(" ", ascii.casefold()).strip()


@lru_cache(maxsize=262_144)
def name_form(text: str, places: tuple[str, ...] = ()) -> NameForm:
    """The normal form of a legal or trading name; ``places`` (the party's own city/region words) weigh as little as trade words."""
    plain = _plain(text)
    stripped = plain
    # rigour removes one organisation type per pass ("company limited" takes two)
    for _ in range(3):
        again = _NON_ALNUM.sub(" ", remove_org_types(stripped)).strip()
        if again == stripped:
            break
        stripped = again
    removed = stripped != plain
    if not stripped:  # the whole name was a legal form: keep it rather than match everything
        stripped = plain
    words = stripped.split()
    # a misspelt legal form at the end ("co tld") is a legal form all the same
    while len(words) > 1 and len(words[-1]) >= 3 and _near(words[-1], _LEGAL_TAIL):
        words.pop()
        removed = True
    stripped = " ".join(words)
    tokens = tuple(words)
    weighed = _GENERIC_PHRASES.sub(" ", stripped)
    distinctive = tuple(t for t in weighed.split() if not _generic(t) and not _place(t, places))
    if not distinctive:
        distinctive = tokens  # "Global Trading Co": nothing distinctive, so all of it is
    return NameForm(text=text, tokens=tokens, distinctive=distinctive, legal_form_removed=removed)


@dataclass(frozen=True, slots=True)
class PartyForm:
    """A party normalised for matching: names, address parts, identifiers, contacts."""

    names: tuple[NameForm, ...] = ()
    country: str = ""
    city: str = ""
    postcode: str = ""
    street: str = ""
    ids: frozenset[tuple[str, str]] = frozenset()
    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()


def party_form(
    names: Iterable[str],
    *,
    lines: Sequence[str] = (),
    city: str = "",
    region: str = "",
    postcode: str = "",
    country: str = "",
    ids: Iterable[tuple[str, str]] = (),
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
) -> PartyForm:
    """The matching form of a party; ids, e-mails and phones must already be normalised."""
    places = tuple(dict.fromkeys((*_plain(city).split(), *_plain(region).split())))
    forms = tuple(dict.fromkeys(name_form(n, places) for n in names if n and n.strip()))
    return PartyForm(
        names=forms,
        country=country.strip().upper(),
        city=_plain(city),
        postcode=_NON_ALNUM.sub("", postcode.casefold()),
        street=_plain(" ".join(lines)),
        ids=frozenset(ids),
        emails=frozenset(emails),
        phones=frozenset(phones),
    )


# ---------------------------------------------------------------- blocking keys


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def name_keys(form: NameForm) -> set[str]:
    """Blocking keys of one name: its distinctive part, each deletion of it, and its sorted words."""
    compact = form.compact[:_KEY_LENGTH]
    if not compact:
        return set()
    keys = {f"d:{compact}", f"d:{form.sorted_compact[:_KEY_LENGTH]}"}
    if len(compact) >= _MIN_DELETE_KEY:
        keys.update(f"d:{d}" for d in _deletions(compact))
    return keys


#: a one-edit (deletion) key shared by more statements than this is too unselective to
#: score them all: it is skipped, while exact keys (the same distinctive words) never are
TYPO_KEY_POSTINGS = 16


def exact_keys(party: PartyForm) -> frozenset[str]:
    """The keys of ``party`` that only the same distinctive words share (never capped), and contacts."""
    keys = {f"d:{form.compact[:_KEY_LENGTH]}" for form in party.names if form.compact}
    keys |= {f"d:{form.sorted_compact[:_KEY_LENGTH]}" for form in party.names if form.compact}
    keys.update(f"e:{e}" for e in party.emails)
    keys.update(f"p:{p}" for p in party.phones)
    return frozenset(keys)


def blocking_keys(party: PartyForm) -> tuple[str, ...]:
    """Every blocking key of ``party``: names, e-mails (``e:``) and phones (``p:``), sorted."""
    keys: set[str] = set()
    for form in party.names:
        keys |= name_keys(form)
    keys.update(f"e:{e}" for e in party.emails)
    keys.update(f"p:{p}" for p in party.phones)
    return tuple(sorted(keys))


# ---------------------------------------------------------------- scoring


@dataclass(frozen=True)
class MatchThresholds:
    """``[policy.matching]``: when a resemblance counts (see ``screening.policy``)."""

    #: a NAME match at or above this score is a possible match (flag → at most EXAMINE)
    review: float = 0.85
    #: a NAME match at or above this, with the address agreeing, is corroborated (full action)
    corroborated: float = 0.95
    #: how alike the street lines must be for the address to corroborate a name
    address: float = 0.85
    #: a contact (e-mail or phone) match scores this
    contact_score: float = 0.9
    #: taken off for a different country, a different city, a different postcode in the same city
    country_penalty: float = 0.25
    city_penalty: float = 0.1
    postcode_penalty: float = 0.15
    #: taken off for a different value in an identifier scheme both parties carry
    identifier_penalty: float = 0.3
    #: the lowest score a name search lists
    search: float = 0.6


DEFAULT_THRESHOLDS = MatchThresholds()


@dataclass(frozen=True)
class Match:
    """How a statement's party matched a shipment's: ``borderx.v1.Match``."""

    basis: str
    score: float
    party: str
    evidence: tuple[str, ...] = ()
    #: a NAME match whose address agreed well enough to take the flag's full action
    corroborated: bool = False

    @property
    def proves_identity(self) -> bool:
        return self.basis in PROOF_BASES

    def describe(self) -> str:
        return f"{self.basis} {self.score:.2f}"


def name_similarity(a: NameForm, b: NameForm) -> float:
    """0..1: how alike two names are, the distinctive part weighing four fifths."""
    distinct = max(fuzz.ratio(a.compact, b.compact), fuzz.ratio(a.sorted_compact, b.sorted_compact))
    whole = fuzz.token_sort_ratio(a.full, b.full)
    return (0.8 * distinct + 0.2 * whole) / 100.0


def best_name(query: PartyForm, candidate: PartyForm) -> tuple[float, NameForm | None, NameForm | None]:
    """The best-scoring pair of names (legal or trading) between two parties."""
    best, pair_q, pair_c = 0.0, None, None
    for q in query.names:
        for c in candidate.names:
            score = name_similarity(q, c)
            if score > best:
                best, pair_q, pair_c = score, q, c
    return best, pair_q, pair_c


def address_similarity(query: PartyForm, candidate: PartyForm) -> float | None:
    """0..1 over street lines, or None when either side has none."""
    if not query.street or not candidate.street:
        return None
    return float(fuzz.token_set_ratio(query.street, candidate.street)) / 100.0


def _id_evidence(query: PartyForm, candidate: PartyForm) -> tuple[list[tuple[str, str]], list[str]]:
    shared = sorted(query.ids & candidate.ids)
    contradicted = []
    q_schemes: dict[str, set[str]] = {}
    for scheme, value in query.ids:
        q_schemes.setdefault(scheme, set()).add(value)
    c_schemes: dict[str, set[str]] = {}
    for scheme, value in candidate.ids:
        c_schemes.setdefault(scheme, set()).add(value)
    for scheme in sorted(q_schemes.keys() & c_schemes.keys()):
        if not q_schemes[scheme] & c_schemes[scheme]:
            contradicted.append(scheme)
    return shared, contradicted


def _place_evidence(
    query: PartyForm, candidate: PartyForm, thresholds: MatchThresholds
) -> tuple[float, list[str]]:
    """What country, city and postcode say: (penalty, evidence)."""
    evidence: list[str] = []
    score = 0.0
    if query.country and candidate.country:
        if query.country == candidate.country:
            evidence.append(f"country {query.country} = {candidate.country}")
        else:
            evidence.append(f"country {query.country} ≠ {candidate.country}")
            score += thresholds.country_penalty
    other_city = bool(query.city and candidate.city and query.city != candidate.city)
    if other_city and query.country == candidate.country:
        evidence.append(f"city {query.city} ≠ {candidate.city}")
        score += thresholds.city_penalty
    if query.postcode and candidate.postcode:
        if query.postcode == candidate.postcode:
            evidence.append("postcode agrees")
        elif not other_city:
            evidence.append("postcode differs")
            score += thresholds.postcode_penalty
    return score, evidence


def match_party(
    query: PartyForm,
    candidate: PartyForm,
    *,
    party: str,
    thresholds: MatchThresholds = DEFAULT_THRESHOLDS,
) -> Match:
    """Score ``candidate`` (a statement's party) against ``query`` (a manifest's), with evidence.

    The basis is the strongest thing that agreed: a shared identifier (an ACCOUNT when its
    scheme is PLATFORM), else a shared e-mail or phone (CONTACT), else the names (NAME).
    Contradictions (country, postcode in the same city, a different value in one
    identifier scheme) are listed and, for CONTACT and NAME, lower the score.
    """
    evidence: list[str] = []
    shared_ids, contradicted = _id_evidence(query, candidate)
    name, q_name, c_name = best_name(query, candidate)
    if q_name is not None and c_name is not None:
        how = " after legal-form removal" if q_name.legal_form_removed or c_name.legal_form_removed else ""
        evidence.append(f"name {name:.2f}{how}")

    if shared_ids:
        accounts = [i for i in shared_ids if i[0] == ACCOUNT_SCHEME]
        basis = ACCOUNT if accounts and len(accounts) == len(shared_ids) else IDENTIFIER
        proof = [f"{s} {v}" for s, v in shared_ids]
        return Match(basis, 1.0, party, (f"{', '.join(proof)} agrees", *evidence))

    score, basis = name, NAME
    contacts = sorted(query.emails & candidate.emails) + sorted(query.phones & candidate.phones)
    if contacts:
        basis, score = CONTACT, max(thresholds.contact_score, name)
        evidence.insert(0, f"contact {', '.join(contacts)} agrees")

    penalty, said = _place_evidence(query, candidate, thresholds)
    score -= penalty
    evidence.extend(said)
    street = address_similarity(query, candidate)
    if street is not None:
        evidence.append(f"street {street:.2f}")
    for scheme in contradicted:
        evidence.append(f"{scheme} differs")
        score -= thresholds.identifier_penalty

    score = min(max(score, 0.0), 1.0)
    corroborated = (
        basis == NAME
        and score >= thresholds.corroborated
        and street is not None
        and street >= thresholds.address
        and query.country == candidate.country != ""
        and "postcode differs" not in evidence
    )
    if corroborated:
        evidence.append("name and address agree")
    return Match(basis, round(score, 4), party, tuple(evidence), corroborated=corroborated)


# ---------------------------------------------------------------- stored forms

# Field, item and part separators of a stored form: ASCII information separators, which
# no normalised token holds; a party whose raw text carries one is stored as JSON instead.
_FS, _IS, _PS = "\x1e", "\x1f", "\x1d"
_SEPARATORS = re.compile("[\x1c-\x1f]")
_TEXT_FORM, _JSON_FORM = b"\x01", b"\x02"


def dump_form(form: PartyForm) -> bytes:
    """``form`` as bytes for the store's ``name_forms`` (derived data, read back by :func:`load_form`).

    The memory index keeps these bytes, not the objects: a few hundred bytes per party.
    """
    names = [
        (n.text, " ".join(n.tokens), " ".join(n.distinctive), "1" if n.legal_form_removed else "")
        for n in form.names
    ]
    ids = sorted(form.ids)
    fields = [form.country, form.city, form.postcode, form.street]
    strings = [
        *fields,
        *(s for pair in ids for s in pair),
        *form.emails,
        *form.phones,
        *(n[0] for n in names),
    ]
    if _SEPARATORS.search("".join(strings)):
        payload = {
            "f": fields,
            "i": ids,
            "e": sorted(form.emails),
            "p": sorted(form.phones),
            "n": names,
        }
        return _JSON_FORM + json.dumps(payload, separators=(",", ":")).encode()
    text = _FS.join(
        (
            *fields,
            _IS.join(f"{s}{_PS}{v}" for s, v in ids),
            _IS.join(sorted(form.emails)),
            _IS.join(sorted(form.phones)),
            _IS.join(_PS.join(n) for n in names),
        )
    )
    return _TEXT_FORM + text.encode()


@lru_cache(maxsize=65_536)
def _name_of(text: str, tokens: str, distinctive: str, removed: str) -> NameForm:
    """One stored name read back; cached, as the parties that match one query mostly bear the same name."""
    return NameForm(
        text=text,
        tokens=tuple(tokens.split()),
        distinctive=tuple(distinctive.split()),
        legal_form_removed=bool(removed),
    )


def load_form(data: bytes) -> PartyForm:
    """The :class:`PartyForm` that :func:`dump_form` wrote; ValueError on bytes it did not write."""
    tag, rest = data[:1], data[1:]
    if tag == _TEXT_FORM:
        parts = rest.decode().split(_FS)
        if len(parts) != 8:
            raise ValueError("not a stored matching form")
        country, city, postcode, street, ids, emails, phones, names = parts
        id_pairs = [tuple(i.split(_PS)) for i in ids.split(_IS)] if ids else []
        name_parts = [n.split(_PS) for n in names.split(_IS)] if names else []
        email_list = emails.split(_IS) if emails else []
        phone_list = phones.split(_IS) if phones else []
    elif tag == _JSON_FORM:
        payload = json.loads(rest)
        country, city, postcode, street = payload["f"]
        id_pairs, email_list, phone_list, name_parts = payload["i"], payload["e"], payload["p"], payload["n"]
    else:
        raise ValueError("not a stored matching form")
    if any(len(p) != 2 for p in id_pairs) or any(len(n) != 4 for n in name_parts):
        raise ValueError("not a stored matching form")
    return PartyForm(
        names=tuple(_name_of(*n) for n in name_parts),
        country=country,
        city=city,
        postcode=postcode,
        street=street,
        ids=frozenset((s, v) for s, v in id_pairs),
        emails=frozenset(email_list),
        phones=frozenset(phone_list),
    )


# ---------------------------------------------------------------- a bound on the score


def may_reach(query: PartyForm, candidate: PartyForm, threshold: float, thresholds: MatchThresholds) -> bool:
    """False only when ``match_party(query, candidate)`` surely neither proves identity nor scores ``threshold``.

    Screening calls it before the full scoring of each blocking candidate: most share a
    key with the query but cannot match. Exact, from :func:`match_party`'s own rules: a
    shared identifier or contact always goes to the full scoring; otherwise the score is
    the best name similarity less the place and identifier penalties (see
    :func:`may_reach_by_name`).
    """
    if (
        not query.ids.isdisjoint(candidate.ids)
        or not query.emails.isdisjoint(candidate.emails)
        or not query.phones.isdisjoint(candidate.phones)
    ):
        return True
    penalty = 0.0
    if query.ids and candidate.ids:
        penalty = thresholds.identifier_penalty * len(_id_evidence(query, candidate)[1])
    return may_reach_by_name(query, light_of(candidate), threshold, thresholds, penalty=penalty, shares=False)


#: what the name bound needs of a candidate: country, city, postcode, whether it has any
#: identifier or contact, and (compact, sorted compact, full) per name
Light = tuple[str, str, str, bool, tuple[tuple[str, str, str], ...]]


def light_of(form: PartyForm) -> Light:
    has_keys = bool(form.ids or form.emails or form.phones)
    return form.country, form.city, form.postcode, has_keys, compacts(form)


def compacts(form: PartyForm) -> tuple[tuple[str, str, str], ...]:
    return tuple((n.compact, n.sorted_compact, n.full) for n in form.names)


def place_penalty(
    query: tuple[Hashable, Hashable, Hashable],
    candidate: tuple[Hashable, Hashable, Hashable],
    thresholds: MatchThresholds,
) -> float:
    """What country, city and postcode take off a NAME score, as ``_place_evidence`` takes it.

    Each side is (country, city, postcode), empty when falsy. Any values that are equal
    exactly when the texts are work (the memory index passes interned ids); a postcode may
    also be given as a hash, as a difference there only ever adds a penalty: two postcodes
    that collide are taken as equal, which only makes a bound looser.
    """
    (q_country, q_city, q_postcode), (c_country, c_city, c_postcode) = query, candidate
    penalty = 0.0
    if q_country and c_country and q_country != c_country:
        penalty += thresholds.country_penalty
    other_city = bool(q_city and c_city and q_city != c_city)
    if other_city and q_country == c_country:
        penalty += thresholds.city_penalty
    if q_postcode and c_postcode and q_postcode != c_postcode and not other_city:
        penalty += thresholds.postcode_penalty
    return penalty


def may_reach_by_name(
    query: PartyForm,
    candidate: Light,
    threshold: float,
    thresholds: MatchThresholds,
    *,
    penalty: float = 0.0,
    shares: bool | None = None,
) -> bool:
    """The name part of :func:`may_reach`: False only when the candidate surely cannot match.

    A candidate that may share an identifier or contact with the query (both have some,
    unless ``shares`` says False) is always scored in full. Otherwise its score is NAME:
    the best :func:`name_similarity`, computed here as there, less the place penalties
    (as ``_place_evidence`` takes them) and ``penalty`` (the identifier ones; leaving them
    out only makes the bound looser). A thousandth of margin absorbs the final rounding.
    """
    country, city, postcode, has_keys, names = candidate
    if shares is None:
        shares = has_keys and bool(query.ids or query.emails or query.phones)
    if shares:
        return True
    penalty += place_penalty(
        (query.country, query.city, query.postcode), (country, city, postcode), thresholds
    )
    needed = threshold + penalty - 0.001
    if needed <= 0.0 or needed > 1.0:
        return needed <= 0.0
    # 0.8 × distinctive + 0.2 × whole (at most 100): the distinctive ratio must reach this first
    cutoff = (needed * 100.0 - 20.0) / 0.8
    for q in query.names:
        for compact, sorted_compact, full in names:
            distinct = max(fuzz.ratio(q.compact, compact), fuzz.ratio(q.sorted_compact, sorted_compact))
            if distinct < cutoff:
                continue
            whole = fuzz.token_sort_ratio(q.full, full)
            if (0.8 * distinct + 0.2 * whole) / 100.0 >= needed:
                return True
    return False


def light_form(data: bytes) -> Light | None:
    """The :data:`Light` part of a stored form (:func:`dump_form`), read without building the form.

    None when it cannot be read that way (the JSON fallback): the caller then scores in full.
    """
    if data[:1] != _TEXT_FORM:
        return None
    parts = data[1:].decode().split(_FS)
    if len(parts) != 8:
        return None
    pairs = []
    for name in parts[7].split(_IS) if parts[7] else ():
        _, tokens, distinctive_text, _ = name.split(_PS)
        distinctive = distinctive_text.split()
        pairs.append(("".join(distinctive), "".join(sorted(distinctive)), " ".join(tokens.split())))
    return parts[0], parts[1], parts[2], bool(parts[4] or parts[5] or parts[6]), tuple(pairs)
