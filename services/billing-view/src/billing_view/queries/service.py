"""Use cases of the query API: each reads the read model and answers a typed response.

Every use case is scoped by tenant and bill group; a bill group (or object) that does not
exist in that scope raises `NotFoundError`, a parameter the API cannot answer
`InvalidQueryError`. A page (`page`) reads its bill group's portal view once, with the
parts it shows, plus the entity for the branding and, for the invoice list, the page's
invoices: a handful of reads by `_id`, whatever the size of the read model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from datetime import date
from typing import Literal, Protocol

from billing_view.changes import service as changes
from billing_view.changes.schemas import ActivityItem
from billing_view.errors import InvalidQueryError, NotFoundError, not_found
from billing_view.queries import domain
from billing_view.queries.domain import InvalidCursorError, InvoiceCursor
from billing_view.queries.models import (
    AccountBillGroup,
    BillGroupState,
    EntityState,
    InvoiceEntry,
    InvoiceListing,
    InvoiceState,
    Part,
    PaymentMethodState,
    PortalView,
)
from billing_view.queries.schemas import (
    AccountBillGroups,
    BillGroupView,
    Branding,
    EntityView,
    InvoicePage,
    OutstandingAmount,
    Overview,
    PaymentMethodList,
    PaymentMethodView,
    PortalPage,
    SubscriptionList,
    Summary,
)

Today = Callable[[], date]
PageName = Literal[
    "overview",
    "billing-details",
    "contacts",
    "subscriptions",
    "payment-methods",
    "invoices",
    "activity",
    "branding",
]
OVERVIEW_PARTS: tuple[Part, ...] = ("payment_methods", "invoices", "changes")
PAGE_PARTS: dict[str, tuple[Part, ...]] = {
    "overview": OVERVIEW_PARTS,
    "billing-details": OVERVIEW_PARTS,
    "contacts": OVERVIEW_PARTS,
    "subscriptions": ("subscriptions",),
    "payment-methods": ("payment_methods",),
    "invoices": ("invoices",),
    "activity": changes.ACTIVITY_PARTS,
    "branding": (),
}


class QueryRepositoryPort(Protocol):
    """What the use cases need of `QueryRepository` (tests give an in-memory one)."""

    async def view(
        self, tenant_id: str, bill_group_id: str, parts: Iterable[Part] = ()
    ) -> PortalView | None: ...
    async def entity(self, tenant_id: str, entity_id: str) -> EntityState | None: ...
    async def invoice(
        self, tenant_id: str, bill_group_id: str, invoice_id: str
    ) -> InvoiceState | None: ...
    async def invoice_listings(
        self, tenant_id: str, bill_group_id: str, invoice_ids: list[str]
    ) -> list[InvoiceListing]: ...
    async def account_bill_groups(
        self, tenant_id: str, account_id: str
    ) -> list[AccountBillGroup]: ...


def payment_method_view(
    method: PaymentMethodState, bill_group: BillGroupState, today: date
) -> PaymentMethodView:
    return PaymentMethodView(
        **dict(method),
        is_default=method.payment_method_id == bill_group.default_payment_method_id,
        expired=domain.is_expired(method, today),
    )


def summary(
    bill_group: BillGroupState,
    invoices: list[InvoiceEntry],
    methods: list[PaymentMethodState],
    today: date,
) -> Summary:
    default = domain.shown_default(bill_group, methods)
    return Summary(
        next_billing_date=bill_group.next_billing_date,
        outstanding=[
            OutstandingAmount(currency=b.currency, amount_minor=b.amount_minor)
            for b in domain.outstanding(invoices)
        ],
        billing_frequency=bill_group.billing_frequency,
        auto_pay_active=domain.auto_pay_active(bill_group, methods, today),
        default_payment_method=(
            None if default is None else payment_method_view(default, bill_group, today)
        ),
    )


def parse_statuses(status: str | None) -> list[str] | None:
    """`open` or `open,overdue`; an unknown status is refused (400)."""
    if status is None:
        return None
    statuses = status.split(",")
    unknown = domain.unknown_statuses(statuses)
    if unknown:
        raise InvalidQueryError("status", f"unknown invoice status {unknown[0]!r}")
    return statuses


def parse_cursor(cursor: str | None) -> InvoiceCursor | None:
    try:
        return None if cursor is None else InvoiceCursor.decode(cursor)
    except InvalidCursorError as exc:
        raise InvalidQueryError("cursor", str(exc)) from exc


def listed_methods(view: PortalView, today: date) -> list[PaymentMethodView]:
    return [
        payment_method_view(m, view.bill_group, today)
        for m in view.payment_methods
        if domain.is_listed(m)
    ]


class QueryService:
    def __init__(self, repository: QueryRepositoryPort, today: Today) -> None:
        self._repo = repository
        self._today = today

    async def _view(
        self, tenant_id: str, bill_group_id: str, parts: Iterable[Part] = ()
    ) -> PortalView:
        view = await self._repo.view(tenant_id, bill_group_id, parts)
        if view is None:
            raise not_found("bill group")
        return view

    async def _entity(self, tenant_id: str, entity_id: str) -> EntityView:
        entity = await self._repo.entity(tenant_id, entity_id)
        if entity is None:
            # Branding may arrive after the bill group: show the id, no name or logo yet.
            return EntityView(entity_id=entity_id, name=None, logo=None)
        return EntityView(entity_id=entity_id, name=entity.name, logo=entity.logo)

    def _overview(self, view: PortalView, entity: EntityView) -> Overview:
        bill_group = view.bill_group
        return Overview(
            bill_group=BillGroupView(**bill_group.model_dump(exclude={"entity_id"})),
            entity=entity,
            summary=summary(bill_group, view.invoices, view.payment_methods, self._today()),
            pending_changes=changes.pending(view),
        )

    @staticmethod
    def _branding(view: PortalView, entity: EntityView) -> Branding:
        return Branding(
            entity=entity,
            bill_group_name=view.bill_group.name,
            account_name=view.bill_group.account_name,
        )

    async def overview(self, tenant_id: str, bill_group_id: str) -> Overview:
        view = await self._view(tenant_id, bill_group_id, OVERVIEW_PARTS)
        return self._overview(view, await self._entity(tenant_id, view.bill_group.entity_id))

    async def branding(self, tenant_id: str, bill_group_id: str) -> Branding:
        view = await self._view(tenant_id, bill_group_id)
        return self._branding(view, await self._entity(tenant_id, view.bill_group.entity_id))

    async def subscriptions(self, tenant_id: str, bill_group_id: str) -> SubscriptionList:
        view = await self._view(tenant_id, bill_group_id, ("subscriptions",))
        return SubscriptionList(items=view.subscriptions)

    async def payment_methods(self, tenant_id: str, bill_group_id: str) -> PaymentMethodList:
        view = await self._view(tenant_id, bill_group_id, ("payment_methods",))
        return PaymentMethodList(items=listed_methods(view, self._today()))

    async def payment_method(
        self, tenant_id: str, bill_group_id: str, payment_method_id: str
    ) -> PaymentMethodView:
        view = await self._view(tenant_id, bill_group_id, ("payment_methods",))
        for method in view.payment_methods:
            if method.payment_method_id == payment_method_id and domain.is_listed(method):
                return payment_method_view(method, view.bill_group, self._today())
        raise not_found("payment method")

    def _invoice_ids(
        self, view: PortalView, status: str | None, limit: int, cursor: str | None
    ) -> tuple[list[str], str | None]:
        """The page's invoice ids, newest first (issue_date, number, id desc), after the
        cursor, and the next cursor (None on the last page): from the view's index."""
        statuses = parse_statuses(status)
        after = parse_cursor(cursor)
        bound = None if after is None else (after.issue_date, after.number, after.invoice_id)
        entries = sorted(
            (
                e
                for e in view.invoices
                if (statuses is None or e.status in statuses)
                and (bound is None or e.newest_first_key < bound)
            ),
            key=lambda e: e.newest_first_key,
            reverse=True,
        )
        page = entries[:limit]
        next_cursor = None
        if len(entries) > limit:
            last = page[-1]
            next_cursor = InvoiceCursor(last.issue_date, last.number, last.invoice_id).encode()
        return [e.invoice_id for e in page], next_cursor

    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> InvoicePage:
        """Newest first, `limit` per page; `next_cursor` is null on the last page."""
        view = await self._view(tenant_id, bill_group_id, ("invoices",))
        ids, next_cursor = self._invoice_ids(view, status, limit, cursor)
        items = await self._repo.invoice_listings(tenant_id, bill_group_id, ids)
        return InvoicePage(items=items, next_cursor=next_cursor)

    async def invoice(self, tenant_id: str, bill_group_id: str, invoice_id: str) -> InvoiceState:
        invoice = await self._repo.invoice(tenant_id, bill_group_id, invoice_id)
        if invoice is None:
            raise not_found("invoice")
        return invoice

    async def account_bill_groups(self, tenant_id: str, account_id: str) -> AccountBillGroups:
        return AccountBillGroups(items=await self._repo.account_bill_groups(tenant_id, account_id))

    async def page(
        self,
        tenant_id: str,
        bill_group_id: str,
        name: PageName,
        *,
        status: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
        change_id: str | None = None,
    ) -> PortalPage:
        """One portal page's data in one answer: the view (once, with the page's parts),
        the entity and, for the invoice list, the page's invoices (concurrently)."""
        parts = changes.ACTIVITY_PARTS if change_id is not None else PAGE_PARTS[name]
        view = await self._view(tenant_id, bill_group_id, parts)
        entity_read = self._entity(tenant_id, view.bill_group.entity_id)
        page: PortalPage
        if name == "invoices":
            ids, next_cursor = self._invoice_ids(view, status, limit, cursor)
            entity, items = await asyncio.gather(
                entity_read, self._repo.invoice_listings(tenant_id, bill_group_id, ids)
            )
            invoices = InvoicePage(items=items, next_cursor=next_cursor)
            return PortalPage(branding=self._branding(view, entity), invoices=invoices)
        entity = await entity_read
        page = PortalPage(branding=self._branding(view, entity))
        if change_id is not None:
            # Not consumed yet is not an error here: the page shows the change as pending.
            try:
                found: ActivityItem | None = changes.change(view, change_id)
            except NotFoundError:
                found = None
            return page.model_copy(update={"change": found})
        today = self._today()
        if name in ("overview", "billing-details", "contacts"):
            page = page.model_copy(update={"overview": self._overview(view, entity)})
        if name in ("billing-details", "payment-methods"):
            page = page.model_copy(update={"payment_methods": listed_methods(view, today)})
        if name == "subscriptions":
            page = page.model_copy(update={"subscriptions": view.subscriptions})
        if name == "activity":
            page = page.model_copy(update={"activity": changes.activity(view, 50)})
        return page
