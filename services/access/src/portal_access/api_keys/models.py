"""An admin API key as stored (never the key itself) and the caller it authenticates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Principal:
    """Who calls the admin API: always exactly one tenant."""

    tenant_id: str
    actor: str


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    tenant_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    key_hash: str | None = None
