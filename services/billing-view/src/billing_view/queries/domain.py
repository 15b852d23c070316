"""Pure rules of the billing summary and the invoice list: no I/O.

- outstanding balance: the amount due of open and overdue invoices, per currency;
- auto-pay status: on only with auto-pay enabled and a usable default payment method;
- card expiry; the invoice list cursor.
(Draft invoices are upstream's work in progress: they never count towards the balance here;
hiding them from customers is the gateway's rule, `portal_gateway.portal`.)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Protocol, TypeVar

from portal_contracts.billing import InvoiceStatus, PaymentMethodStatus

OPEN_STATUSES = frozenset({InvoiceStatus.OPEN.value, InvoiceStatus.OVERDUE.value})
INVOICE_STATUSES = frozenset(s.value for s in InvoiceStatus)


class AmountDue(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def amount_due_minor(self) -> int: ...


class Expiring(Protocol):
    @property
    def exp_month(self) -> int | None: ...
    @property
    def exp_year(self) -> int | None: ...


class PaymentMethodLike(Expiring, Protocol):
    @property
    def payment_method_id(self) -> str: ...
    @property
    def status(self) -> str: ...


class AutoPaySettings(Protocol):
    @property
    def auto_pay(self) -> bool: ...
    @property
    def default_payment_method_id(self) -> str | None: ...


M = TypeVar("M", bound=PaymentMethodLike)


@dataclass(frozen=True)
class Balance:
    currency: str
    amount_minor: int


def outstanding(invoices: Iterable[AmountDue]) -> list[Balance]:
    """Amount due of open and overdue invoices per currency; draft, paid and void don't count."""
    totals: dict[str, int] = {}
    for invoice in invoices:
        if invoice.status in OPEN_STATUSES:
            totals[invoice.currency] = totals.get(invoice.currency, 0) + invoice.amount_due_minor
    return [Balance(c, totals[c]) for c in sorted(totals)]


def is_expired(payment_method: Expiring, today: date) -> bool:
    """A card is valid through the last day of its expiry month; bank accounts don't expire."""
    month, year = payment_method.exp_month, payment_method.exp_year
    if month is None or year is None:
        return False
    return (year, month) < (today.year, today.month)


def is_active(payment_method: PaymentMethodLike) -> bool:
    return payment_method.status == PaymentMethodStatus.ACTIVE.value


def usable(payment_method: PaymentMethodLike | None, today: date) -> bool:
    return (
        payment_method is not None
        and is_active(payment_method)
        and not is_expired(payment_method, today)
    )


def default_payment_method(bill_group: AutoPaySettings, payment_methods: Iterable[M]) -> M | None:
    default_id = bill_group.default_payment_method_id
    if default_id is None:
        return None
    for method in payment_methods:
        if method.payment_method_id == default_id:
            return method
    return None


def auto_pay_active(
    bill_group: AutoPaySettings, payment_methods: Iterable[PaymentMethodLike], today: date
) -> bool:
    """On only when auto-pay is enabled AND the default method exists, is active, not expired."""
    if not bill_group.auto_pay:
        return False
    return usable(default_payment_method(bill_group, payment_methods), today)


def shown_default(bill_group: AutoPaySettings, payment_methods: Sequence[M]) -> M | None:
    """The summary's default payment method: the default one, while it is active."""
    default = default_payment_method(bill_group, payment_methods)
    return default if default is not None and is_active(default) else None


def is_listed(payment_method: PaymentMethodLike) -> bool:
    """Removed payment methods are history: not listed, and not found by id."""
    return payment_method.status != PaymentMethodStatus.REMOVED.value


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True)
class InvoiceCursor:
    """Position after the last invoice of a page (the list is issue_date, number, id desc)."""

    issue_date: str
    number: str
    invoice_id: str

    def encode(self) -> str:
        raw = json.dumps([self.issue_date, self.number, self.invoice_id]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> InvoiceCursor:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            values = json.loads(raw)
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursorError("cursor is not one this service issued") from exc
        if (
            not isinstance(values, list)
            or len(values) != 3
            or not all(isinstance(v, str) for v in values)
        ):
            raise InvalidCursorError("cursor is not one this service issued")
        return cls(values[0], values[1], values[2])


def unknown_statuses(statuses: Iterable[str]) -> list[str]:
    return [s for s in statuses if s not in INVOICE_STATUSES]
