"""Federation membership (DESIGN §2): agencies, their CAs, keys, programmes, revocations.

One signed JSON document says who is in the federation. ``model`` loads and validates it
(fail closed: a document with any inconsistency is refused whole) and answers "which agency
owns key X and was it valid at time T" and "who owns programme P"; ``trust`` decides which
versions to trust (a threshold of the members' directory keys, TUF's root rotation), so a
running gateway swaps in a newer version only when the members signed it.
"""

from borderx.directory.model import (
    AGENCY_ID_PATTERN,
    Agency,
    Directory,
    DirectoryHolder,
    DirectoryKey,
    SigningKey,
    key_id_for,
)

__all__ = [
    "AGENCY_ID_PATTERN",
    "Agency",
    "Directory",
    "DirectoryHolder",
    "DirectoryKey",
    "SigningKey",
    "key_id_for",
]
