"""structlog set-up: JSON lines off a TTY, readable lines on one, secrets never shown.

Redaction happens in the processor chain, so no call site can forget it: values of keys that
name a secret are masked, every registered token is replaced wherever it appears, and any
`Bearer …` text is cut.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO, cast

import structlog
from structlog.typing import EventDict

SECRET_KEYS = re.compile(
    r"token|authorization|password|secret|api[_-]?key|credential", re.IGNORECASE
)
BEARER = re.compile(r"(Bearer\s+)[^\s\"']+", re.IGNORECASE)
MASK = "***"


class Redactor:
    """A structlog processor that knows the run's secrets."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = {s for s in secrets if s}

    def add(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        return BEARER.sub(r"\1" + MASK, value)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                k: MASK if SECRET_KEYS.search(str(k)) and v else self.scrub(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self.scrub(v) for v in value)
        return value

    def __call__(self, _logger: Any, _name: str, event: EventDict) -> EventDict:
        return self.scrub(event)


FOLDED = "folded"  # a context var: what is logged under it, an expected failure's line tells


def folding(level: str) -> Any:
    """Drops records logged while `FOLDED` is bound (a pre-flight's failed request), unless
    at debug: the one `error:` line that follows says what they would."""
    keep = level == "debug"

    def processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        if event.pop(FOLDED, False) and not keep:
            raise structlog.DropEvent
        return event

    return processor


class CurrentStderr:
    """Whatever sys.stderr is when a record is written, not when logging was set up: while a
    progress bar is live, rich puts its console there, which prints the record above the bar
    instead of over it."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    *,
    level: str = "info",
    fmt: str = "auto",
    redactor: Redactor | None = None,
    stream: TextIO | None = None,
) -> Redactor:
    """Configure structlog for this process; returns the redactor so tokens can be added."""
    redactor = redactor or Redactor()
    as_json = fmt == "json" or (fmt == "auto" and not (stream or sys.stderr).isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            folding(level),
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redactor,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream or cast(TextIO, CurrentStderr())),
        cache_logger_on_first_use=False,
    )
    return redactor
