"""Operator RPCs through a real gateway: SuspendIssuer's refusals, alarm paging, a bounded GetStatus."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from borderx._proto.borderx.v1 import admin_pb2, admin_pb2_grpc
from borderx.server.admin import STATUS_ALARMS, page_token
from tests.conftest import GatewayThread, channel, creds_for

AU = "AU-ABF"


@pytest.fixture
def au(start_gateway):  # type: ignore[no-untyped-def]
    return start_gateway(AU)


@pytest.fixture
def admin(au: GatewayThread, pki: Path) -> Iterator[admin_pb2_grpc.AdminStub]:
    with channel(au.target, creds_for(pki, AU, "operator", server_agency=AU)) as ch:
        yield admin_pb2_grpc.AdminStub(ch)


def many_alarms(gw: GatewayThread, n: int) -> None:
    """``n`` open alarms written in one transaction (raise_alarm commits, and syncs, each)."""
    path = gw.gateway.store.location.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO alarms (kind, issuer, peer, detail, raised_at, last_raised_at, count)"
            " VALUES ('gap', ?, '', 'd', 0, 0, 1)",
            [(f"I{i}",) for i in range(n)],
        )
    conn.close()


def refused(fn) -> tuple[grpc.StatusCode, str]:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as info:
        fn()
    return info.value.code(), info.value.details() or ""


# ---------------------------------------------------------------- SuspendIssuer


@pytest.mark.parametrize(
    ("issuer", "reason", "field", "says"),
    [
        (
            "ZZ-NOPE",
            "key theft",
            "issuer",
            "ZZ-NOPE is not a member of border5.test (directory v1); members: ",
        ),
        ("NZ-CS", "key\x00theft", "reason", "character 3 is U+0000, a control character"),
        ("NZ-CS", "\x1b[2Jkey theft", "reason", "character 0 is U+001B, a control character"),
        ("NZ-CS", "key theft\nAUDIT OK", "reason", "character 9 is U+000A"),
        ("NZ-CS", "key \u202etheft", "reason", "character 4 is U+202E"),
        ("NZ-CS", "x" * 501, "reason", "501 characters; at most 500"),
        ("NZ-CS", "   ", "reason", "required: say why"),
    ],
)
def test_suspend_issuer_refuses_non_members_and_control_characters(  # type: ignore[no-untyped-def]
    au, admin, issuer: str, reason: str, field: str, says: str
) -> None:
    code, details = refused(
        lambda: admin.SuspendIssuer(admin_pb2.SuspendIssuerRequest(issuer=issuer, reason=reason), timeout=10)
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert field in details and says in details
    assert au.gateway.store.suspended_issuers() == {}  # changed nothing


def test_suspend_issuer_takes_a_member_and_one_line_of_text(au, admin) -> None:  # type: ignore[no-untyped-def]
    reply = admin.SuspendIssuer(
        admin_pb2.SuspendIssuerRequest(issuer="NZ-CS", reason="key theft reported — ticket #42"), timeout=10
    )
    assert reply.since.seconds > 0
    assert set(au.gateway.store.suspended_issuers()) == {"NZ-CS"}


# ---------------------------------------------------------------- ListAlarms and GetStatus


def test_list_alarms_pages_through_every_alarm(au, admin) -> None:  # type: ignore[no-untyped-def]
    store = au.gateway.store
    made = [store.raise_alarm("gap", f"NZ-CS-{i}", f"detail {i}", peer="NZ-CS") for i in range(25)]
    store.acknowledge_alarm(made[0].id)
    seen: list[str] = []
    request = admin_pb2.ListAlarmsRequest(page_size=10)
    pages = 0
    while True:
        reply = admin.ListAlarms(request, timeout=10)
        pages += 1
        assert len(reply.alarms) <= 10
        seen += [a.id for a in reply.alarms]
        if not reply.next_page_token:
            break
        request.page_token = reply.next_page_token
    assert pages == 3
    assert seen == [str(a.id) for a in made[1:]]  # open ones, in id order, each once
    everything = admin.ListAlarms(admin_pb2.ListAlarmsRequest(include_acknowledged=True), timeout=10)
    assert [a.id for a in everything.alarms] == [str(a.id) for a in made] and not everything.next_page_token
    assert everything.alarms[1].peer == "NZ-CS"


def test_list_alarms_serves_at_most_1000_a_page(au, admin) -> None:  # type: ignore[no-untyped-def]
    many_alarms(au, 1001)
    reply = admin.ListAlarms(admin_pb2.ListAlarmsRequest(page_size=4_000_000_000), timeout=10)
    assert len(reply.alarms) == 1000 and reply.next_page_token
    rest = admin.ListAlarms(admin_pb2.ListAlarmsRequest(page_token=reply.next_page_token), timeout=10)
    assert len(rest.alarms) == 1 and not rest.next_page_token


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        (admin_pb2.ListAlarmsRequest(page_token="garbage!"), "not a token this gateway issued"),
        (admin_pb2.ListAlarmsRequest(page_token=page_token(-1, include_acknowledged=False)), "not a token"),
        (
            admin_pb2.ListAlarmsRequest(page_token=page_token(2**63, include_acknowledged=False)),
            "not a token",
        ),
        (
            admin_pb2.ListAlarmsRequest(
                include_acknowledged=True, page_token=page_token(3, include_acknowledged=False)
            ),
            "continues a listing with include_acknowledged=false",
        ),
    ],
)
def test_list_alarms_refuses_foreign_page_tokens(
    admin, request_: admin_pb2.ListAlarmsRequest, says: str
) -> None:  # type: ignore[no-untyped-def]
    code, details = refused(lambda: admin.ListAlarms(request_, timeout=10))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in details and says in details


def test_get_status_returns_a_bounded_list_and_the_total(au, admin) -> None:  # type: ignore[no-untyped-def]
    many_alarms(au, STATUS_ALARMS + 20)
    status = admin.GetStatus(admin_pb2.GetStatusRequest(), timeout=10)
    assert len(status.alarms) == STATUS_ALARMS
    assert status.open_alarms == STATUS_ALARMS + 20
