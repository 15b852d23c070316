"""Pure rules of the billing summary: outstanding balance, card expiry, auto-pay, cursor."""

import random
from dataclasses import dataclass
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_view.queries import domain
from billing_view.queries.domain import Balance, InvalidCursorError, InvoiceCursor
from portal_contracts import billing

STATUSES = [s.value for s in billing.InvoiceStatus]


@dataclass(frozen=True)
class Invoice:
    status: str
    currency: str
    amount_due_minor: int


@dataclass(frozen=True)
class Method:
    payment_method_id: str = "pm_1"
    status: str = "active"
    exp_month: int | None = 4
    exp_year: int | None = 2030


@dataclass(frozen=True)
class BillGroup:
    auto_pay: bool = True
    default_payment_method_id: str | None = "pm_1"


invoices_st = st.lists(
    st.builds(
        Invoice,
        status=st.sampled_from(STATUSES),
        currency=st.sampled_from(["EUR", "USD", "GBP", "JPY"]),
        amount_due_minor=st.integers(min_value=0, max_value=10**12),
    ),
    max_size=40,
)


@given(invoices_st)
def test_outstanding_sums_open_and_overdue_per_currency(invoices: list[Invoice]) -> None:
    result = domain.outstanding(invoices)
    expected: dict[str, int] = {}
    for inv in invoices:
        if inv.status in ("open", "overdue"):
            expected[inv.currency] = expected.get(inv.currency, 0) + inv.amount_due_minor
    assert {r.currency: r.amount_minor for r in result} == expected
    assert [r.currency for r in result] == sorted(expected)


@given(invoices_st, st.randoms())
def test_outstanding_does_not_depend_on_order(invoices: list[Invoice], rnd: random.Random) -> None:
    shuffled = list(invoices)
    rnd.shuffle(shuffled)
    assert domain.outstanding(shuffled) == domain.outstanding(invoices)


def test_outstanding_excludes_draft_paid_and_void() -> None:
    invoices = [Invoice(s, "EUR", 100) for s in ("draft", "paid", "void", "open", "overdue")]
    assert domain.outstanding(invoices) == [Balance("EUR", 200)]


months = st.integers(min_value=1, max_value=12)
years = st.integers(min_value=2000, max_value=2100)


@given(months, years, st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_card_is_valid_through_its_expiry_month(month: int, year: int, today: date) -> None:
    card = Method(exp_month=month, exp_year=year)
    assert domain.is_expired(card, today) == ((year, month) < (today.year, today.month))


def test_expiry_edges() -> None:
    card = Method(exp_month=11, exp_year=2026)
    assert not domain.is_expired(card, date(2026, 11, 30))
    assert domain.is_expired(card, date(2026, 12, 1))
    assert not domain.is_expired(Method(exp_month=None, exp_year=None), date(2099, 1, 1))


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
    bill_group = BillGroup(auto_pay, "pm_1" if has_default else None)
    month, year = exp if exp else (None, None)
    methods = [Method("pm_1" if exists else "pm_other", status, month, year)]
    expired = exp is not None and (exp[1], exp[0]) < (today.year, today.month)
    expected = auto_pay and has_default and exists and status == "active" and not expired
    assert domain.auto_pay_active(bill_group, methods, today) is expected


def test_the_summary_shows_the_default_only_while_it_is_active() -> None:
    active, removed = Method("pm_1"), Method("pm_1", status="removed")
    assert domain.shown_default(BillGroup(), [Method("pm_0"), active]) is active
    assert domain.shown_default(BillGroup(), [removed]) is None
    assert domain.shown_default(BillGroup(default_payment_method_id=None), [active]) is None
    # An expired default is still shown (flagged expired); auto-pay is then off.
    expired = Method("pm_1", exp_month=1, exp_year=2020)
    assert domain.shown_default(BillGroup(), [expired]) is expired
    assert not domain.auto_pay_active(BillGroup(), [expired], date(2026, 1, 1))


def test_removed_payment_methods_are_not_listed() -> None:
    assert domain.is_listed(Method(status="active"))
    assert not domain.is_listed(Method(status="removed"))


def test_unknown_statuses_are_named() -> None:
    assert domain.unknown_statuses(["open", "overdue"]) == []
    assert domain.unknown_statuses(["open", "x", "draft", "y"]) == ["x", "y"]


@given(st.text(max_size=30), st.text(max_size=30), st.text(max_size=30))
def test_cursor_round_trips(issue_date: str, number: str, invoice_id: str) -> None:
    cursor = InvoiceCursor(issue_date, number, invoice_id)
    assert InvoiceCursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("text", ["", "not-base64!!", "W10", "eyJhIjoxfQ"])
def test_foreign_cursor_is_refused(text: str) -> None:
    with pytest.raises(InvalidCursorError):
        InvoiceCursor.decode(text)
