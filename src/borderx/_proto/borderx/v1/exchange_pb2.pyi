import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from borderx._proto.borderx.v1 import statement_pb2 as _statement_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Recommendation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECOMMENDATION_UNSPECIFIED: _ClassVar[Recommendation]
    EXPEDITE: _ClassVar[Recommendation]
    STANDARD: _ClassVar[Recommendation]
    EXAMINE: _ClassVar[Recommendation]
    HOLD: _ClassVar[Recommendation]
RECOMMENDATION_UNSPECIFIED: Recommendation
EXPEDITE: Recommendation
STANDARD: Recommendation
EXAMINE: Recommendation
HOLD: Recommendation

class Draft(_message.Message):
    __slots__ = ("audience", "designation", "flag", "withdrawal")
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    DESIGNATION_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWAL_FIELD_NUMBER: _ClassVar[int]
    audience: _containers.RepeatedScalarFieldContainer[str]
    designation: _statement_pb2.Designation
    flag: _statement_pb2.ViolationFlag
    withdrawal: _statement_pb2.Withdrawal
    def __init__(self, audience: _Optional[_Iterable[str]] = ..., designation: _Optional[_Union[_statement_pb2.Designation, _Mapping]] = ..., flag: _Optional[_Union[_statement_pb2.ViolationFlag, _Mapping]] = ..., withdrawal: _Optional[_Union[_statement_pb2.Withdrawal, _Mapping]] = ...) -> None: ...

class PublishItem(_message.Message):
    __slots__ = ("draft", "envelope")
    DRAFT_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    draft: Draft
    envelope: _statement_pb2.SignedStatement
    def __init__(self, draft: _Optional[_Union[Draft, _Mapping]] = ..., envelope: _Optional[_Union[_statement_pb2.SignedStatement, _Mapping]] = ...) -> None: ...

class PublishRequest(_message.Message):
    __slots__ = ("idempotency_key", "items")
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    idempotency_key: str
    items: _containers.RepeatedCompositeFieldContainer[PublishItem]
    def __init__(self, idempotency_key: _Optional[str] = ..., items: _Optional[_Iterable[_Union[PublishItem, _Mapping]]] = ...) -> None: ...

class PublishResponse(_message.Message):
    __slots__ = ("statements", "replayed")
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    REPLAYED_FIELD_NUMBER: _ClassVar[int]
    statements: _containers.RepeatedCompositeFieldContainer[_statement_pb2.SignedStatement]
    replayed: bool
    def __init__(self, statements: _Optional[_Iterable[_Union[_statement_pb2.SignedStatement, _Mapping]]] = ..., replayed: _Optional[bool] = ...) -> None: ...

class Shipment(_message.Message):
    __slots__ = ("reference", "shipper_ids", "consignee_ids", "origin_country", "declared_value", "hs_codes", "platform", "shipper", "consignee", "goods_description")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SHIPPER_IDS_FIELD_NUMBER: _ClassVar[int]
    CONSIGNEE_IDS_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    DECLARED_VALUE_FIELD_NUMBER: _ClassVar[int]
    HS_CODES_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_FIELD_NUMBER: _ClassVar[int]
    SHIPPER_FIELD_NUMBER: _ClassVar[int]
    CONSIGNEE_FIELD_NUMBER: _ClassVar[int]
    GOODS_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    reference: str
    shipper_ids: _containers.RepeatedCompositeFieldContainer[_statement_pb2.PartyId]
    consignee_ids: _containers.RepeatedCompositeFieldContainer[_statement_pb2.PartyId]
    origin_country: str
    declared_value: _statement_pb2.Money
    hs_codes: _containers.RepeatedScalarFieldContainer[str]
    platform: str
    shipper: _statement_pb2.Party
    consignee: _statement_pb2.Party
    goods_description: str
    def __init__(self, reference: _Optional[str] = ..., shipper_ids: _Optional[_Iterable[_Union[_statement_pb2.PartyId, _Mapping]]] = ..., consignee_ids: _Optional[_Iterable[_Union[_statement_pb2.PartyId, _Mapping]]] = ..., origin_country: _Optional[str] = ..., declared_value: _Optional[_Union[_statement_pb2.Money, _Mapping]] = ..., hs_codes: _Optional[_Iterable[str]] = ..., platform: _Optional[str] = ..., shipper: _Optional[_Union[_statement_pb2.Party, _Mapping]] = ..., consignee: _Optional[_Union[_statement_pb2.Party, _Mapping]] = ..., goods_description: _Optional[str] = ...) -> None: ...

class ScreenRequest(_message.Message):
    __slots__ = ("shipments",)
    SHIPMENTS_FIELD_NUMBER: _ClassVar[int]
    shipments: _containers.RepeatedCompositeFieldContainer[Shipment]
    def __init__(self, shipments: _Optional[_Iterable[_Union[Shipment, _Mapping]]] = ...) -> None: ...

class Provenance(_message.Message):
    __slots__ = ("issuer", "seq", "issued_at", "key_id", "verified", "received_from", "header_digest")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FROM_FIELD_NUMBER: _ClassVar[int]
    HEADER_DIGEST_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    seq: int
    issued_at: _timestamp_pb2.Timestamp
    key_id: str
    verified: bool
    received_from: str
    header_digest: bytes
    def __init__(self, issuer: _Optional[str] = ..., seq: _Optional[int] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., key_id: _Optional[str] = ..., verified: _Optional[bool] = ..., received_from: _Optional[str] = ..., header_digest: _Optional[bytes] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("basis", "score", "party", "evidence")
    BASIS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    PARTY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    basis: str
    score: float
    party: str
    evidence: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, basis: _Optional[str] = ..., score: _Optional[float] = ..., party: _Optional[str] = ..., evidence: _Optional[_Iterable[str]] = ...) -> None: ...

class DesignationMatch(_message.Message):
    __slots__ = ("provenance", "designation", "recognised", "match")
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    DESIGNATION_FIELD_NUMBER: _ClassVar[int]
    RECOGNISED_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    provenance: Provenance
    designation: _statement_pb2.Designation
    recognised: bool
    match: Match
    def __init__(self, provenance: _Optional[_Union[Provenance, _Mapping]] = ..., designation: _Optional[_Union[_statement_pb2.Designation, _Mapping]] = ..., recognised: _Optional[bool] = ..., match: _Optional[_Union[Match, _Mapping]] = ...) -> None: ...

class FlagMatch(_message.Message):
    __slots__ = ("provenance", "flag", "action", "match")
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    FLAG_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    provenance: Provenance
    flag: _statement_pb2.ViolationFlag
    action: Recommendation
    match: Match
    def __init__(self, provenance: _Optional[_Union[Provenance, _Mapping]] = ..., flag: _Optional[_Union[_statement_pb2.ViolationFlag, _Mapping]] = ..., action: _Optional[_Union[Recommendation, str]] = ..., match: _Optional[_Union[Match, _Mapping]] = ...) -> None: ...

class ScreeningResult(_message.Message):
    __slots__ = ("reference", "designations", "flags", "recommendation", "reasons")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    DESIGNATIONS_FIELD_NUMBER: _ClassVar[int]
    FLAGS_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDATION_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    reference: str
    designations: _containers.RepeatedCompositeFieldContainer[DesignationMatch]
    flags: _containers.RepeatedCompositeFieldContainer[FlagMatch]
    recommendation: Recommendation
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, reference: _Optional[str] = ..., designations: _Optional[_Iterable[_Union[DesignationMatch, _Mapping]]] = ..., flags: _Optional[_Iterable[_Union[FlagMatch, _Mapping]]] = ..., recommendation: _Optional[_Union[Recommendation, str]] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class ScreenResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ScreeningResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ScreeningResult, _Mapping]]] = ...) -> None: ...

class LookupRequest(_message.Message):
    __slots__ = ("id", "include_history")
    ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_HISTORY_FIELD_NUMBER: _ClassVar[int]
    id: _statement_pb2.PartyId
    include_history: bool
    def __init__(self, id: _Optional[_Union[_statement_pb2.PartyId, _Mapping]] = ..., include_history: _Optional[bool] = ...) -> None: ...

class LookupEntry(_message.Message):
    __slots__ = ("provenance", "envelope", "current", "status")
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    provenance: Provenance
    envelope: _statement_pb2.SignedStatement
    current: bool
    status: str
    def __init__(self, provenance: _Optional[_Union[Provenance, _Mapping]] = ..., envelope: _Optional[_Union[_statement_pb2.SignedStatement, _Mapping]] = ..., current: _Optional[bool] = ..., status: _Optional[str] = ...) -> None: ...

class LookupResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[LookupEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[LookupEntry, _Mapping]]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("name", "country", "limit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    country: str
    limit: int
    def __init__(self, name: _Optional[str] = ..., country: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class SearchCandidate(_message.Message):
    __slots__ = ("party", "match", "entries")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    MATCH_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    party: _statement_pb2.Party
    match: Match
    entries: _containers.RepeatedCompositeFieldContainer[LookupEntry]
    def __init__(self, party: _Optional[_Union[_statement_pb2.Party, _Mapping]] = ..., match: _Optional[_Union[Match, _Mapping]] = ..., entries: _Optional[_Iterable[_Union[LookupEntry, _Mapping]]] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("candidates",)
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[SearchCandidate]
    def __init__(self, candidates: _Optional[_Iterable[_Union[SearchCandidate, _Mapping]]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("have", "issuers", "body_types", "follow", "have_digests", "directory_version", "directory_digest")
    class HaveEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class HaveDigestsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    HAVE_FIELD_NUMBER: _ClassVar[int]
    ISSUERS_FIELD_NUMBER: _ClassVar[int]
    BODY_TYPES_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    HAVE_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    have: _containers.ScalarMap[str, int]
    issuers: _containers.RepeatedScalarFieldContainer[str]
    body_types: _containers.RepeatedScalarFieldContainer[_statement_pb2.BodyType]
    follow: bool
    have_digests: _containers.ScalarMap[str, bytes]
    directory_version: int
    directory_digest: str
    def __init__(self, have: _Optional[_Mapping[str, int]] = ..., issuers: _Optional[_Iterable[str]] = ..., body_types: _Optional[_Iterable[_Union[_statement_pb2.BodyType, str]]] = ..., follow: _Optional[bool] = ..., have_digests: _Optional[_Mapping[str, bytes]] = ..., directory_version: _Optional[int] = ..., directory_digest: _Optional[str] = ...) -> None: ...

class GetDirectoryRequest(_message.Message):
    __slots__ = ("have_version", "have_digest")
    HAVE_VERSION_FIELD_NUMBER: _ClassVar[int]
    HAVE_DIGEST_FIELD_NUMBER: _ClassVar[int]
    have_version: int
    have_digest: str
    def __init__(self, have_version: _Optional[int] = ..., have_digest: _Optional[str] = ...) -> None: ...

class GetDirectoryResponse(_message.Message):
    __slots__ = ("version", "digest", "documents", "conflicting")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    DOCUMENTS_FIELD_NUMBER: _ClassVar[int]
    CONFLICTING_FIELD_NUMBER: _ClassVar[int]
    version: int
    digest: str
    documents: _containers.RepeatedScalarFieldContainer[bytes]
    conflicting: bytes
    def __init__(self, version: _Optional[int] = ..., digest: _Optional[str] = ..., documents: _Optional[_Iterable[bytes]] = ..., conflicting: _Optional[bytes] = ...) -> None: ...

class SubscribeEvent(_message.Message):
    __slots__ = ("statement", "checkpoint", "batch", "cosignature")
    STATEMENT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    COSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    statement: _statement_pb2.SignedStatement
    checkpoint: _statement_pb2.SignedCheckpoint
    batch: StatementBatch
    cosignature: _statement_pb2.SignedCosignature
    def __init__(self, statement: _Optional[_Union[_statement_pb2.SignedStatement, _Mapping]] = ..., checkpoint: _Optional[_Union[_statement_pb2.SignedCheckpoint, _Mapping]] = ..., batch: _Optional[_Union[StatementBatch, _Mapping]] = ..., cosignature: _Optional[_Union[_statement_pb2.SignedCosignature, _Mapping]] = ...) -> None: ...

class StatementBatch(_message.Message):
    __slots__ = ("statements",)
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    statements: _containers.RepeatedCompositeFieldContainer[_statement_pb2.SignedStatement]
    def __init__(self, statements: _Optional[_Iterable[_Union[_statement_pb2.SignedStatement, _Mapping]]] = ...) -> None: ...
