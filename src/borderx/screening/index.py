"""The indexer: what the screening index learns from one envelope (body → IndexEffects).

The store calls nothing here; the gateway computes effects before ``Store.append`` and
``Store.rebuild_index`` replays this function over every stored envelope, so the index is
always derivable from the envelopes (the store is the truth).
"""

from __future__ import annotations

from borderx.errors import InvalidArgument
from borderx.screening.names import blocking_keys, party_form
from borderx.statements.bodies import BodyType
from borderx.statements.body_codec import index_fields
from borderx.statements.model import Envelope
from borderx.store.base import NO_EFFECTS, IndexEffects


def index_effects(envelope: Envelope) -> IndexEffects:
    """Index effects of a verified envelope; a redacted one (no body) has none."""
    if envelope.body is None:
        return NO_EFFECTS
    try:
        fields = index_fields(BodyType(envelope.header.body_type), envelope.body)
    except InvalidArgument:
        # a body that verifies but does not parse as its type is kept (it is signed
        # evidence) but never screened
        return NO_EFFECTS
    issuer, seq = envelope.issuer, envelope.seq
    supersedes, withdraws = fields.supersedes, fields.withdraws
    # a statement may only retire an earlier statement of its own issuer; a relayed one
    # pointing elsewhere keeps its signed body but changes nobody else's screening
    if supersedes is not None and (supersedes[0] != issuer or supersedes[1] >= seq):
        supersedes = None
    if withdraws is not None and (withdraws[0] != issuer or withdraws[1] >= seq):
        withdraws = None
    names: tuple[str, ...] = ()
    if fields.names:
        city, region = fields.places
        form = party_form(fields.names, city=city, region=region, emails=fields.emails, phones=fields.phones)
        names = blocking_keys(form)
    return IndexEffects(
        ids=fields.ids,
        names=names,
        kind=fields.kind.value,
        supersedes=supersedes,
        withdraws=withdraws,
        expires_at=fields.expires_at,
    )
