"""SPIFFE principals: ``spiffe://<federation>/agency/<AGENCY>/<role>[/<name>]``.

Roles (DESIGN §1): ``gateway`` (a partner's gateway; replicates; no name), ``service`` (a
home-agency system; publishes, screens) and ``operator`` (a person; admin and reads), the
last two with a name such as ``risk-engine`` or ``jsmith``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from borderx.directory.model import AGENCY_ID_PATTERN
from borderx.errors import Unauthenticated

ROLES = frozenset({"gateway", "service", "operator"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TRUST_DOMAIN = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Principal:
    federation: str
    agency: str
    role: str
    name: str = ""

    @property
    def spiffe_id(self) -> str:
        base = f"spiffe://{self.federation}/agency/{self.agency}/{self.role}"
        return f"{base}/{self.name}" if self.name else base

    def __str__(self) -> str:
        return self.spiffe_id


def parse_spiffe_id(uri: str) -> Principal:
    """Parse a SPIFFE ID of the borderx shape; raise Unauthenticated saying what is wrong."""
    if not uri.startswith("spiffe://"):
        raise Unauthenticated(f"{uri!r} is not a SPIFFE ID (spiffe://<federation>/agency/<AGENCY>/<role>)")
    rest = uri[len("spiffe://") :]
    trust_domain, _, path = rest.partition("/")
    if not _TRUST_DOMAIN.fullmatch(trust_domain):
        raise Unauthenticated(f"SPIFFE ID {uri!r} has an invalid trust domain")
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "agency":
        raise Unauthenticated(
            f"SPIFFE ID {uri!r} is not of the form spiffe://{trust_domain}/agency/<AGENCY>/<role>[/<name>]"
        )
    agency, role, names = parts[1], parts[2], parts[3:]
    if not AGENCY_ID_PATTERN.fullmatch(agency):
        raise Unauthenticated(f"SPIFFE ID {uri!r}: {agency!r} is not an agency id like AU-ABF")
    if role not in ROLES:
        raise Unauthenticated(f"SPIFFE ID {uri!r}: role {role!r} is not one of {sorted(ROLES)}")
    if role == "gateway":
        if names:
            raise Unauthenticated(f"SPIFFE ID {uri!r}: a gateway ID has no name segment")
        return Principal(trust_domain, agency, role)
    if len(names) != 1 or not _NAME.fullmatch(names[0]):
        raise Unauthenticated(f"SPIFFE ID {uri!r}: a {role} ID needs exactly one name segment")
    return Principal(trust_domain, agency, role, names[0])
