"""structlog setup: JSON lines on stderr by default, a readable console format for people.

Events are named: ``rpc`` for the one event per call, ``security.*`` for refusals, bad
signatures, gaps and equivocation. Log by key id and principal, never key material or
personal data.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import time

import structlog
from structlog.typing import EventDict, WrappedLogger


def configure_logging(*, fmt: str = "json", level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    processors: list[structlog.typing.Processor]
    if fmt == "console":
        processors = [
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()),
        ]
    else:
        processors = [_JSONLine()]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_StderrLogger,
        # loggers bind once: re-binding on every event costs more than the event on a hot RPC path
        cache_logger_on_first_use=True,
    )


class _JSONLine:
    """The JSON chain as one processor: context variables, level, ISO UTC time, exception, JSON.

    It writes the line structlog's ``merge_contextvars``, ``add_log_level``,
    ``TimeStamper(fmt="iso", utc=True)``, ``format_exc_info`` and ``JSONRenderer`` would, key
    for key and byte for byte (tests/unit/test_logging.py pins it), at half their cost: one
    processor call instead of five, the timestamp's date and time formatted once a second,
    and one ``JSONEncoder`` for every line (``json.dumps`` builds one per call when given a
    ``default``). Every call's ``rpc`` event goes through here.
    """

    def __init__(self) -> None:
        self._encode = json.JSONEncoder(default=_fallback).encode
        self._clock = _UTCClock()

    def __call__(self, logger: WrappedLogger, method_name: str, event_dict: EventDict) -> str:
        event_dict = structlog.contextvars.merge_contextvars(logger, method_name, event_dict)
        event_dict = structlog.processors.add_log_level(logger, method_name, event_dict)
        event_dict["timestamp"] = self._clock.iso()
        if "exc_info" in event_dict:
            event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
        line: str = self._encode(event_dict)
        return line


def _fallback(value: object) -> object:
    """What ``JSONRenderer`` writes for a value JSON has no type for: its ``__structlog__()``, else its repr."""
    try:
        return value.__structlog__()  # type: ignore[attr-defined]
    except AttributeError:
        return repr(value)


class _UTCClock:
    """``datetime.now(UTC).isoformat()`` with ``Z`` for ``+00:00``, the date and time part cached per second.

    Microseconds are the system clock's, rounded down as ``datetime.now`` rounds them, and
    left out when zero as ``isoformat`` leaves them out.
    """

    def __init__(self) -> None:
        #: (POSIX second, its text): one tuple, swapped whole, so that threads logging at
        #: once each read a second and its own text, never one thread's second with another's text
        self._cached = (-1, "")

    def iso(self, now_ns: int | None = None) -> str:
        second, nanoseconds = divmod(time.time_ns() if now_ns is None else now_ns, 1_000_000_000)
        cached = self._cached
        if cached[0] != second:
            cached = self._cached = (second, _whole_second(second))
        prefix = cached[1]
        microseconds = nanoseconds // 1000
        if microseconds:
            return f"{prefix}.{microseconds:06d}Z"
        return prefix + "Z"


def _whole_second(second: int) -> str:
    """``2026-12-01T15:29:31`` for that POSIX second, in UTC."""
    return datetime.datetime.fromtimestamp(second, datetime.UTC).replace(tzinfo=None).isoformat()


class _StderrLogger:
    """Writes each rendered event as a line to whatever ``sys.stderr`` is at that moment.

    structlog's own factories bind the stream when configured; resolving it per write
    keeps logging correct when the CLI runs in-process (tests, embedding) and stderr is
    swapped.
    """

    def __init__(self, *_args: object) -> None:
        pass

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = failure = err = msg


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
