"""Pure rules of the read model: summary, auto-pay, state documents, cursor, settlement."""

import random
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from billing_view import domain
from billing_view.domain import InvalidCursorError, InvalidEventError, InvoiceCursor, StateWrite
from portal_contracts import billing, portal
from portal_contracts.codec import make_event
from portal_contracts.envelope import Envelope
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType

STATUSES = [s.value for s in billing.InvoiceStatus]
invoices_st = st.lists(
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(STATUSES),
            "currency": st.sampled_from(["EUR", "USD", "GBP", "JPY"]),
            "amount_due_minor": st.integers(min_value=0, max_value=10**12),
        }
    ),
    max_size=40,
)


@given(invoices_st)
def test_outstanding_sums_open_and_overdue_per_currency(invoices: list[dict[str, Any]]) -> None:
    result = domain.outstanding(invoices)
    expected: dict[str, int] = {}
    for inv in invoices:
        if inv["status"] in ("open", "overdue"):
            expected[inv["currency"]] = expected.get(inv["currency"], 0) + inv["amount_due_minor"]
    assert {r["currency"]: r["amount_minor"] for r in result} == expected
    assert [r["currency"] for r in result] == sorted(expected)


@given(invoices_st, st.randoms())
def test_outstanding_does_not_depend_on_order(
    invoices: list[dict[str, Any]], rnd: random.Random
) -> None:
    shuffled = list(invoices)
    rnd.shuffle(shuffled)
    assert domain.outstanding(shuffled) == domain.outstanding(invoices)


def test_outstanding_excludes_draft_paid_and_void() -> None:
    invoices = [
        {"status": s, "currency": "EUR", "amount_due_minor": 100}
        for s in ("draft", "paid", "void", "open", "overdue")
    ]
    assert domain.outstanding(invoices) == [{"currency": "EUR", "amount_minor": 200}]


months = st.integers(min_value=1, max_value=12)
years = st.integers(min_value=2000, max_value=2100)


@given(months, years, st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_card_is_valid_through_its_expiry_month(month: int, year: int, today: date) -> None:
    card = {"exp_month": month, "exp_year": year}
    assert domain.is_expired(card, today) == ((year, month) < (today.year, today.month))


def test_expiry_edges() -> None:
    card = {"exp_month": 11, "exp_year": 2026}
    assert not domain.is_expired(card, date(2026, 11, 30))
    assert domain.is_expired(card, date(2026, 12, 1))
    assert not domain.is_expired({"exp_month": None, "exp_year": None}, date(2099, 1, 1))


def _method(
    pm_id: str = "pm_1", status: str = "active", exp: tuple[int, int] | None = (4, 2030)
) -> dict[str, Any]:
    return {
        "payment_method_id": pm_id,
        "status": status,
        "exp_month": exp[0] if exp else None,
        "exp_year": exp[1] if exp else None,
    }


@given(
    auto_pay=st.booleans(),
    has_default=st.booleans(),
    exists=st.booleans(),
    status=st.sampled_from(["active", "removed"]),
    exp=st.one_of(st.none(), st.tuples(months, years)),
    today=st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 1, 1)),
)
def test_auto_pay_active_only_with_a_usable_default(
    auto_pay: bool,
    has_default: bool,
    exists: bool,
    status: str,
    exp: tuple[int, int] | None,
    today: date,
) -> None:
    bill_group = {
        "auto_pay": auto_pay,
        "default_payment_method_id": "pm_1" if has_default else None,
    }
    methods = [_method("pm_1", status, exp)] if exists else [_method("pm_other")]
    expired = exp is not None and (exp[1], exp[0]) < (today.year, today.month)
    expected = auto_pay and has_default and exists and status == "active" and not expired
    assert domain.auto_pay_active(bill_group, methods, today) is expected


def test_summary_shape() -> None:
    bill_group = {
        "auto_pay": True,
        "default_payment_method_id": "pm_1",
        "next_billing_date": "2026-12-01",
        "billing_frequency": "monthly",
    }
    result = domain.summary(
        bill_group,
        [{"status": "open", "currency": "EUR", "amount_due_minor": 5}],
        [_method("pm_1")],
        date(2026, 11, 24),
    )
    assert result["outstanding"] == [{"currency": "EUR", "amount_minor": 5}]
    assert result["auto_pay_active"] is True
    assert result["default_payment_method"]["is_default"] is True
    assert result["default_payment_method"]["expired"] is False
    assert result["next_billing_date"] == "2026-12-01"
    removed = domain.summary(bill_group, [], [_method("pm_1", "removed")], date(2026, 1, 1))
    assert removed["default_payment_method"] is None
    assert removed["auto_pay_active"] is False


def _invoice_event(version: int | None = 3, aggregate_id: str = "inv_1") -> Envelope[Any]:
    invoice = billing.InvoiceState.model_validate(EXAMPLES[(EventType.INVOICE_STATE, 1)])
    return make_event(invoice, tenant_id="t1", aggregate_id=aggregate_id, aggregate_version=version)


def test_state_write_keys_by_tenant_and_carries_query_fields() -> None:
    write = domain.state_write(_invoice_event())
    assert write.collection == "invoices"
    assert write.id == "t1|inv_1"
    assert write.version == 3
    assert write.keys == {"tenant_id": "t1", "invoice_id": "inv_1", "bill_group_id": "bg_1001"}
    # `version` first: `$max` on `current` compares it before anything else.
    assert next(iter(write.current)) == "version"
    assert write.current["status"] == "open"
    assert write.current["issue_date"] == "2026-11-01"
    assert write.current["state"]["number"] == "INV-2026-0001"


def test_state_write_refuses_inconsistent_events() -> None:
    with pytest.raises(InvalidEventError, match="does not match"):
        domain.state_write(_invoice_event(aggregate_id="inv_other"))
    with pytest.raises(InvalidEventError, match="aggregate_version"):
        domain.state_write(_invoice_event(version=None))


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 20)), max_size=30))
def test_newest_per_document_keeps_the_highest_version(items: list[tuple[str, int]]) -> None:
    writes = [StateWrite("c", key, v, {}, {"version": v}) for key, v in items]
    newest = {w.id: w.version for w in domain.newest_per_document(writes)}
    expected: dict[str, int] = {}
    for key, v in items:
        expected[key] = max(expected.get(key, -1), v)
    assert newest == expected


@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_cursor_round_trips(issue_date: str, number: str, invoice_id: str) -> None:
    cursor = InvoiceCursor(issue_date, number, invoice_id)
    assert InvoiceCursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("text", ["", "not-base64!!", "W10", "eyJhIjoxfQ"])
def test_foreign_cursor_is_refused(text: str) -> None:
    with pytest.raises(InvalidCursorError):
        InvoiceCursor.decode(text)


def _change(kind_model: type[BaseModel], **kw: Any) -> Envelope[Any]:
    return make_event(kind_model(**kw), tenant_id="t1", aggregate_id=kw["bill_group_id"])


def test_change_request_kinds_and_no_vault_token() -> None:
    base = {"change_id": "c1", "bill_group_id": "bg_1", "actor_email": "a@x.example"}
    added = domain.change_request(
        _change(
            portal.PaymentMethodAddRequested,
            **base,
            payment_method_id="pm_9",
            vault_token="tok_secret_123456",
            type="card",
            brand="Visa",
            last4="4242",
        )
    )
    assert added.kind == "payment_method_added"
    assert "vault_token" not in added.after
    contact = domain.change_request(
        _change(portal.ContactChangeRequested, **base, role="shipping", contact={"name": "Dock"})
    )
    assert contact.kind == "shipping_contact"
    assert contact.after["name"] == "Dock"


def test_change_settles_when_upstream_catches_up() -> None:
    change = {
        "status": "pending",
        "kind": "default_payment_method",
        "after": {"payment_method_id": "pm_2"},
    }
    assert domain.activity_status(change, {"default_payment_method_id": "pm_1"}, []) == "pending"
    assert domain.activity_status(change, {"default_payment_method_id": "pm_2"}, []) == "accepted"
    profile = {
        "status": "pending",
        "kind": "billing_profile",
        "after": {"po_number": "PO-1", "vat_number": None},
    }
    assert (
        domain.activity_status(profile, {"billing_profile": {"po_number": "PO-1"}}, [])
        == "accepted"
    )
    rejected = {**change, "status": "rejected"}
    assert domain.activity_status(rejected, {"default_payment_method_id": "pm_2"}, []) == "rejected"
    added = {
        "status": "pending",
        "kind": "payment_method_added",
        "after": {"payment_method_id": "pm_9"},
    }
    assert domain.activity_status(added, {}, ["pm_9"]) == "accepted"
    assert domain.activity_status(added, {}, ["pm_1"]) == "pending"
