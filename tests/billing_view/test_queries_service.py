"""The query use cases over in-memory repositories: scoping, 404s, the summary, paging."""

from datetime import date
from typing import Any

import pytest

from billing_view.changes.service import ChangeService
from billing_view.errors import InvalidQueryError, NotFoundError
from billing_view.queries.models import (
    BillGroupState,
    EntityState,
    InvoiceState,
    PaymentMethodState,
)
from billing_view.queries.service import QueryService
from portal_contracts import portal
from portal_contracts.codec import make_event
from tests.billing_view.fakes import InMemoryBilling, InMemoryChanges

TODAY = date(2026, 11, 24)


def bill_group(bg: str = "bg_1", **kw: Any) -> BillGroupState:
    fields: dict[str, Any] = {
        "bill_group_id": bg,
        "account_id": "acc_1",
        "account_name": "Acme",
        "entity_id": "ent_1",
        "name": f"Acme {bg}",
        "currency": "EUR",
        "contract_status": "active",
        "billing_frequency": "monthly",
        "auto_pay": True,
        "next_billing_date": "2026-12-01",
        "default_payment_method_id": "pm_1",
    }
    return BillGroupState.model_validate({**fields, **kw})


def method(pm: str, bg: str = "bg_1", **kw: Any) -> PaymentMethodState:
    fields: dict[str, Any] = {
        "payment_method_id": pm,
        "bill_group_id": bg,
        "type": "card",
        "brand": "Visa",
        "last4": "4242",
        "exp_month": 4,
        "exp_year": 2030,
    }
    return PaymentMethodState.model_validate({**fields, **kw})


def invoice(n: int, status: str, bg: str = "bg_1", currency: str = "EUR") -> InvoiceState:
    return InvoiceState.model_validate(
        {
            "invoice_id": f"inv_{n:02d}",
            "bill_group_id": bg,
            "number": f"INV-{n:04d}",
            "status": status,
            "issue_date": f"2026-{1 + n % 12:02d}-01",
            "due_date": f"2026-{1 + n % 12:02d}-15",
            "currency": currency,
            "subtotal_minor": 100,
            "tax_minor": 0,
            "total_minor": 100,
            "amount_due_minor": 100 * n,
            "amount_paid_minor": 0,
            "lines": [
                {"description": "x", "quantity": 1, "unit_amount_minor": 1, "amount_minor": 1}
            ],
        }
    )


@pytest.fixture
def billing() -> InMemoryBilling:
    repo = InMemoryBilling()
    repo.add_bill_group("t1", bill_group())
    repo.add_bill_group("t1", bill_group("bg_2", account_id="acc_1", contract_status="inactive"))
    repo.add_bill_group("t2", bill_group())  # another tenant reusing the ids
    repo.entities[("t1", "ent_1")] = EntityState(entity_id="ent_1", name="Acme Billing")
    repo.methods[("t1", "bg_1")] = [
        method("pm_1"),
        method("pm_2", exp_month=1, exp_year=2020),
        method("pm_3", status="removed"),
    ]
    repo.invoice_list[("t1", "bg_1")] = [
        invoice(1, "open"),
        invoice(2, "overdue"),
        invoice(3, "draft"),
        invoice(4, "paid"),
        invoice(5, "open", currency="USD"),
    ]
    return repo


@pytest.fixture
def changes(billing: InMemoryBilling) -> InMemoryChanges:
    return billing.changes


@pytest.fixture
def queries(billing: InMemoryBilling) -> QueryService:
    return QueryService(billing, lambda: TODAY)


async def test_overview_summarises_the_bill_group(queries: QueryService) -> None:
    overview = await queries.overview("t1", "bg_1")
    assert overview.bill_group.bill_group_id == "bg_1"
    assert "entity_id" not in overview.bill_group.model_dump()
    assert overview.entity.name == "Acme Billing"
    summary = overview.summary
    # Drafts and paid invoices do not count; one amount per currency.
    assert [(a.currency, a.amount_minor) for a in summary.outstanding] == [
        ("EUR", 300),
        ("USD", 500),
    ]
    assert summary.auto_pay_active is True
    assert summary.default_payment_method is not None
    assert summary.default_payment_method.is_default is True
    assert overview.pending_changes == []


async def test_an_entity_not_yet_known_shows_its_id_only(queries: QueryService) -> None:
    branding = await queries.branding("t2", "bg_1")
    assert branding.entity.model_dump() == {"entity_id": "ent_1", "name": None, "logo": None}


async def test_auto_pay_is_off_with_an_expired_default(
    billing: InMemoryBilling, queries: QueryService
) -> None:
    billing.add_bill_group("t1", bill_group(default_payment_method_id="pm_2"))
    summary = (await queries.overview("t1", "bg_1")).summary
    assert summary.auto_pay_active is False
    assert summary.default_payment_method is not None
    assert summary.default_payment_method.expired is True


async def test_pending_changes_are_listed_until_upstream_shows_them(
    billing: InMemoryBilling, changes: InMemoryChanges, queries: QueryService
) -> None:
    service = ChangeService(changes, billing)
    request = portal.DefaultPaymentMethodChangeRequested(
        change_id="c1", bill_group_id="bg_1", actor_email="a@x.example", payment_method_id="pm_9"
    )
    await service.record(make_event(request, tenant_id="t1", aggregate_id="bg_1"))
    [pending] = (await queries.overview("t1", "bg_1")).pending_changes
    assert pending.change_id == "c1"
    assert pending.before is not None
    billing.add_bill_group("t1", bill_group(default_payment_method_id="pm_9"))
    assert (await queries.overview("t1", "bg_1")).pending_changes == []


@pytest.mark.parametrize(("tenant", "bg"), [("t1", "bg_x"), ("t3", "bg_1")])
async def test_unknown_bill_groups_are_not_found(
    queries: QueryService, tenant: str, bg: str
) -> None:
    for call in (
        queries.overview(tenant, bg),
        queries.branding(tenant, bg),
        queries.subscriptions(tenant, bg),
        queries.payment_methods(tenant, bg),
        queries.invoices(tenant, bg, None, 20, None),
    ):
        with pytest.raises(NotFoundError, match="no such bill group"):
            await call


async def test_removed_payment_methods_are_neither_listed_nor_found(
    queries: QueryService,
) -> None:
    listed = await queries.payment_methods("t1", "bg_1")
    assert [m.payment_method_id for m in listed.items] == ["pm_1", "pm_2"]
    assert [m.expired for m in listed.items] == [False, True]
    with pytest.raises(NotFoundError, match="no such payment method"):
        await queries.payment_method("t1", "bg_1", "pm_3")
    with pytest.raises(NotFoundError):
        await queries.payment_method("t2", "bg_1", "pm_1")  # another tenant's


async def test_invoices_page_newest_first_with_a_cursor(queries: QueryService) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        page = await queries.invoices("t1", "bg_1", None, 2, cursor)
        seen.extend(i.invoice_id for i in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["inv_05", "inv_04", "inv_03", "inv_02", "inv_01"]
    drafts = await queries.invoices("t1", "bg_1", "draft", 20, None)
    assert [i.invoice_id for i in drafts.items] == ["inv_03"]
    assert "lines" not in drafts.items[0].model_dump()
    assert (await queries.invoice("t1", "bg_1", "inv_03")).lines


async def test_bad_invoice_queries_name_their_parameter(queries: QueryService) -> None:
    with pytest.raises(InvalidQueryError) as status:
        await queries.invoices("t1", "bg_1", "open,nope", 20, None)
    assert status.value.fields == {"status": "unknown invoice status 'nope'"}
    with pytest.raises(InvalidQueryError) as cursor:
        await queries.invoices("t1", "bg_1", None, 20, "garbage")
    assert cursor.value.fields is not None
    assert set(cursor.value.fields) == {"cursor"}
    with pytest.raises(NotFoundError, match="no such invoice"):
        await queries.invoice("t1", "bg_2", "inv_01")


async def test_an_account_lists_its_bill_groups_in_its_tenant(queries: QueryService) -> None:
    listed = await queries.account_bill_groups("t1", "acc_1")
    assert [(b.bill_group_id, b.contract_status) for b in listed.items] == [
        ("bg_1", "active"),
        ("bg_2", "inactive"),
    ]
    assert (await queries.account_bill_groups("t1", "acc_other")).items == []
