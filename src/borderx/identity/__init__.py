"""Who is calling: SPIFFE principals from mutual-TLS certificates, checked against their own agency's CA.

Identity comes from the peer certificate alone, never from request metadata. A
certificate is accepted only if its SPIFFE ID names this federation and an agency in the
directory, and it chains to *that* agency's CA (not merely to some member's CA), is
within its validity window, carries client-auth usage, and is not revoked.
"""

from borderx.identity.principal import ROLES, Principal, parse_spiffe_id
from borderx.identity.verifier import PeerAuthenticator

__all__ = ["ROLES", "PeerAuthenticator", "Principal", "parse_spiffe_id"]
