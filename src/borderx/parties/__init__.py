"""Party identifiers: the schemes of DESIGN §4, their validation and normal forms.

Every identifier the gateway stores or matches on goes through :func:`normalise_party_id`.
"""

from borderx.parties.schemes import KNOWN_SCHEMES, MAX_VALUE_LENGTH, normalise_party_id

__all__ = ["KNOWN_SCHEMES", "MAX_VALUE_LENGTH", "normalise_party_id"]
