"""Structured JSON logs shared by every service, with the redaction rules in one place
(`portal_kit.redaction`) and the request's trace id on every line logged while it runs."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from portal_kit.redaction import REDACTED, is_secret_key, mask_email, redact, scrub

__all__ = [
    "CORRELATION_ID",
    "EVENT_ID",
    "TRACE_ID",
    "JsonFormatter",
    "configure_logging",
    "mask_email",
    "scrub",
]

# Set by the access-log middleware (portal_kit.access_log) for the duration of a request.
TRACE_ID: ContextVar[str | None] = ContextVar("trace_id", default=None)
# The correlation id of the event being handled (portal_kit.tracing.handling_event): events
# it causes carry it on.
CORRELATION_ID: ContextVar[str | None] = ContextVar("correlation_id", default=None)
# The id of the event being handled: every log line a consumer writes for it names it.
EVENT_ID: ContextVar[str | None] = ContextVar("event_id", default=None)

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# uvicorn's copy of its message with terminal colours: noise in a JSON line.
_DROPPED = {"color_message"}


def _message(record: logging.LogRecord) -> str:
    """The message formatted from redacted arguments (so that a secret passed under a key
    name is caught), then scrubbed as a whole."""
    if not record.args:
        # `log.info(some_dict)`: walked, so that its secret-named keys are redacted too.
        return scrub(str(redact(record.msg)) if isinstance(record.msg, dict) else str(record.msg))
    args = record.args
    redacted = redact(args) if isinstance(args, dict) else tuple(redact(list(args)))  # type: ignore[arg-type]
    try:
        return scrub(str(record.msg) % redacted)
    except (TypeError, ValueError, KeyError):
        # A format such as `%d` given an argument redaction turned into text.
        return scrub(record.getMessage())


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": _message(record),
        }
        trace_id = TRACE_ID.get()
        if trace_id is not None:
            entry["trace_id"] = trace_id
        correlation_id = CORRELATION_ID.get()
        if correlation_id is not None:
            entry["correlation_id"] = correlation_id
        event_id = EVENT_ID.get()
        if event_id is not None:
            entry["event_id"] = event_id
        for key, value in vars(record).items():
            if key in _RESERVED or key in _DROPPED or key.startswith("_"):
                continue
            entry[key] = REDACTED if is_secret_key(key) and value is not None else redact(value)
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "botocore", "pymongo", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
