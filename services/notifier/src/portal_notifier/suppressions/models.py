"""The suppression list's typed record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Suppression:
    address: str  # lower-cased: the entry matches whatever case an event uses
    reason: str
    added_at: datetime | None
    expires_at: datetime | None = None  # None: until removed
