"""Staff links on the wire: `POST /internal/v1/staff-links/redeem`."""

from __future__ import annotations

from pydantic import Field

from portal_access.staff_links.domain import Scope
from portal_access.wire import Body, Reply


class RedeemRequest(Body):
    params: dict[str, str] = Field(max_length=16)
    consume: bool = True


class StaffGrantReply(Reply):
    tenant_id: str
    scope: Scope
    scope_id: str
    staff_email: str
    # ISO 8601 with `+00:00` (as this endpoint has always answered).
    expires_at: str
