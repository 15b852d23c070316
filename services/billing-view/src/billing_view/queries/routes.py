"""HTTP edge of the query API (docs/internal-apis.md, billing-view section).

Every path carries the tenant and the bill group; an object of another bill group or tenant
answers 404 exactly like one that does not exist. Thin: each handler calls one use case.
"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from billing_view.queries.models import InvoiceState
from billing_view.queries.schemas import (
    AccountBillGroups,
    Branding,
    InvoicePage,
    Overview,
    PaymentMethodList,
    PaymentMethodView,
    PortalPage,
    SubscriptionList,
)
from billing_view.queries.service import PageName, QueryService

BILL_GROUP_PATH = "/internal/v1/tenants/{tenant_id:str}/bill-groups/{bill_group_id:str}"
Queries = NamedDependency[QueryService]


class BillGroupController(Controller):
    path = BILL_GROUP_PATH

    @get("/overview")
    async def overview(
        self, queries: Queries, tenant_id: FromPath[str], bill_group_id: FromPath[str]
    ) -> Overview:
        """The bill group, its entity, the billing summary and the pending changes."""
        return await queries.overview(tenant_id, bill_group_id)

    @get("/branding")
    async def branding(
        self, queries: Queries, tenant_id: FromPath[str], bill_group_id: FromPath[str]
    ) -> Branding:
        """Entity name and logo with the bill group's and account's names (sign-in pages)."""
        return await queries.branding(tenant_id, bill_group_id)

    @get("/subscriptions")
    async def subscriptions(
        self, queries: Queries, tenant_id: FromPath[str], bill_group_id: FromPath[str]
    ) -> SubscriptionList:
        return await queries.subscriptions(tenant_id, bill_group_id)

    @get("/payment-methods")
    async def payment_methods(
        self, queries: Queries, tenant_id: FromPath[str], bill_group_id: FromPath[str]
    ) -> PaymentMethodList:
        """Every payment method but the removed ones, flagged default / expired."""
        return await queries.payment_methods(tenant_id, bill_group_id)

    @get("/payment-methods/{payment_method_id:str}")
    async def payment_method(
        self,
        queries: Queries,
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        payment_method_id: FromPath[str],
    ) -> PaymentMethodView:
        return await queries.payment_method(tenant_id, bill_group_id, payment_method_id)

    @get("/invoices")
    async def invoices(
        self,
        queries: Queries,
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        status: Annotated[str | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> InvoicePage:
        """Newest first, without lines; `status` is one status or a comma-separated list."""
        return await queries.invoices(tenant_id, bill_group_id, status, limit, cursor)

    @get("/invoices/{invoice_id:str}")
    async def invoice(
        self,
        queries: Queries,
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        invoice_id: FromPath[str],
    ) -> InvoiceState:
        """The whole invoice, with its lines and document."""
        return await queries.invoice(tenant_id, bill_group_id, invoice_id)


class PageController(Controller):
    """One request per portal page: the branding and everything the page shows."""

    path = f"{BILL_GROUP_PATH}/pages"

    @get("/{page:str}")
    async def page(
        self,
        queries: Queries,
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        page: FromPath[PageName],
        status: Annotated[str | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        cursor: Annotated[str | None, QueryParameter(max_length=512)] = None,
    ) -> PortalPage:
        """`overview`, `billing-details`, `contacts`, `subscriptions`, `payment-methods`,
        `invoices` (with `status`, `limit`, `cursor`), `activity` or `branding`."""
        return await queries.page(
            tenant_id, bill_group_id, page, status=status, limit=limit, cursor=cursor
        )

    @get("/changes/{change_id:str}")
    async def change_page(
        self,
        queries: Queries,
        tenant_id: FromPath[str],
        bill_group_id: FromPath[str],
        change_id: FromPath[str],
    ) -> PortalPage:
        """The branding and one change (`change` is null until its request is consumed)."""
        return await queries.page(tenant_id, bill_group_id, "activity", change_id=change_id)


class AccountController(Controller):
    path = "/internal/v1/tenants/{tenant_id:str}/accounts/{account_id:str}"

    @get("/bill-groups")
    async def bill_groups(
        self, queries: Queries, tenant_id: FromPath[str], account_id: FromPath[str]
    ) -> AccountBillGroups:
        """The account's bill groups (the staff console's account page)."""
        return await queries.account_bill_groups(tenant_id, account_id)
