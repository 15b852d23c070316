"""Response models of the activity endpoints (and the overview's pending changes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from billing_view.changes.models import ChangeKind, ChangeStatus, ChangeValue


class ActivityItem(BaseModel):
    """One customer change: what it replaced, what was asked for, and how it stands."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    change_id: str
    kind: ChangeKind
    actor_email: str
    before: ChangeValue | None
    after: ChangeValue | None
    status: ChangeStatus
    reason: str | None
    requested_at: str
    settled_at: str | None


class ActivityPage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    items: list[ActivityItem]
