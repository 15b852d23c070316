"""Structured JSON logs shared by every service, with the redaction rules in one place."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")
# Token-like: 32+ URL-safe characters holding both a letter and a digit, and not a UUID.
# That spares identifiers people need in logs (exception class names, event ids).
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
_LONG_SECRET = re.compile(
    rf"(?<![A-Za-z0-9_-])(?!{_UUID})(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])"
    r"[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])"
)
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")

_RESERVED = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


def mask_email(email: str) -> str:
    """`jane.doe@company.com` → `j***@company.com`: enough to support a user, not to leak."""
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", email)


def scrub(text: str) -> str:
    """Last line of defence for free text: card-like numbers, token-like strings, emails."""
    text = _CARD.sub("[card]", text)
    text = _LONG_SECRET.sub("[secret]", text)
    return mask_email(text)


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
            "msg": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = scrub(value) if isinstance(value, str) else value
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
