"""The log line format is an interface (operators parse it): pin it byte for byte.

The ``rpc`` line is the audit trail of every call; its keys, their order, the JSON
separators and the timestamp's shape must not move when the rendering gets faster.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable

import pytest
import structlog

from borderx.logging import _UTCClock, configure_logging, get_logger

# datetime.isoformat(): microseconds are left out when they are zero
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Callable[[], str]:
    """What was written to stderr since the last read (the conftest puts the quiet default back)."""
    return lambda: capsys.readouterr().err


def _emit_rpc(name: str) -> tuple[datetime.datetime, datetime.datetime]:
    logger = get_logger(name).bind()
    before = datetime.datetime.now(tz=datetime.UTC)
    logger.info(
        "rpc",
        method="/borderx.v1.Exchange/Lookup",
        principal="FR-DGDDI/analyst-1",
        code="OK",
        duration_ms=0.512,
    )
    after = datetime.datetime.now(tz=datetime.UTC)
    return before, after


def _stamp(line: str) -> tuple[str, datetime.datetime]:
    """The line with its timestamp replaced by ``<ts>``, and that timestamp."""
    found = re.search(r'"timestamp": "([^"]*)"', line)
    assert found is not None, line
    assert ISO_UTC.fullmatch(found[1]), found[1]
    when = datetime.datetime.fromisoformat(found[1].replace("Z", "+00:00"))
    return line.replace(found[1], "<ts>"), when


def test_rpc_line_is_pinned_byte_for_byte(stderr: Callable[[], str]) -> None:
    configure_logging(fmt="json", level="info")
    before, after = _emit_rpc("borderx.rpc.pin")

    line = stderr()
    assert line.endswith("\n") and line.count("\n") == 1
    pinned, when = _stamp(line[:-1])
    assert pinned == (
        '{"method": "/borderx.v1.Exchange/Lookup", "principal": "FR-DGDDI/analyst-1", '
        '"code": "OK", "duration_ms": 0.512, "event": "rpc", "level": "info", "timestamp": "<ts>"}'
    )
    assert before <= when <= after


def test_context_variables_and_non_ascii_are_rendered_as_before(stderr: Callable[[], str]) -> None:
    configure_logging(fmt="json", level="info")
    structlog.contextvars.bind_contextvars(request_id="r-1")
    try:
        get_logger("borderx.rpc.ctx").bind().warning("security.refused", reason="clé révoquée", n=3)
    finally:
        structlog.contextvars.clear_contextvars()

    pinned, _when = _stamp(stderr()[:-1])
    assert pinned == (
        '{"reason": "cl\\u00e9 r\\u00e9voqu\\u00e9e", "n": 3, "event": "security.refused", '
        '"request_id": "r-1", "level": "warning", "timestamp": "<ts>"}'
    )


def test_an_exception_is_rendered_into_the_line(stderr: Callable[[], str]) -> None:
    configure_logging(fmt="json", level="info")
    try:
        int("boom")
    except ValueError:
        get_logger("borderx.rpc.exc").bind().exception("rpc.internal_error", method="/m")

    pinned, _when = _stamp(stderr()[:-1])
    assert pinned.startswith(
        '{"method": "/m", "event": "rpc.internal_error", "level": "error", "timestamp": "<ts>", '
        '"exception": "Traceback (most recent call last):\\n'
    )
    assert pinned.endswith("ValueError: invalid literal for int() with base 10: 'boom'\"}")


def test_levels_below_the_configured_one_are_dropped(stderr: Callable[[], str]) -> None:
    configure_logging(fmt="json", level="warning")
    get_logger("borderx.rpc.level").bind().info("rpc", method="/m")
    assert stderr() == ""


@pytest.mark.parametrize(
    "now_ns",
    [
        0,
        1_796_139_771_000_000_000,  # a whole second: no fraction, as isoformat leaves it out
        1_796_139_771_000_000_999,  # under a microsecond: rounded down to the whole second
        1_796_139_771_000_001_000,
        1_796_139_771_403_062_789,
        1_796_139_771_999_999_999,
        1_796_139_772_000_000_500,  # the next second, after the one before was cached
        4_102_444_800_123_456_000,  # 2100-01-01
    ],
)
def test_the_cached_clock_writes_what_timestamper_writes(now_ns: int) -> None:
    clock = _UTCClock()
    clock.iso(now_ns - 1_000_000_000)  # a cached second that must not leak into this one
    seconds, nanoseconds = divmod(now_ns, 1_000_000_000)
    instant = datetime.datetime.fromtimestamp(seconds, datetime.UTC).replace(microsecond=nanoseconds // 1000)
    assert clock.iso(now_ns) == instant.isoformat().replace("+00:00", "Z")


def test_the_cached_clock_is_right_when_threads_log_seconds_out_of_order() -> None:
    # threads log at once: one may read the clock a second before another caches the next
    clock = _UTCClock()
    later, earlier = 1_796_139_772_000_100_000, 1_796_139_771_999_900_000
    assert clock.iso(later) == "2026-12-01T15:42:52.000100Z"
    assert clock.iso(earlier) == "2026-12-01T15:42:51.999900Z"
    assert clock.iso(later) == "2026-12-01T15:42:52.000100Z"


class _Labelled:
    def __structlog__(self) -> str:
        return "labelled"


def test_values_json_has_no_type_for_are_written_as_structlog_writes_them(stderr: Callable[[], str]) -> None:
    configure_logging(fmt="json", level="info")
    at = datetime.datetime(2026, 12, 1, 15, 42, 52, tzinfo=datetime.UTC)
    get_logger("borderx.test.values").info("values", at=at, labelled=_Labelled(), raw=b"\x00")

    pinned, _ = _stamp(stderr()[:-1])
    # what structlog's JSONRenderer writes: __structlog__() when a value has it, else repr()
    assert pinned == (
        '{"at": "datetime.datetime(2026, 12, 1, 15, 42, 52, tzinfo=datetime.timezone.utc)", '
        '"labelled": "labelled", "raw": "b\'\\\\x00\'", "event": "values", "level": "info", "timestamp": "<ts>"}'
    )
