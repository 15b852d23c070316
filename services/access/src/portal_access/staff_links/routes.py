"""HTTP edge of staff links (internal API, called by the gateway's staff console)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from portal_access.staff_links.schemas import RedeemRequest, StaffGrantReply
from portal_access.staff_links.service import StaffLinkService


class InternalStaffLinks(Controller):
    path = "/internal/v1/staff-links"
    tags = ["internal"]

    @post("/redeem", status_code=200, summary="Check, or check and use up, a signed staff link")
    async def redeem(
        self, staff_links: NamedDependency[StaffLinkService], data: JSONBody[RedeemRequest]
    ) -> StaffGrantReply:
        return await staff_links.redeem(data.params, data.consume)
