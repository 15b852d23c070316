"""Response models of the activity endpoints (and the overview's pending changes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

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


class ChangeKeyIn(BaseModel):
    """The gateway's claim of an idempotency key for a change it is about to publish."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=128)
    fingerprint: str = Field(min_length=1, max_length=128)
    change_id: str = Field(min_length=1, max_length=128)


class ChangeKeySettled(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=128)
    published: bool
