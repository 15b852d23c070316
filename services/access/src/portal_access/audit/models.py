"""An audit line: the action, who did it, when, and a small detail map."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

AuditDetail = dict[str, str | int | None]


@dataclass(frozen=True)
class AuditEntry:
    tenant_id: str
    bill_group_id: str
    actor: str
    action: str
    at: datetime
    detail: AuditDetail = field(default_factory=dict)
