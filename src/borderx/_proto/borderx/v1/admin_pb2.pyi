import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from borderx._proto.borderx.v1 import statement_pb2 as _statement_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExportEvidenceRequest(_message.Message):
    __slots__ = ("issuers",)
    ISSUERS_FIELD_NUMBER: _ClassVar[int]
    issuers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, issuers: _Optional[_Iterable[str]] = ...) -> None: ...

class EvidenceItem(_message.Message):
    __slots__ = ("kind", "issuer", "seq", "detail", "statements", "checkpoints", "detected_at", "reported_by")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    DETECTED_AT_FIELD_NUMBER: _ClassVar[int]
    REPORTED_BY_FIELD_NUMBER: _ClassVar[int]
    kind: str
    issuer: str
    seq: int
    detail: str
    statements: _containers.RepeatedCompositeFieldContainer[_statement_pb2.SignedStatement]
    checkpoints: _containers.RepeatedCompositeFieldContainer[_statement_pb2.SignedCheckpoint]
    detected_at: _timestamp_pb2.Timestamp
    reported_by: str
    def __init__(self, kind: _Optional[str] = ..., issuer: _Optional[str] = ..., seq: _Optional[int] = ..., detail: _Optional[str] = ..., statements: _Optional[_Iterable[_Union[_statement_pb2.SignedStatement, _Mapping]]] = ..., checkpoints: _Optional[_Iterable[_Union[_statement_pb2.SignedCheckpoint, _Mapping]]] = ..., detected_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reported_by: _Optional[str] = ...) -> None: ...

class ExportEvidenceResponse(_message.Message):
    __slots__ = ("evidence",)
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    evidence: _containers.RepeatedCompositeFieldContainer[EvidenceItem]
    def __init__(self, evidence: _Optional[_Iterable[_Union[EvidenceItem, _Mapping]]] = ...) -> None: ...

class PublishDirectoryRequest(_message.Message):
    __slots__ = ("document",)
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    document: bytes
    def __init__(self, document: _Optional[bytes] = ...) -> None: ...

class PublishDirectoryResponse(_message.Message):
    __slots__ = ("directory_changed", "directory_version", "directory_digest", "signed_by")
    DIRECTORY_CHANGED_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_VERSION_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNED_BY_FIELD_NUMBER: _ClassVar[int]
    directory_changed: bool
    directory_version: int
    directory_digest: str
    signed_by: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, directory_changed: _Optional[bool] = ..., directory_version: _Optional[int] = ..., directory_digest: _Optional[str] = ..., signed_by: _Optional[_Iterable[str]] = ...) -> None: ...

class ListAlarmsRequest(_message.Message):
    __slots__ = ("include_acknowledged", "page_size", "page_token")
    INCLUDE_ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    include_acknowledged: bool
    page_size: int
    page_token: str
    def __init__(self, include_acknowledged: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAlarmsResponse(_message.Message):
    __slots__ = ("alarms", "next_page_token")
    ALARMS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    alarms: _containers.RepeatedCompositeFieldContainer[Alarm]
    next_page_token: str
    def __init__(self, alarms: _Optional[_Iterable[_Union[Alarm, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SuspendIssuerRequest(_message.Message):
    __slots__ = ("issuer", "reason")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    reason: str
    def __init__(self, issuer: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SuspendIssuerResponse(_message.Message):
    __slots__ = ("since",)
    SINCE_FIELD_NUMBER: _ClassVar[int]
    since: _timestamp_pb2.Timestamp
    def __init__(self, since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReloadDirectoryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadDirectoryResponse(_message.Message):
    __slots__ = ("directory_changed", "directory_version", "tls_generation")
    DIRECTORY_CHANGED_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_VERSION_FIELD_NUMBER: _ClassVar[int]
    TLS_GENERATION_FIELD_NUMBER: _ClassVar[int]
    directory_changed: bool
    directory_version: int
    tls_generation: int
    def __init__(self, directory_changed: _Optional[bool] = ..., directory_version: _Optional[int] = ..., tls_generation: _Optional[int] = ...) -> None: ...

class ExportStatementsRequest(_message.Message):
    __slots__ = ("issuers", "after")
    class AfterEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ISSUERS_FIELD_NUMBER: _ClassVar[int]
    AFTER_FIELD_NUMBER: _ClassVar[int]
    issuers: _containers.RepeatedScalarFieldContainer[str]
    after: _containers.ScalarMap[str, int]
    def __init__(self, issuers: _Optional[_Iterable[str]] = ..., after: _Optional[_Mapping[str, int]] = ...) -> None: ...

class ResumeIssuerRequest(_message.Message):
    __slots__ = ("issuer",)
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    def __init__(self, issuer: _Optional[str] = ...) -> None: ...

class ResumeIssuerResponse(_message.Message):
    __slots__ = ("was_suspended",)
    WAS_SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    was_suspended: bool
    def __init__(self, was_suspended: _Optional[bool] = ...) -> None: ...

class AcknowledgeAlarmRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PeerStatus(_message.Message):
    __slots__ = ("agency", "endpoint", "connected", "last_message_at", "lag_statements", "lag_seconds", "last_error", "received", "stored", "held_back")
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_FIELD_NUMBER: _ClassVar[int]
    LAST_MESSAGE_AT_FIELD_NUMBER: _ClassVar[int]
    LAG_STATEMENTS_FIELD_NUMBER: _ClassVar[int]
    LAG_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    HELD_BACK_FIELD_NUMBER: _ClassVar[int]
    agency: str
    endpoint: str
    connected: bool
    last_message_at: _timestamp_pb2.Timestamp
    lag_statements: int
    lag_seconds: float
    last_error: str
    received: int
    stored: int
    held_back: int
    def __init__(self, agency: _Optional[str] = ..., endpoint: _Optional[str] = ..., connected: _Optional[bool] = ..., last_message_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lag_statements: _Optional[int] = ..., lag_seconds: _Optional[float] = ..., last_error: _Optional[str] = ..., received: _Optional[int] = ..., stored: _Optional[int] = ..., held_back: _Optional[int] = ...) -> None: ...

class IssuerStatus(_message.Message):
    __slots__ = ("issuer", "head_seq", "head_digest", "checkpoint_time", "checkpoint_age_seconds", "suspended", "checkpoint_seq", "statement_count")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    HEAD_SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_TIME_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_AGE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_SEQ_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    head_seq: int
    head_digest: bytes
    checkpoint_time: _timestamp_pb2.Timestamp
    checkpoint_age_seconds: float
    suspended: bool
    checkpoint_seq: int
    statement_count: int
    def __init__(self, issuer: _Optional[str] = ..., head_seq: _Optional[int] = ..., head_digest: _Optional[bytes] = ..., checkpoint_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., checkpoint_age_seconds: _Optional[float] = ..., suspended: _Optional[bool] = ..., checkpoint_seq: _Optional[int] = ..., statement_count: _Optional[int] = ...) -> None: ...

class Alarm(_message.Message):
    __slots__ = ("id", "kind", "issuer", "detail", "raised_at", "acknowledged", "count", "last_raised_at", "peer")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    RAISED_AT_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_RAISED_AT_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    issuer: str
    detail: str
    raised_at: _timestamp_pb2.Timestamp
    acknowledged: bool
    count: int
    last_raised_at: _timestamp_pb2.Timestamp
    peer: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., issuer: _Optional[str] = ..., detail: _Optional[str] = ..., raised_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., acknowledged: _Optional[bool] = ..., count: _Optional[int] = ..., last_raised_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., peer: _Optional[str] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("agency", "federation", "directory_version", "uptime_seconds", "store_location", "statement_count", "started_at", "version", "peers", "issuers", "alarms", "store_bytes", "open_alarms", "expiries", "directory_digest", "directory_expires", "receipts")
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    FEDERATION_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    STORE_LOCATION_FIELD_NUMBER: _ClassVar[int]
    STATEMENT_COUNT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    ISSUERS_FIELD_NUMBER: _ClassVar[int]
    ALARMS_FIELD_NUMBER: _ClassVar[int]
    STORE_BYTES_FIELD_NUMBER: _ClassVar[int]
    OPEN_ALARMS_FIELD_NUMBER: _ClassVar[int]
    EXPIRIES_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_EXPIRES_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    agency: str
    federation: str
    directory_version: int
    uptime_seconds: float
    store_location: str
    statement_count: int
    started_at: _timestamp_pb2.Timestamp
    version: str
    peers: _containers.RepeatedCompositeFieldContainer[PeerStatus]
    issuers: _containers.RepeatedCompositeFieldContainer[IssuerStatus]
    alarms: _containers.RepeatedCompositeFieldContainer[Alarm]
    store_bytes: int
    open_alarms: int
    expiries: _containers.RepeatedCompositeFieldContainer[Expiry]
    directory_digest: str
    directory_expires: _timestamp_pb2.Timestamp
    receipts: _containers.RepeatedCompositeFieldContainer[Receipt]
    def __init__(self, agency: _Optional[str] = ..., federation: _Optional[str] = ..., directory_version: _Optional[int] = ..., uptime_seconds: _Optional[float] = ..., store_location: _Optional[str] = ..., statement_count: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., version: _Optional[str] = ..., peers: _Optional[_Iterable[_Union[PeerStatus, _Mapping]]] = ..., issuers: _Optional[_Iterable[_Union[IssuerStatus, _Mapping]]] = ..., alarms: _Optional[_Iterable[_Union[Alarm, _Mapping]]] = ..., store_bytes: _Optional[int] = ..., open_alarms: _Optional[int] = ..., expiries: _Optional[_Iterable[_Union[Expiry, _Mapping]]] = ..., directory_digest: _Optional[str] = ..., directory_expires: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., receipts: _Optional[_Iterable[_Union[Receipt, _Mapping]]] = ...) -> None: ...

class Receipt(_message.Message):
    __slots__ = ("partner", "seq", "witnessed_at", "signed_cosignature")
    PARTNER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    WITNESSED_AT_FIELD_NUMBER: _ClassVar[int]
    SIGNED_COSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    partner: str
    seq: int
    witnessed_at: _timestamp_pb2.Timestamp
    signed_cosignature: bytes
    def __init__(self, partner: _Optional[str] = ..., seq: _Optional[int] = ..., witnessed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signed_cosignature: _Optional[bytes] = ...) -> None: ...

class Expiry(_message.Message):
    __slots__ = ("kind", "agency", "subject", "not_after", "days_left", "status")
    KIND_FIELD_NUMBER: _ClassVar[int]
    AGENCY_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    DAYS_LEFT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    agency: str
    subject: str
    not_after: _timestamp_pb2.Timestamp
    days_left: float
    status: str
    def __init__(self, kind: _Optional[str] = ..., agency: _Optional[str] = ..., subject: _Optional[str] = ..., not_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., days_left: _Optional[float] = ..., status: _Optional[str] = ...) -> None: ...
