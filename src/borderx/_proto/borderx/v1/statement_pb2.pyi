import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BodyType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BODY_TYPE_UNSPECIFIED: _ClassVar[BodyType]
    BODY_TYPE_DESIGNATION: _ClassVar[BodyType]
    BODY_TYPE_FLAG: _ClassVar[BodyType]
    BODY_TYPE_WITHDRAWAL: _ClassVar[BodyType]

class DesignationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DESIGNATION_STATUS_UNSPECIFIED: _ClassVar[DesignationStatus]
    CERTIFIED: _ClassVar[DesignationStatus]
    SUSPENDED: _ClassVar[DesignationStatus]
    REVOKED: _ClassVar[DesignationStatus]

class FlagCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FLAG_CATEGORY_UNSPECIFIED: _ClassVar[FlagCategory]
    IPR_COUNTERFEIT: _ClassVar[FlagCategory]
    UNDERVALUATION: _ClassVar[FlagCategory]
    MISCLASSIFICATION: _ClassVar[FlagCategory]
    MISDECLARATION: _ClassVar[FlagCategory]
    ORIGIN_FRAUD: _ClassVar[FlagCategory]
    ADCVD_EVASION: _ClassVar[FlagCategory]
    DE_MINIMIS_SPLITTING: _ClassVar[FlagCategory]
    PROHIBITED_RESTRICTED: _ClassVar[FlagCategory]
    NARCOTICS: _ClassVar[FlagCategory]
    FORCED_LABOUR: _ClassVar[FlagCategory]
    SECURITY_BREACH: _ClassVar[FlagCategory]

class Evidence(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVIDENCE_UNSPECIFIED: _ClassVar[Evidence]
    SUSPECTED: _ClassVar[Evidence]
    CONFIRMED: _ClassVar[Evidence]
    ADJUDICATED: _ClassVar[Evidence]

class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OUTCOME_UNSPECIFIED: _ClassVar[Outcome]
    SEIZURE: _ClassVar[Outcome]
    DETENTION: _ClassVar[Outcome]
    PENALTY: _ClassVar[Outcome]
    WARNING: _ClassVar[Outcome]
    REFERRAL: _ClassVar[Outcome]
    PROGRAMME_SUSPENSION: _ClassVar[Outcome]
    FORFEITURE: _ClassVar[Outcome]
    PROSECUTION: _ClassVar[Outcome]
    RE_EXPORT: _ClassVar[Outcome]
    DESTRUCTION: _ClassVar[Outcome]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    LOW: _ClassVar[Severity]
    MEDIUM: _ClassVar[Severity]
    HIGH: _ClassVar[Severity]
    CRITICAL: _ClassVar[Severity]

class WithdrawalReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WITHDRAWAL_REASON_UNSPECIFIED: _ClassVar[WithdrawalReason]
    ISSUED_IN_ERROR: _ClassVar[WithdrawalReason]
    OVERTURNED_ON_APPEAL: _ClassVar[WithdrawalReason]
    CONSENT_WITHDRAWN: _ClassVar[WithdrawalReason]
    EXPIRED_EARLY: _ClassVar[WithdrawalReason]
    SUPERSEDED: _ClassVar[WithdrawalReason]
BODY_TYPE_UNSPECIFIED: BodyType
BODY_TYPE_DESIGNATION: BodyType
BODY_TYPE_FLAG: BodyType
BODY_TYPE_WITHDRAWAL: BodyType
DESIGNATION_STATUS_UNSPECIFIED: DesignationStatus
CERTIFIED: DesignationStatus
SUSPENDED: DesignationStatus
REVOKED: DesignationStatus
FLAG_CATEGORY_UNSPECIFIED: FlagCategory
IPR_COUNTERFEIT: FlagCategory
UNDERVALUATION: FlagCategory
MISCLASSIFICATION: FlagCategory
MISDECLARATION: FlagCategory
ORIGIN_FRAUD: FlagCategory
ADCVD_EVASION: FlagCategory
DE_MINIMIS_SPLITTING: FlagCategory
PROHIBITED_RESTRICTED: FlagCategory
NARCOTICS: FlagCategory
FORCED_LABOUR: FlagCategory
SECURITY_BREACH: FlagCategory
EVIDENCE_UNSPECIFIED: Evidence
SUSPECTED: Evidence
CONFIRMED: Evidence
ADJUDICATED: Evidence
OUTCOME_UNSPECIFIED: Outcome
SEIZURE: Outcome
DETENTION: Outcome
PENALTY: Outcome
WARNING: Outcome
REFERRAL: Outcome
PROGRAMME_SUSPENSION: Outcome
FORFEITURE: Outcome
PROSECUTION: Outcome
RE_EXPORT: Outcome
DESTRUCTION: Outcome
SEVERITY_UNSPECIFIED: Severity
LOW: Severity
MEDIUM: Severity
HIGH: Severity
CRITICAL: Severity
WITHDRAWAL_REASON_UNSPECIFIED: WithdrawalReason
ISSUED_IN_ERROR: WithdrawalReason
OVERTURNED_ON_APPEAL: WithdrawalReason
CONSENT_WITHDRAWN: WithdrawalReason
EXPIRED_EARLY: WithdrawalReason
SUPERSEDED: WithdrawalReason

class SignedStatement(_message.Message):
    __slots__ = ("header", "signatures", "body")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    header: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[Signature]
    body: bytes
    def __init__(self, header: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[Signature, _Mapping]]] = ..., body: _Optional[bytes] = ...) -> None: ...

class Signature(_message.Message):
    __slots__ = ("key_id", "sig")
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SIG_FIELD_NUMBER: _ClassVar[int]
    key_id: str
    sig: bytes
    def __init__(self, key_id: _Optional[str] = ..., sig: _Optional[bytes] = ...) -> None: ...

class StatementHeader(_message.Message):
    __slots__ = ("issuer", "seq", "prev_digest", "issued_at", "audience", "body_type", "body_digest")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PREV_DIGEST_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    BODY_TYPE_FIELD_NUMBER: _ClassVar[int]
    BODY_DIGEST_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    seq: int
    prev_digest: bytes
    issued_at: _timestamp_pb2.Timestamp
    audience: _containers.RepeatedScalarFieldContainer[str]
    body_type: BodyType
    body_digest: bytes
    def __init__(self, issuer: _Optional[str] = ..., seq: _Optional[int] = ..., prev_digest: _Optional[bytes] = ..., issued_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., audience: _Optional[_Iterable[str]] = ..., body_type: _Optional[_Union[BodyType, str]] = ..., body_digest: _Optional[bytes] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("issuer", "seq", "head_digest", "time", "signatures_digest")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HEAD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_DIGEST_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    seq: int
    head_digest: bytes
    time: _timestamp_pb2.Timestamp
    signatures_digest: bytes
    def __init__(self, issuer: _Optional[str] = ..., seq: _Optional[int] = ..., head_digest: _Optional[bytes] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., signatures_digest: _Optional[bytes] = ...) -> None: ...

class SignedCheckpoint(_message.Message):
    __slots__ = ("checkpoint", "signatures")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    checkpoint: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[Signature]
    def __init__(self, checkpoint: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[Signature, _Mapping]]] = ...) -> None: ...

class Cosignature(_message.Message):
    __slots__ = ("checkpoint", "witness", "time")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    WITNESS_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    checkpoint: bytes
    witness: str
    time: _timestamp_pb2.Timestamp
    def __init__(self, checkpoint: _Optional[bytes] = ..., witness: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SignedCosignature(_message.Message):
    __slots__ = ("cosignature", "signatures")
    COSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SIGNATURES_FIELD_NUMBER: _ClassVar[int]
    cosignature: bytes
    signatures: _containers.RepeatedCompositeFieldContainer[Signature]
    def __init__(self, cosignature: _Optional[bytes] = ..., signatures: _Optional[_Iterable[_Union[Signature, _Mapping]]] = ...) -> None: ...

class StatementRef(_message.Message):
    __slots__ = ("issuer", "seq", "header_digest")
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    HEADER_DIGEST_FIELD_NUMBER: _ClassVar[int]
    issuer: str
    seq: int
    header_digest: bytes
    def __init__(self, issuer: _Optional[str] = ..., seq: _Optional[int] = ..., header_digest: _Optional[bytes] = ...) -> None: ...

class PartyId(_message.Message):
    __slots__ = ("scheme", "value")
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    scheme: str
    value: str
    def __init__(self, scheme: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Address(_message.Message):
    __slots__ = ("lines", "city", "region", "postal_code", "country")
    LINES_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedScalarFieldContainer[str]
    city: str
    region: str
    postal_code: str
    country: str
    def __init__(self, lines: _Optional[_Iterable[str]] = ..., city: _Optional[str] = ..., region: _Optional[str] = ..., postal_code: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class Party(_message.Message):
    __slots__ = ("legal_name", "trading_names", "address", "ids", "emails", "phones")
    LEGAL_NAME_FIELD_NUMBER: _ClassVar[int]
    TRADING_NAMES_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    IDS_FIELD_NUMBER: _ClassVar[int]
    EMAILS_FIELD_NUMBER: _ClassVar[int]
    PHONES_FIELD_NUMBER: _ClassVar[int]
    legal_name: str
    trading_names: _containers.RepeatedScalarFieldContainer[str]
    address: Address
    ids: _containers.RepeatedCompositeFieldContainer[PartyId]
    emails: _containers.RepeatedScalarFieldContainer[str]
    phones: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, legal_name: _Optional[str] = ..., trading_names: _Optional[_Iterable[str]] = ..., address: _Optional[_Union[Address, _Mapping]] = ..., ids: _Optional[_Iterable[_Union[PartyId, _Mapping]]] = ..., emails: _Optional[_Iterable[str]] = ..., phones: _Optional[_Iterable[str]] = ...) -> None: ...

class Designation(_message.Message):
    __slots__ = ("party", "programme", "member_id", "level", "status", "valid_from", "valid_until", "status_reason", "consent_to_share", "supersedes")
    PARTY_FIELD_NUMBER: _ClassVar[int]
    PROGRAMME_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    CONSENT_TO_SHARE_FIELD_NUMBER: _ClassVar[int]
    SUPERSEDES_FIELD_NUMBER: _ClassVar[int]
    party: Party
    programme: str
    member_id: str
    level: str
    status: DesignationStatus
    valid_from: _timestamp_pb2.Timestamp
    valid_until: _timestamp_pb2.Timestamp
    status_reason: str
    consent_to_share: bool
    supersedes: StatementRef
    def __init__(self, party: _Optional[_Union[Party, _Mapping]] = ..., programme: _Optional[str] = ..., member_id: _Optional[str] = ..., level: _Optional[str] = ..., status: _Optional[_Union[DesignationStatus, str]] = ..., valid_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., valid_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status_reason: _Optional[str] = ..., consent_to_share: _Optional[bool] = ..., supersedes: _Optional[_Union[StatementRef, _Mapping]] = ...) -> None: ...

class Money(_message.Message):
    __slots__ = ("currency", "minor_units")
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    MINOR_UNITS_FIELD_NUMBER: _ClassVar[int]
    currency: str
    minor_units: int
    def __init__(self, currency: _Optional[str] = ..., minor_units: _Optional[int] = ...) -> None: ...

class ShipmentRef(_message.Message):
    __slots__ = ("air_waybill", "house_bill", "tracking_number", "hs_codes", "declared_value", "origin_country")
    AIR_WAYBILL_FIELD_NUMBER: _ClassVar[int]
    HOUSE_BILL_FIELD_NUMBER: _ClassVar[int]
    TRACKING_NUMBER_FIELD_NUMBER: _ClassVar[int]
    HS_CODES_FIELD_NUMBER: _ClassVar[int]
    DECLARED_VALUE_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    air_waybill: str
    house_bill: str
    tracking_number: str
    hs_codes: _containers.RepeatedScalarFieldContainer[str]
    declared_value: Money
    origin_country: str
    def __init__(self, air_waybill: _Optional[str] = ..., house_bill: _Optional[str] = ..., tracking_number: _Optional[str] = ..., hs_codes: _Optional[_Iterable[str]] = ..., declared_value: _Optional[_Union[Money, _Mapping]] = ..., origin_country: _Optional[str] = ...) -> None: ...

class ViolationFlag(_message.Message):
    __slots__ = ("subject", "category", "evidence", "outcomes", "severity", "observed_at", "expires_at", "shipments", "summary")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SHIPMENTS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    subject: Party
    category: FlagCategory
    evidence: Evidence
    outcomes: _containers.RepeatedScalarFieldContainer[Outcome]
    severity: Severity
    observed_at: _timestamp_pb2.Timestamp
    expires_at: _timestamp_pb2.Timestamp
    shipments: _containers.RepeatedCompositeFieldContainer[ShipmentRef]
    summary: str
    def __init__(self, subject: _Optional[_Union[Party, _Mapping]] = ..., category: _Optional[_Union[FlagCategory, str]] = ..., evidence: _Optional[_Union[Evidence, str]] = ..., outcomes: _Optional[_Iterable[_Union[Outcome, str]]] = ..., severity: _Optional[_Union[Severity, str]] = ..., observed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., shipments: _Optional[_Iterable[_Union[ShipmentRef, _Mapping]]] = ..., summary: _Optional[str] = ...) -> None: ...

class Withdrawal(_message.Message):
    __slots__ = ("target", "reason", "effective_at", "note")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    target: StatementRef
    reason: WithdrawalReason
    effective_at: _timestamp_pb2.Timestamp
    note: str
    def __init__(self, target: _Optional[_Union[StatementRef, _Mapping]] = ..., reason: _Optional[_Union[WithdrawalReason, str]] = ..., effective_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., note: _Optional[str] = ...) -> None: ...
