"""The indexer: what the screening index learns from one envelope (body → IndexEffects).

The store calls nothing here; the gateway computes effects before ``Store.append`` and
``Store.rebuild_index`` replays this function over every stored envelope, so the index is
always derivable from the envelopes (the store is the truth).
"""

from __future__ import annotations

from borderx.errors import InvalidArgument
from borderx.statements.bodies import BodyType, Designation, ViolationFlag, Withdrawal
from borderx.statements.body_codec import decode_body
from borderx.statements.model import Envelope
from borderx.store.base import NO_EFFECTS, IndexEffects


def index_effects(envelope: Envelope) -> IndexEffects:
    """Index effects of a verified envelope; a redacted one (no body) has none."""
    if envelope.body is None:
        return NO_EFFECTS
    body_type = BodyType(envelope.header.body_type)
    try:
        body = decode_body(body_type, envelope.body)
    except InvalidArgument:
        # a body that verifies but does not parse as its type is kept (it is signed
        # evidence) but never screened
        return NO_EFFECTS
    if isinstance(body, Designation):
        ids = tuple(dict.fromkeys((i.scheme, i.value) for i in body.party.ids))
        supersedes = (body.supersedes.issuer, body.supersedes.seq) if body.supersedes else None
        # a designation may only retire an earlier statement of its own issuer; a relayed
        # one pointing elsewhere keeps its signed body but changes nobody else's screening
        if supersedes is not None and (supersedes[0] != envelope.issuer or supersedes[1] >= envelope.seq):
            supersedes = None
        return IndexEffects(ids=ids, kind="designation", supersedes=supersedes, expires_at=body.valid_until)
    if isinstance(body, ViolationFlag):
        ids = tuple(dict.fromkeys((i.scheme, i.value) for i in body.subject.ids))
        return IndexEffects(ids=ids, kind="flag", expires_at=body.expires_at)
    assert isinstance(body, Withdrawal)
    withdraws = (body.target.issuer, body.target.seq) if body.target else None
    # a withdrawal may only target its issuer's own statements (rules enforce it at
    # publish; here we refuse to let a relayed one touch anyone else's)
    if withdraws is not None and (withdraws[0] != envelope.issuer or withdraws[1] >= envelope.seq):
        withdraws = None
    return IndexEffects(kind="withdrawal", withdraws=withdraws)
