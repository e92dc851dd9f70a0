"""publishing.request_digest: what an idempotency receipt is bound to."""

from __future__ import annotations

import dataclasses

from borderx.publishing import Draft, request_digest
from borderx.statements.bodies import PartyId
from tests.integration.helpers import designation, platform


def test_the_same_items_give_the_same_digest_and_any_change_another() -> None:
    body = designation("AU-ABF", (platform("acme"),))
    one = [Draft(body=body)]
    assert request_digest(one) == request_digest([Draft(body=body)])
    assert len(request_digest(one)) == 32
    others = [
        [Draft(body=body, audience=("NZ-CS",))],
        [Draft(body=body), Draft(body=body)],
        [Draft(body=dataclasses.replace(body, member_id="M-other"))],
        [Draft(body=designation("AU-ABF", (PartyId("ABN", "51824753556"),)))],
    ]
    digests = {request_digest(items) for items in others}
    assert request_digest(one) not in digests and len(digests) == len(others)
    # every part is length-prefixed, in order: ("A", "B") is neither ("B", "A") nor ("A\nB",)
    assert request_digest([Draft(body=body, audience=("NZ-CS", "CA-CBSA"))]) != request_digest(
        [Draft(body=body, audience=("NZ-CS\nCA-CBSA",))]
    )
    assert request_digest([Draft(body=body, audience=("NZ-CS", "CA-CBSA"))]) != request_digest(
        [Draft(body=body, audience=("CA-CBSA", "NZ-CS"))]
    )
