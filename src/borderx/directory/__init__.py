"""Federation membership (DESIGN §2): agencies, their CAs, statement-signing keys, revocations.

One JSON document, shipped to every gateway, says who is in the federation. This package
loads and validates it (fail closed: a document with any inconsistency is refused whole),
answers "which agency owns key X and was it valid at time T", and lets a running gateway
swap in a newer version without restarting.
"""

from borderx.directory.model import (
    AGENCY_ID_PATTERN,
    Agency,
    Directory,
    DirectoryHolder,
    SigningKey,
    key_id_for,
)

__all__ = ["AGENCY_ID_PATTERN", "Agency", "Directory", "DirectoryHolder", "SigningKey", "key_id_for"]
