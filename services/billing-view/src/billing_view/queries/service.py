"""Use cases of the query API: each reads the read model and answers a typed response.

Every use case is scoped by tenant and bill group; a bill group (or object) that does not
exist in that scope raises `NotFoundError`, a parameter the API cannot answer
`InvalidQueryError`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Protocol

from billing_view.changes.service import ChangeService
from billing_view.errors import InvalidQueryError, not_found
from billing_view.queries import domain
from billing_view.queries.domain import InvalidCursorError, InvoiceCursor
from billing_view.queries.models import (
    BillGroupState,
    EntityState,
    InvoiceListing,
    InvoiceState,
    PaymentMethodState,
    SubscriptionState,
)
from billing_view.queries.schemas import (
    AccountBillGroup,
    AccountBillGroups,
    BillGroupView,
    Branding,
    EntityView,
    InvoicePage,
    OutstandingAmount,
    Overview,
    PaymentMethodList,
    PaymentMethodView,
    SubscriptionList,
    Summary,
)

Today = Callable[[], date]


class QueryRepositoryPort(Protocol):
    """What the use cases need of `QueryRepository` (tests give an in-memory one)."""

    async def bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupState | None: ...
    async def entity(self, tenant_id: str, entity_id: str) -> EntityState | None: ...
    async def subscriptions(
        self, tenant_id: str, bill_group_id: str
    ) -> list[SubscriptionState]: ...
    async def payment_methods(
        self, tenant_id: str, bill_group_id: str
    ) -> list[PaymentMethodState]: ...
    async def payment_method(
        self, tenant_id: str, bill_group_id: str, payment_method_id: str
    ) -> PaymentMethodState | None: ...
    async def invoice(
        self, tenant_id: str, bill_group_id: str, invoice_id: str
    ) -> InvoiceState | None: ...
    async def open_invoices(self, tenant_id: str, bill_group_id: str) -> list[InvoiceListing]: ...
    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        statuses: list[str] | None,
        after: InvoiceCursor | None,
        limit: int,
    ) -> list[InvoiceListing]: ...
    async def account_bill_groups(
        self, tenant_id: str, account_id: str
    ) -> list[BillGroupState]: ...


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
    open_invoices: list[InvoiceListing],
    methods: list[PaymentMethodState],
    today: date,
) -> Summary:
    default = domain.shown_default(bill_group, methods)
    return Summary(
        next_billing_date=bill_group.next_billing_date,
        outstanding=[
            OutstandingAmount(currency=b.currency, amount_minor=b.amount_minor)
            for b in domain.outstanding(open_invoices)
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


class QueryService:
    def __init__(
        self, repository: QueryRepositoryPort, changes: ChangeService, today: Today
    ) -> None:
        self._repo = repository
        self._changes = changes
        self._today = today

    async def _bill_group(self, tenant_id: str, bill_group_id: str) -> BillGroupState:
        bill_group = await self._repo.bill_group(tenant_id, bill_group_id)
        if bill_group is None:
            raise not_found("bill group")
        return bill_group

    async def _entity(self, tenant_id: str, entity_id: str) -> EntityView:
        entity = await self._repo.entity(tenant_id, entity_id)
        if entity is None:
            # Branding may arrive after the bill group: show the id, no name or logo yet.
            return EntityView(entity_id=entity_id, name=None, logo=None)
        return EntityView(entity_id=entity_id, name=entity.name, logo=entity.logo)

    async def overview(self, tenant_id: str, bill_group_id: str) -> Overview:
        bill_group = await self._bill_group(tenant_id, bill_group_id)
        methods = await self._repo.payment_methods(tenant_id, bill_group_id)
        invoices = await self._repo.open_invoices(tenant_id, bill_group_id)
        pending = await self._changes.pending(tenant_id, bill_group, methods)
        return Overview(
            bill_group=BillGroupView(**bill_group.model_dump(exclude={"entity_id"})),
            entity=await self._entity(tenant_id, bill_group.entity_id),
            summary=summary(bill_group, invoices, methods, self._today()),
            pending_changes=pending,
        )

    async def branding(self, tenant_id: str, bill_group_id: str) -> Branding:
        bill_group = await self._bill_group(tenant_id, bill_group_id)
        return Branding(
            entity=await self._entity(tenant_id, bill_group.entity_id),
            bill_group_name=bill_group.name,
            account_name=bill_group.account_name,
        )

    async def subscriptions(self, tenant_id: str, bill_group_id: str) -> SubscriptionList:
        await self._bill_group(tenant_id, bill_group_id)
        return SubscriptionList(items=await self._repo.subscriptions(tenant_id, bill_group_id))

    async def payment_methods(self, tenant_id: str, bill_group_id: str) -> PaymentMethodList:
        bill_group = await self._bill_group(tenant_id, bill_group_id)
        methods = await self._repo.payment_methods(tenant_id, bill_group_id)
        today = self._today()
        return PaymentMethodList(
            items=[
                payment_method_view(m, bill_group, today) for m in methods if domain.is_listed(m)
            ]
        )

    async def payment_method(
        self, tenant_id: str, bill_group_id: str, payment_method_id: str
    ) -> PaymentMethodView:
        bill_group = await self._bill_group(tenant_id, bill_group_id)
        method = await self._repo.payment_method(tenant_id, bill_group_id, payment_method_id)
        if method is None or not domain.is_listed(method):
            raise not_found("payment method")
        return payment_method_view(method, bill_group, self._today())

    async def invoices(
        self,
        tenant_id: str,
        bill_group_id: str,
        status: str | None,
        limit: int,
        cursor: str | None,
    ) -> InvoicePage:
        """Newest first, `limit` per page; `next_cursor` is null on the last page."""
        await self._bill_group(tenant_id, bill_group_id)
        statuses = parse_statuses(status)
        after = parse_cursor(cursor)
        found = await self._repo.invoices(tenant_id, bill_group_id, statuses, after, limit + 1)
        page, more = found[:limit], len(found) > limit
        next_cursor = None
        if more:
            last = page[-1]
            next_cursor = InvoiceCursor(
                last.issue_date.isoformat(), last.number, last.invoice_id
            ).encode()
        return InvoicePage(items=page, next_cursor=next_cursor)

    async def invoice(self, tenant_id: str, bill_group_id: str, invoice_id: str) -> InvoiceState:
        invoice = await self._repo.invoice(tenant_id, bill_group_id, invoice_id)
        if invoice is None:
            raise not_found("invoice")
        return invoice

    async def account_bill_groups(self, tenant_id: str, account_id: str) -> AccountBillGroups:
        return AccountBillGroups(
            items=[
                AccountBillGroup(
                    bill_group_id=b.bill_group_id,
                    name=b.name,
                    contract_status=b.contract_status,
                    currency=b.currency,
                )
                for b in await self._repo.account_bill_groups(tenant_id, account_id)
            ]
        )
