"""Make the golden DSSE vectors in this folder: ``python tests/data/vectors/make_vectors.py``.

Each vector is one JSON file::

    {"envelope": <DSSE JSON>, "public_key": <base64 raw 32-byte Ed25519 key>,
     "valid": true|false, "why": "..."}

Everything is fixed — Ed25519 keys come from fixed 32-byte seeds (SHA-256 of a label),
timestamps are constants, Ed25519 signing is deterministic, and the JSON is written with
sorted keys — so running this again produces byte-identical files. ``test_vectors.py``
checks that it does: the vectors pin the encoding of headers, PAE and the DSSE JSON form.
With ``--check`` nothing is written and the exit code says whether the files are current.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from borderx._proto.borderx.v1 import statement_pb2 as pb
from borderx.statements.dsse import to_dsse_json
from borderx.statements.encoding import decode_header, encode_header, statement_pae
from borderx.statements.model import GENESIS_DIGEST, Envelope, Signature
from borderx.statements.signing import Signer, sign_statement

HERE = Path(__file__).parent


def seed(label: str) -> bytes:
    """A fixed 32-byte Ed25519 seed: SHA-256 of a label. Test keys only; never use elsewhere."""
    return hashlib.sha256(f"borderx golden vector key: {label}".encode()).digest()


AU_ABF = Signer(Ed25519PrivateKey.from_private_bytes(seed("AU-ABF 2026")))
US_CBP = Signer(Ed25519PrivateKey.from_private_bytes(seed("US-CBP 2026")))
ATTACKER = Signer(Ed25519PrivateKey.from_private_bytes(seed("attacker")))


def ts(text: str) -> dict[str, int]:
    """A google.protobuf.Timestamp (as the dict the generated constructors accept)."""
    return {"seconds": int(datetime.fromisoformat(text).timestamp())}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# ---------------------------------------------------------------- bodies (realistic content)


def designation_body() -> bytes:
    msg = pb.Designation(
        party=pb.Party(
            legal_name="Kookaburra Outdoor Supplies Pty Ltd",
            trading_names=["Kookaburra Outdoors"],
            address=pb.Address(
                lines=["Unit 4, 18 Enterprise Drive"],
                city="Rowville",
                region="VIC",
                postal_code="3178",
                country="AU",
            ),
            ids=[pb.PartyId(scheme="ABN", value="51824753556")],
        ),
        programme="AU_ATT",
        member_id="ATT-2026-00417",
        status=pb.CERTIFIED,
        valid_from=ts("2026-03-01T00:00:00+00:00"),
        valid_until=ts("2029-03-01T00:00:00+00:00"),
        consent_to_share=True,
    )
    data: bytes = msg.SerializeToString(deterministic=True)
    return data


def flag_msg() -> Any:
    return pb.ViolationFlag(
        subject=pb.Party(
            legal_name="Shenzhen Brightstar Trading Co., Ltd.",
            trading_names=["BrightstarDirect"],
            address=pb.Address(city="Shenzhen", region="Guangdong", country="CN"),
            ids=[pb.PartyId(scheme="PLATFORM", value="amazon:A2X9QK7ZP3M1VB")],
        ),
        category=pb.IPR_COUNTERFEIT,
        evidence=pb.CONFIRMED,
        outcomes=[pb.SEIZURE, pb.PENALTY],
        severity=pb.HIGH,
        observed_at=ts("2026-04-09T14:20:00+00:00"),
        expires_at=ts("2028-04-09T00:00:00+00:00"),
        shipments=[
            pb.ShipmentRef(
                air_waybill="176-12345675",
                house_bill="SZX26040912",
                tracking_number="1Z999AA10123456784",
                hs_codes=["640411"],
                declared_value=pb.Money(currency="USD", minor_units=450_000),
                origin_country="CN",
            )
        ],
        summary="1,240 pairs of athletic footwear bearing counterfeit trademarks seized at JFK air cargo.",
    )


def flag_body() -> bytes:
    data: bytes = flag_msg().SerializeToString(deterministic=True)
    return data


def withdrawal_body(target: Envelope) -> bytes:
    msg = pb.Withdrawal(
        target=pb.StatementRef(issuer=target.issuer, seq=target.seq, header_digest=target.digest),
        reason=pb.ISSUED_IN_ERROR,
        effective_at=ts("2026-05-20T00:00:00+00:00"),
        note="Member id recorded against the wrong trading entity.",
    )
    data: bytes = msg.SerializeToString(deterministic=True)
    return data


# ---------------------------------------------------------------- envelopes


def designation() -> Envelope:
    return sign_statement(
        AU_ABF,
        issuer="AU-ABF",
        seq=1,
        prev_digest=GENESIS_DIGEST,
        issued_at=at("2026-03-02T01:15:00+00:00"),
        audience=(),
        body_type="designation",
        body=designation_body(),
    )


def flag() -> Envelope:
    return sign_statement(
        US_CBP,
        issuer="US-CBP",
        seq=1,
        prev_digest=GENESIS_DIGEST,
        issued_at=at("2026-04-14T16:05:00+00:00"),
        audience=("AU-ABF", "CA-CBSA", "NZ-CS"),
        body_type="flag",
        body=flag_body(),
    )


def withdrawal() -> Envelope:
    target = designation()
    return sign_statement(
        AU_ABF,
        issuer="AU-ABF",
        seq=2,
        prev_digest=target.digest,
        issued_at=at("2026-05-20T03:40:00+00:00"),
        audience=(),
        body_type="withdrawal",
        body=withdrawal_body(target),
    )


def bad_signature() -> Envelope:
    env = designation()
    sig = env.signatures[0]
    return replace(env, signatures=(Signature(sig.key_id, sig.sig[:-1] + bytes([sig.sig[-1] ^ 0x01])),))


def tampered_header() -> Envelope:
    env = designation()
    data = encode_header(replace(env.header, issued_at=at("2026-03-01T01:15:00+00:00")))
    return Envelope(data, env.signatures, env.body, decode_header(data))


def tampered_body() -> Envelope:
    env = flag()
    softened = flag_msg()
    softened.severity = pb.LOW
    del softened.outcomes[:]
    softened.outcomes.append(pb.WARNING)
    return replace(env, body=softened.SerializeToString(deterministic=True))


def wrong_key() -> Envelope:
    env = designation()
    forged = ATTACKER.sign(statement_pae(env.header_bytes))
    return replace(env, signatures=(Signature(AU_ABF.key_id, forged),))


VECTORS: dict[str, tuple[Callable[[], Envelope], Signer, bool, str]] = {
    "designation-valid": (
        designation,
        AU_ABF,
        True,
        "AU-ABF designates ABN 51824753556 in AU_ATT (seq 1, genesis); signed by AU-ABF's key.",
    ),
    "flag-valid": (
        flag,
        US_CBP,
        True,
        "US-CBP flags a marketplace seller for IPR_COUNTERFEIT, audience AU-ABF, CA-CBSA, NZ-CS.",
    ),
    "flag-redacted-valid": (
        lambda: flag().redact(),
        US_CBP,
        True,
        "The US-CBP flag as a member outside the audience receives it: no body; the header still verifies.",
    ),
    "withdrawal-valid": (
        withdrawal,
        AU_ABF,
        True,
        "AU-ABF withdraws its seq 1 designation (issued in error); seq 2, prev_digest = seq 1's digest.",
    ),
    "bad-signature": (
        bad_signature,
        AU_ABF,
        False,
        "The valid designation with the last byte of its signature flipped.",
    ),
    "tampered-header": (
        tampered_header,
        AU_ABF,
        False,
        "The designation's header re-encoded with issued_at one day earlier, under the original signature.",
    ),
    "tampered-body": (
        tampered_body,
        US_CBP,
        False,
        "The flag with its body swapped for a softer one (LOW, WARNING): the signature holds, "
        "SHA-256(body) no longer equals the signed body_digest.",
    ),
    "wrong-key": (
        wrong_key,
        AU_ABF,
        False,
        "The designation signed by a key that is not AU-ABF's, labelled with AU-ABF's key id.",
    ),
}


def render() -> dict[str, bytes]:
    """File name -> exact file bytes, for every vector."""
    out = {}
    for name, (make, signer, valid, why) in VECTORS.items():
        doc = {
            "envelope": to_dsse_json(make()),
            "public_key": base64.b64encode(signer.public_key_raw).decode("ascii"),
            "valid": valid,
            "why": why,
        }
        out[f"{name}.json"] = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    return out


def main(argv: list[str]) -> int:
    files = render()
    if "--check" in argv:
        stale = [
            name
            for name, data in files.items()
            if not (HERE / name).is_file() or (HERE / name).read_bytes() != data
        ]
        for name in stale:
            print(f"stale: {name}", file=sys.stderr)
        return 1 if stale else 0
    for name, data in files.items():
        (HERE / name).write_bytes(data)
        print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
