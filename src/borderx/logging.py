"""structlog setup: JSON lines on stderr by default, a readable console format for people.

Events are named: ``rpc`` for the one event per call, ``security.*`` for refusals, bad
signatures, gaps and equivocation. Log by key id and principal, never key material or
personal data.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(*, fmt: str = "json", level: str = "info") -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: structlog.typing.Processor
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    else:
        renderer = structlog.processors.JSONRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_StderrLogger,
        # loggers bind once: re-binding on every event costs more than the event on a hot RPC path
        cache_logger_on_first_use=True,
    )


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
