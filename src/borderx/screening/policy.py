"""Local screening policy: which partner programmes this agency recognises, and what flags mean.

Recognition of partner programmes follows mutual recognition arrangements (MRAs); how each
flag category × evidence level maps to an action is the agency's own choice. Both live in
the gateway's TOML under ``[policy]``::

    [policy.recognise]                  # programme = levels recognised ([] = every level)
    NZ_SES = []
    UK_AEO = ["AEO_S", "AEO_F"]

    [policy.flags.UNDERVALUATION]       # evidence = action, overriding the defaults below
    SUSPECTED = "STANDARD"

    [policy.matching]                   # name/contact matching thresholds (scores 0..1)
    review = 0.85                       # a NAME match from here on is a possible match (at most EXAMINE)
    corroborated = 0.95                 # NAME + agreeing address from here: the flag's full action
    address = 0.85                      # street similarity that counts as agreeing
    contact_score = 0.9                 # score of an e-mail or phone match (CONTACT)
    country_penalty = 0.25              # taken off for a different country
    city_penalty = 0.1                  # taken off for a different city in the same country
    postcode_penalty = 0.15             # taken off for a different postcode in the same city
    identifier_penalty = 0.3            # taken off for a different value in a shared id scheme
    search = 0.6                        # lowest score `borderx search` lists

An agency always recognises its own programme, at every level.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from borderx.errors import ConfigError
from borderx.screening.names import DEFAULT_THRESHOLDS, MatchThresholds
from borderx.statements.bodies import Evidence, FlagCategory
from borderx.statements.rules import PROGRAMME_PATTERN


class Recommendation(enum.IntEnum):
    """Ordered: a higher value outranks a lower one."""

    EXPEDITE = 1
    STANDARD = 2
    EXAMINE = 3
    HOLD = 4


_S, _C, _A = Evidence.SUSPECTED, Evidence.CONFIRMED, Evidence.ADJUDICATED
_E, _H, _STD = Recommendation.EXAMINE, Recommendation.HOLD, Recommendation.STANDARD

# Safety and prohibited goods: examine on suspicion, hold once confirmed. Revenue cases
# (valuation, classification, splitting): a suspicion alone does not stop a parcel.
DEFAULT_FLAG_ACTIONS: dict[FlagCategory, dict[Evidence, Recommendation]] = {
    FlagCategory.IPR_COUNTERFEIT: {_S: _E, _C: _H, _A: _H},
    FlagCategory.NARCOTICS: {_S: _E, _C: _H, _A: _H},
    FlagCategory.SECURITY_BREACH: {_S: _E, _C: _H, _A: _H},
    FlagCategory.PROHIBITED_RESTRICTED: {_S: _E, _C: _H, _A: _H},
    FlagCategory.FORCED_LABOUR: {_S: _E, _C: _H, _A: _H},
    FlagCategory.ORIGIN_FRAUD: {_S: _E, _C: _E, _A: _H},
    FlagCategory.ADCVD_EVASION: {_S: _E, _C: _E, _A: _H},
    FlagCategory.UNDERVALUATION: {_S: _STD, _C: _E, _A: _E},
    FlagCategory.MISCLASSIFICATION: {_S: _STD, _C: _E, _A: _E},
    FlagCategory.MISDECLARATION: {_S: _STD, _C: _E, _A: _E},
    FlagCategory.DE_MINIMIS_SPLITTING: {_S: _STD, _C: _E, _A: _E},
}

# The arrangements among the five founding agencies (the dev PKI seeds these):
# US–NZ 2007, US–CA 2008, AU–NZ 2016, CA–AU 2017, CA–NZ 2019, US–UK 2021, UK–NZ 2022,
# UK–CA 2024. There is no US–AU and no UK–AU arrangement. MRAs recognise validated
# security programmes: CTPAT tiers 2 and 3, AEO security (AEO_S) and full (AEO_F).
MRA_PARTNERS: dict[str, tuple[str, ...]] = {
    "US-CBP": ("NZ-CS", "CA-CBSA", "GB-HMRC"),
    "AU-ABF": ("NZ-CS", "CA-CBSA"),
    "NZ-CS": ("US-CBP", "AU-ABF", "CA-CBSA", "GB-HMRC"),
    "CA-CBSA": ("US-CBP", "AU-ABF", "NZ-CS", "GB-HMRC"),
    "GB-HMRC": ("US-CBP", "NZ-CS", "CA-CBSA"),
}
MRA_LEVELS: dict[str, tuple[str, ...]] = {
    "CTPAT": ("CTPAT_TIER_2", "CTPAT_TIER_3"),
    "UK_AEO": ("AEO_S", "AEO_F"),
}


def seed_recognition(agency: str, owners: Mapping[str, str]) -> dict[str, list[str]]:
    """The dev configs' [policy.recognise] table for ``agency``, from the real MRAs.

    ``owners`` maps programme → owning agency (the directory's ``programme_owners()``).
    """
    programmes = {owner: programme for programme, owner in owners.items()}
    table: dict[str, list[str]] = {}
    for partner in MRA_PARTNERS.get(agency, ()):
        programme = programmes.get(partner)
        if programme is None:
            continue
        table[programme] = list(MRA_LEVELS.get(programme, ()))
    return table


@dataclass(frozen=True)
class ScreeningPolicy:
    agency: str
    #: programme → recognised levels; an empty set means every level
    recognised: Mapping[str, frozenset[str]] = field(default_factory=dict)
    flag_actions: Mapping[FlagCategory, Mapping[Evidence, Recommendation]] = field(
        default_factory=lambda: DEFAULT_FLAG_ACTIONS
    )
    own_programmes: frozenset[str] = frozenset()
    #: ``[policy.matching]``: when a name or contact resemblance counts
    matching: MatchThresholds = DEFAULT_THRESHOLDS

    def with_owners(self, owners: Mapping[str, str]) -> ScreeningPolicy:
        """This policy with the home agency's own programmes taken from ``owners`` (the directory)."""
        own = frozenset(p for p, owner in owners.items() if owner == self.agency)
        return replace(self, own_programmes=own)

    def recognises(self, programme: str, level: str) -> bool:
        if programme in self.own_programmes:
            return True
        levels = self.recognised.get(programme)
        if levels is None:
            return False
        return not levels or level in levels

    def flag_action(self, category: FlagCategory | None, evidence: Evidence | None) -> Recommendation:
        if category is None or evidence is None:
            return Recommendation.EXAMINE  # an incomplete flag is never ignored
        return self.flag_actions.get(category, {}).get(evidence, Recommendation.EXAMINE)


def policy_from_toml(
    agency: str, table: Any, *, where: str, owners: Mapping[str, str] | None = None
) -> ScreeningPolicy:
    """The [policy] table. Programme ownership is the directory's: without ``owners`` (the
    configuration is read before the directory), programme names are checked for form only
    and ``own_programmes`` is filled in by :meth:`ScreeningPolicy.with_owners`."""
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [policy] must be a table")
    recognise = table.get("recognise", {})
    if not isinstance(recognise, dict):
        raise ConfigError(f"{where}: [policy.recognise] must map programme = [levels]")
    recognised: dict[str, frozenset[str]] = {}
    for programme, levels in recognise.items():
        if not PROGRAMME_PATTERN.fullmatch(programme) or (owners is not None and programme not in owners):
            raise ConfigError(
                f"{where}: [policy.recognise] {programme} is not a known programme"
                + (f" ({', '.join(sorted(owners))})" if owners is not None else " name like AU_ATT")
            )
        if not isinstance(levels, list) or not all(isinstance(v, str) for v in levels):
            raise ConfigError(f"{where}: [policy.recognise] {programme} must be a list of levels ([] = all)")
        recognised[programme] = frozenset(levels)
    actions = {c: dict(m) for c, m in DEFAULT_FLAG_ACTIONS.items()}
    flags = table.get("flags", {})
    if not isinstance(flags, dict):
        raise ConfigError(f"{where}: [policy.flags] must be a table")
    for category_name, mapping in flags.items():
        try:
            category = FlagCategory(category_name)
        except ValueError:
            raise ConfigError(f"{where}: [policy.flags] {category_name} is not a flag category") from None
        if not isinstance(mapping, dict):
            raise ConfigError(f'{where}: [policy.flags.{category_name}] must map EVIDENCE = "ACTION"')
        for evidence_name, action in mapping.items():
            try:
                evidence = Evidence(evidence_name)
                actions[category][evidence] = Recommendation[str(action)]
            except (ValueError, KeyError):
                raise ConfigError(
                    f"{where}: [policy.flags.{category_name}] {evidence_name} = {action!r}: evidence is one of "
                    f"{[e.value for e in Evidence]}, action one of {[r.name for r in Recommendation]}"
                ) from None
    policy = ScreeningPolicy(
        agency=agency,
        recognised=recognised,
        flag_actions=actions,
        matching=_matching(table.get("matching", {}), where),
    )
    return policy if owners is None else policy.with_owners(owners)


def _matching(table: Any, where: str) -> MatchThresholds:
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [policy.matching] must be a table of thresholds")
    known = {f.name for f in dataclasses.fields(MatchThresholds)}
    values: dict[str, float] = {}
    for name, value in table.items():
        if name not in known:
            raise ConfigError(f"{where}: [policy.matching] {name} is not one of {', '.join(sorted(known))}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise ConfigError(f"{where}: [policy.matching] {name} = {value!r}: a number from 0 to 1")
        values[name] = float(value)
    thresholds = dataclasses.replace(DEFAULT_THRESHOLDS, **values)
    if thresholds.corroborated < thresholds.review:
        raise ConfigError(
            f"{where}: [policy.matching] corroborated = {thresholds.corroborated} is below "
            f"review = {thresholds.review}: a corroborated match must first be a match"
        )
    return thresholds
