"""Authorisation: role × agency × RPC (DESIGN §1, invariant 4).

Fail closed: a method that is not in the table is refused for everyone, so adding an RPC
without deciding who may call it cannot open it by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from borderx.errors import PermissionDenied
from borderx.identity.principal import ROLES, Principal


@dataclass(frozen=True)
class Rule:
    home: frozenset[str]  # roles allowed when the caller is of this gateway's agency
    partner: frozenset[str] = frozenset()  # roles allowed when the caller is a partner agency
    what: str = ""  # what the rule protects, for the refusal message


HOME_SYSTEMS = frozenset({"service", "operator"})
_ANYONE = Rule(home=ROLES, partner=ROLES, what="health and reflection")

RULES: dict[str, Rule] = {
    "/borderx.v1.Admin/": Rule(home=frozenset({"operator"}), what="Admin is for this agency's operators"),
    "/borderx.v1.Exchange/Publish": Rule(
        home=HOME_SYSTEMS, what="only this agency's services and operators publish"
    ),
    "/borderx.v1.Exchange/Screen": Rule(
        home=HOME_SYSTEMS, what="only this agency's services and operators screen"
    ),
    "/borderx.v1.Exchange/Search": Rule(
        home=HOME_SYSTEMS, what="only this agency's services and operators search by name"
    ),
    "/borderx.v1.Exchange/Lookup": Rule(
        home=HOME_SYSTEMS, what="only this agency's services and operators look up"
    ),
    "/borderx.v1.Exchange/Subscribe": Rule(
        home=HOME_SYSTEMS,
        partner=frozenset({"gateway"}),
        what="partner gateways and this agency's services and operators subscribe",
    ),
    "/borderx.v1.Exchange/GetDirectory": Rule(
        home=frozenset(), partner=frozenset({"gateway"}), what="partner gateways fetch directory versions"
    ),
    "/grpc.health.v1.Health/": _ANYONE,
    "/grpc.reflection.v1alpha.ServerReflection/": _ANYONE,
    "/grpc.reflection.v1.ServerReflection/": _ANYONE,
}


def rule_for(method: str) -> Rule | None:
    rule = RULES.get(method)
    if rule is not None:
        return rule
    service = method[: method.rfind("/") + 1]
    return RULES.get(service)


def authorise(principal: Principal, method: str, *, home_agency: str) -> None:
    rule = rule_for(method)
    if rule is None:
        raise PermissionDenied(f"{method} is not open to any caller")
    allowed = rule.home if principal.agency == home_agency else rule.partner
    if principal.role not in allowed:
        whose = "this agency's" if principal.agency == home_agency else f"partner agency {principal.agency}'s"
        raise PermissionDenied(
            f"{principal} may not call {method}: {rule.what} ({whose} {principal.role} is not allowed; "
            f"this gateway is {home_agency})"
        )
