"""Admin servicer (operators of the home agency only; the interceptor enforces that)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import unicodedata
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.protobuf.timestamp_pb2 import Timestamp

from borderx import __version__
from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc
from borderx.bounds import INT64_MAX, check_int64, parse_decimal_id
from borderx.directory.model import AGENCY_ID_PATTERN
from borderx.errors import InvalidArgument, quote
from borderx.logging import get_logger
from borderx.statements.encoding import (
    envelope_to_proto,
    signed_checkpoint_to_proto,
    signed_cosignature_to_wire,
)
from borderx.store.base import Alarm, Store

if TYPE_CHECKING:
    from borderx.server.app import Gateway

audit = get_logger("borderx.audit")


def _ts(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def alarm_to_proto(alarm: Alarm) -> admin_pb2.Alarm:
    return admin_pb2.Alarm(
        id=str(alarm.id),
        kind=alarm.kind,
        issuer=alarm.issuer,
        detail=alarm.detail,
        raised_at=_ts(alarm.raised_at),
        acknowledged=not alarm.open,
        count=alarm.count,
        last_raised_at=_ts(alarm.last_raised_at),
        peer=alarm.peer,
    )


#: alarms in a GetStatus reply (the oldest open ones; ListAlarms pages through all)
STATUS_ALARMS = 100
#: ListAlarms page size when the request gives none, and the largest served (AIP-158)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
#: the longest SuspendIssuer reason, in characters
MAX_REASON_CHARS = 500
_MAX_INT64 = INT64_MAX
# bidirectional overrides and isolates reorder how a log line reads (Trojan Source)
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_one_line(value: str, *, field: str, limit: int) -> None:
    """Refuse text an audit log could be forged with: control characters, bidi overrides, overlong."""
    if len(value) > limit:
        raise InvalidArgument(f"{len(value)} characters; at most {limit}", field=field)
    for i, char in enumerate(value):
        if unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI:
            # NUL truncates C readers, ESC drives terminals, CR/LF forge log lines
            raise InvalidArgument(
                f"character {i} is U+{ord(char):04X}, a control character; give one line of printable text",
                field=field,
            )


def page_token(after_id: int, *, include_acknowledged: bool) -> str:
    doc = json.dumps({"after": after_id, "all": include_acknowledged}, separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def read_page_token(token: str, *, include_acknowledged: bool) -> int:
    """The alarm id a page token resumes after; InvalidArgument naming page_token otherwise."""
    if not token:
        return 0
    try:
        doc = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, kept = doc["after"], doc["all"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise InvalidArgument(
            "not a token this gateway issued; pass next_page_token from the previous reply",
            field="page_token",
        ) from None
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after <= _MAX_INT64:
        raise InvalidArgument("not a token this gateway issued", field="page_token")
    if kept is not include_acknowledged:
        # AIP-158: a token continues the listing it came from, not another one
        raise InvalidArgument(
            f"this token continues a listing with include_acknowledged={str(kept).lower()}",
            field="page_token",
        )
    return after


class AdminServicer(admin_pb2_grpc.AdminServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gw = gateway

    async def GetStatus(
        self, request: admin_pb2.GetStatusRequest, context: Any
    ) -> admin_pb2.GetStatusResponse:
        return await asyncio.to_thread(self._status)

    def _status(self) -> admin_pb2.GetStatusResponse:
        gw = self._gw
        store = gw.store
        directory = gw.directory.current
        now = datetime.now(UTC)
        heads = store.heads()
        checkpoints = store.checkpoints()
        suspended = store.suspended_issuers()
        counts = store.count_by_issuer()
        issuers = []
        for issuer in sorted(set(heads) | set(checkpoints) | set(suspended)):
            head = heads.get(issuer)
            cp = checkpoints.get(issuer)
            issuers.append(
                admin_pb2.IssuerStatus(
                    issuer=issuer,
                    head_seq=head.seq if head else 0,
                    head_digest=head.digest if head else b"",
                    checkpoint_time=_ts(cp.checkpoint.time) if cp else None,
                    checkpoint_age_seconds=(now - cp.checkpoint.time).total_seconds() if cp else 0.0,
                    checkpoint_seq=cp.seq if cp else 0,
                    suspended=issuer in suspended,
                    statement_count=counts.get(issuer, 0),
                )
            )
        peers = []
        mono = time.monotonic()
        for link in gw.replicator.links.values():
            st = link.status
            behind = {
                i: (seq - (heads[i].seq if i in heads else 0), seen)
                for i, (seq, seen) in st.known_heads.items()
                if seq > (heads[i].seq if i in heads else 0)
            }
            peers.append(
                admin_pb2.PeerStatus(
                    agency=st.agency,
                    endpoint=st.endpoint,
                    connected=st.connected,
                    last_message_at=_ts(st.last_message_at),
                    lag_statements=sum(n for n, _ in behind.values()),
                    lag_seconds=max((mono - seen for _, seen in behind.values()), default=0.0),
                    last_error=st.last_error,
                    received=st.received,
                    stored=st.stored,
                    held_back=st.held_back,
                )
            )
        return admin_pb2.GetStatusResponse(
            agency=gw.agency,
            federation=directory.federation,
            directory_version=directory.version,
            directory_digest=directory.digest,
            directory_expires=_ts(directory.expires),
            uptime_seconds=round(time.monotonic() - gw.started_monotonic, 3),
            store_location=store.location,
            store_bytes=store.size_bytes(),
            statement_count=sum(counts.values()),
            started_at=_ts(gw.started_at),
            version=__version__,
            peers=peers,
            issuers=issuers,
            alarms=[alarm_to_proto(a) for a in store.alarms(limit=STATUS_ALARMS)],
            open_alarms=store.alarm_count(),
            expiries=[
                admin_pb2.Expiry(
                    kind=e.kind,
                    agency=e.agency,
                    subject=e.subject,
                    not_after=_ts(e.not_after) if e.not_after else None,
                    days_left=e.days_left(now),
                    status=e.status,
                )
                for e in gw.expiries()
            ],
            # a partner's cosignature over our checkpoint is its signed receipt up to that seq
            receipts=[
                admin_pb2.Receipt(
                    partner=partner,
                    seq=scos.seq,
                    witnessed_at=_ts(scos.cosignature.time),
                    signed_cosignature=signed_cosignature_to_wire(scos),
                )
                for partner, scos in sorted(store.witnessed_heads(gw.agency).items())
            ],
        )

    async def ResumeIssuer(
        self, request: admin_pb2.ResumeIssuerRequest, context: Any
    ) -> admin_pb2.ResumeIssuerResponse:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        if not AGENCY_ID_PATTERN.fullmatch(request.issuer):
            raise InvalidArgument(f"{quote(request.issuer)} is not an agency id like AU-ABF", field="issuer")
        was = await asyncio.to_thread(self._gw.store.resume_issuer, request.issuer)
        audit.info(
            "audit.issuer_resumed",
            issuer=request.issuer,
            was_suspended=was,
            principal=str(current_principal()),
        )
        # reconnect so peers resend from what we hold
        if was:
            await self._gw.replicator.restart()
        return admin_pb2.ResumeIssuerResponse(was_suspended=was)

    async def AcknowledgeAlarm(
        self, request: admin_pb2.AcknowledgeAlarmRequest, context: Any
    ) -> admin_pb2.Alarm:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        alarm_id = parse_decimal_id(request.id, "id", what="alarm id")
        alarm = await asyncio.to_thread(self._gw.store.acknowledge_alarm, alarm_id)
        audit.info(
            "audit.alarm_acknowledged", alarm=alarm.id, kind=alarm.kind, principal=str(current_principal())
        )
        return alarm_to_proto(alarm)

    async def ListAlarms(
        self, request: admin_pb2.ListAlarmsRequest, context: Any
    ) -> admin_pb2.ListAlarmsResponse:
        everything = request.include_acknowledged
        after = read_page_token(request.page_token, include_acknowledged=everything)
        size = min(request.page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        # one more than the page: whether another page follows, without a second query
        alarms = await asyncio.to_thread(
            self._gw.store.alarms, include_acknowledged=everything, after_id=after, limit=size + 1
        )
        page, more = alarms[:size], len(alarms) > size
        return admin_pb2.ListAlarmsResponse(
            alarms=[alarm_to_proto(a) for a in page],
            next_page_token=page_token(page[-1].id, include_acknowledged=everything) if more else "",
        )

    async def SuspendIssuer(
        self, request: admin_pb2.SuspendIssuerRequest, context: Any
    ) -> admin_pb2.SuspendIssuerResponse:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        if not AGENCY_ID_PATTERN.fullmatch(request.issuer):
            raise InvalidArgument(f"{quote(request.issuer)} is not an agency id like AU-ABF", field="issuer")
        directory = self._gw.directory.current
        if request.issuer not in directory.agencies:
            raise InvalidArgument(
                f"{request.issuer} is not a member of {directory.federation} (directory v{directory.version}); "
                f"members: {', '.join(sorted(directory.agencies))}",
                field="issuer",
            )
        if not request.reason.strip():
            raise InvalidArgument("required: say why, for the audit trail", field="reason")
        check_one_line(request.reason, field="reason", limit=MAX_REASON_CHARS)
        if request.issuer == self._gw.agency:
            raise InvalidArgument(
                "a gateway does not suspend its own agency; stop publishing instead", field="issuer"
            )
        suspension = await asyncio.to_thread(self._gw.store.suspend_issuer, request.issuer, request.reason)
        audit.info(
            "audit.issuer_suspended",
            issuer=request.issuer,
            reason=request.reason,
            principal=str(current_principal()),
        )
        return admin_pb2.SuspendIssuerResponse(since=_ts(suspension.since))

    async def ReloadDirectory(
        self, request: admin_pb2.ReloadDirectoryRequest, context: Any
    ) -> admin_pb2.ReloadDirectoryResponse:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        changed, generation = await asyncio.to_thread(self._gw.reload)
        audit.info("audit.reloaded", principal=str(current_principal()), directory_changed=changed)
        return admin_pb2.ReloadDirectoryResponse(
            directory_changed=changed,
            directory_version=self._gw.directory.current.version,
            tls_generation=generation,
        )

    async def PublishDirectory(
        self, request: admin_pb2.PublishDirectoryRequest, context: Any
    ) -> admin_pb2.PublishDirectoryResponse:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        changed, directory, signed_by = await asyncio.to_thread(self._gw.publish_directory, request.document)
        audit.info(
            "audit.directory_published",
            principal=str(current_principal()),
            directory_changed=changed,
            directory_version=directory.version,
            directory_digest=directory.digest,
        )
        return admin_pb2.PublishDirectoryResponse(
            directory_changed=changed,
            directory_version=directory.version,
            directory_digest=directory.digest,
            signed_by=signed_by,
        )

    async def ExportStatements(
        self, request: admin_pb2.ExportStatementsRequest, context: Any
    ) -> AsyncIterator[Any]:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        for issuer in (*request.issuers, *request.after):
            if not AGENCY_ID_PATTERN.fullmatch(issuer):
                raise InvalidArgument(f"{quote(issuer)} is not an agency id like AU-ABF", field="issuers")
        for issuer, seq in request.after.items():
            check_int64(seq, f"after[{issuer}]")
        audit.info("audit.export", principal=str(current_principal()), issuers=list(request.issuers))
        store = self._gw.store
        # invariant 7.1: nothing whose signatures are still to be checked leaves the gateway
        heads = await asyncio.to_thread(store.verified_heads)
        for issuer in sorted(heads):
            if request.issuers and issuer not in request.issuers:
                continue
            pos = request.after.get(issuer, 0)
            while pos < heads[issuer]:
                page = await asyncio.to_thread(store.read_range, issuer, pos, min(512, heads[issuer] - pos))
                if not page:
                    break
                for stored in page:
                    yield envelope_to_proto(stored.envelope)
                pos = page[-1].envelope.seq

    async def ExportEvidence(
        self, request: admin_pb2.ExportEvidenceRequest, context: Any
    ) -> admin_pb2.ExportEvidenceResponse:
        from borderx.server.interceptor import current_principal  # noqa: PLC0415

        for i, issuer in enumerate(request.issuers):
            if not AGENCY_ID_PATTERN.fullmatch(issuer):
                raise InvalidArgument(
                    f"{issuer[:40]!r} is not an agency id like AU-ABF", field=f"issuers[{i}]"
                )
        audit.info("audit.export_evidence", principal=str(current_principal()), issuers=list(request.issuers))
        items = await asyncio.to_thread(evidence_items, self._gw.store)
        wanted = set(request.issuers)
        return admin_pb2.ExportEvidenceResponse(
            evidence=[item for item in items if not wanted or item.issuer in wanted]
        )


def evidence_items(store: Store) -> list[admin_pb2.EvidenceItem]:
    """Every piece of evidence the store keeps, redacted to signed headers, oldest first per kind."""
    items = [
        admin_pb2.EvidenceItem(
            kind="equivocation",
            issuer=e.issuer,
            seq=e.seq,
            detail=f"two signed headers for {e.issuer} seq {e.seq}",
            statements=[envelope_to_proto(e.held.redact()), envelope_to_proto(e.conflicting.redact())],
            detected_at=_ts(e.detected_at),
            reported_by=e.reported_by,
        )
        for e in store.equivocations()
    ]
    items += [
        admin_pb2.EvidenceItem(
            kind=e.kind,
            issuer=e.issuer,
            seq=e.seq,
            detail=e.detail,
            statements=[envelope_to_proto(env.redact()) for env in e.envelopes],
            checkpoints=[signed_checkpoint_to_proto(cp) for cp in e.checkpoints],
            detected_at=_ts(e.detected_at),
            reported_by=e.reported_by,
        )
        for e in store.evidence()
    ]
    items += [
        admin_pb2.EvidenceItem(
            kind="rule_violation",
            issuer=s.envelope.issuer,
            seq=s.envelope.seq,
            detail=s.violation or "",
            statements=[envelope_to_proto(s.envelope.redact())],
            detected_at=_ts(s.received_at),
            reported_by=s.received_from,
        )
        for s in store.violations()
    ]
    return items
