"""Quality of name screening on a generated labelled set, at the default thresholds (issue #13).

Blocking then scoring exactly as the gateway does (``blocking_keys`` → candidates sharing
a key → ``match_party``), over 2,000 parties: recall of true variants ≥ 0.95, and at most
1 false match per 1,000 screened non-matching parties (hard negatives that share city,
trade words and legal form but differ in a distinctive word).
"""

from __future__ import annotations

from tests.unit.screening.labelled import VARIANT_KINDS, labelled_set
from tests.unit.screening.quality import evaluate


def test_recall_and_false_matches_at_the_default_thresholds() -> None:
    data = labelled_set(2_000, variants_per_kind=200, n_negatives=3_000, seed=13)
    quality = evaluate(data)
    print("\n" + quality.table())

    assert set(quality.total) == set(VARIANT_KINDS)
    assert quality.recall >= 0.95, quality.table()
    assert quality.false_matches <= 3, quality.table()  # ≤ 1 per 1,000 of 3,000
    for kind in VARIANT_KINDS:
        # no kind of variant may be given up on to reach the average
        assert quality.found[kind] / quality.total[kind] >= 0.9, quality.table()


def test_the_evaluation_can_fail() -> None:
    # the same set with a review threshold no name reaches finds nothing: the measure is live
    from borderx.screening.names import MatchThresholds

    data = labelled_set(200, variants_per_kind=10, n_negatives=10, seed=5)
    assert evaluate(data, MatchThresholds(review=1.01, corroborated=1.01)).recall == 0.0
