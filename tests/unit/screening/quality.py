"""Blocking + scoring over a labelled set, as pure functions (no store): recall and false matches."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from borderx.screening.names import (
    DEFAULT_THRESHOLDS,
    MatchThresholds,
    PartyForm,
    blocking_keys,
    match_party,
    party_form,
)
from tests.unit.screening.labelled import LabelledSet, Sample


def form(sample: Sample) -> PartyForm:
    return party_form(
        (sample.name,), lines=sample.lines, city=sample.city, postcode=sample.postcode, country=sample.country
    )


@dataclass
class Quality:
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    wrong: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false_matches: int = 0
    negatives: int = 0
    candidates: int = 0

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / max(sum(self.total.values()), 1)

    def table(self) -> str:
        rows = [f"{'variant kind':<18} {'n':>5} {'recall':>7} {'precision':>9}"]
        for kind in sorted(self.total):
            hits, wrong = self.found[kind], self.wrong[kind]
            precision = hits / max(hits + wrong, 1)
            rows.append(f"{kind:<18} {self.total[kind]:>5} {hits / self.total[kind]:>7.3f} {precision:>9.3f}")
        rows.append(f"{'all variants':<18} {sum(self.total.values()):>5} {self.recall:>7.3f}")
        rows.append(
            f"{'hard negatives':<18} {self.negatives:>5} false matches {self.false_matches} "
            f"({1000 * self.false_matches / max(self.negatives, 1):.2f} per 1,000)"
        )
        return "\n".join(rows)


def evaluate(data: LabelledSet, thresholds: MatchThresholds = DEFAULT_THRESHOLDS) -> Quality:
    forms = [form(p) for p in data.parties]
    index: dict[str, set[int]] = defaultdict(set)
    for i, f in enumerate(forms):
        for key in blocking_keys(f):
            index[key].add(i)

    def matches(query: PartyForm) -> set[int]:
        candidates: set[int] = set()
        for key in blocking_keys(query):
            candidates |= index.get(key, set())
        q.candidates += len(candidates)
        return {
            i
            for i in candidates
            if match_party(query, forms[i], party="shipper", thresholds=thresholds).score >= thresholds.review
        }

    q = Quality()
    for true, kind, variant in data.variants:
        found = matches(form(variant))
        q.total[kind] += 1
        q.found[kind] += true in found
        q.wrong[kind] += len(found - {true})
    for negative in data.negatives:
        q.negatives += 1
        q.false_matches += bool(matches(form(negative)))
    return q
