"""The indexer: what the screening index learns from one envelope (body → IndexEffects).

The store calls nothing here; the gateway computes effects before ``Store.append`` and
``Store.rebuild_index`` replays this function over every stored envelope, so the index is
always derivable from the envelopes (the store is the truth).
"""

from __future__ import annotations

from borderx.errors import InvalidArgument
from borderx.screening.names import PartyForm, blocking_keys, dump_form, party_form
from borderx.statements.bodies import Body, BodyType, Party
from borderx.statements.body_codec import fields_of_body, index_fields
from borderx.statements.model import Envelope
from borderx.store.base import NO_EFFECTS, IndexEffects


def form_of_party(party: Party) -> PartyForm:
    """The matching form of a statement's (or a manifest's) party, identifiers as given."""
    address = party.address
    return party_form(
        (party.legal_name, *party.trading_names),
        lines=address.lines if address else (),
        city=address.city if address else "",
        region=address.region if address else "",
        postcode=address.postal_code if address else "",
        country=address.country if address else "",
        ids=((i.scheme, i.value) for i in party.ids),
        emails=party.emails,
        phones=party.phones,
    )


def index_effects(envelope: Envelope, body: Body | None = None) -> IndexEffects:
    """Index effects of a verified envelope; a redacted one (no body) has none.

    ``body``: the envelope's body as admission decoded it (``intake.admit``), read instead
    of parsing ``envelope.body`` again.
    """
    if envelope.body is None:
        return NO_EFFECTS
    if body is not None:
        fields = fields_of_body(body)
    else:
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
    form = b""
    party = fields.party
    if party is not None:
        # the whole matching form (address, ids, contacts), as screening scores it: the
        # memory index holds these bytes and never decodes the body of a candidate. Its
        # blocking keys are those of the names (with the party's own places) and contacts.
        matching = form_of_party(party)
        names = blocking_keys(matching)
        form = dump_form(matching)
    return IndexEffects(
        ids=fields.ids,
        names=names,
        kind=fields.kind.value,
        supersedes=supersedes,
        withdraws=withdraws,
        expires_at=fields.expires_at,
        form=form,
    )
