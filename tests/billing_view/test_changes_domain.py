"""Pure rules of customer changes: kinds, what they replace, when upstream has caught up."""

from typing import Any

import pytest
from pydantic import BaseModel

from billing_view.changes import domain
from billing_view.changes.models import (
    AddedPaymentMethod,
    ChangeRecord,
    ChangeValue,
    PaymentMethodRef,
)
from billing_view.errors import InvalidEventError
from portal_contracts import billing, portal
from portal_contracts.codec import make_event
from portal_contracts.envelope import Envelope

BASE = {"change_id": "c1", "bill_group_id": "bg_1", "actor_email": "a@x.example"}


def _change(kind_model: type[BaseModel], **kw: Any) -> Envelope[Any]:
    return make_event(kind_model(**kw), tenant_id="t1", aggregate_id=kw["bill_group_id"])


def _bill_group(**kw: Any) -> billing.BillGroupState:
    fields: dict[str, Any] = {
        "bill_group_id": "bg_1",
        "account_id": "acc_1",
        "account_name": "Acme",
        "entity_id": "ent_1",
        "name": "Acme main",
        "currency": "EUR",
        "contract_status": "active",
        "billing_frequency": "monthly",
        "auto_pay": False,
    }
    return billing.BillGroupState.model_validate({**fields, **kw})


def _record(kind: Any, after: ChangeValue, status: Any = "pending") -> ChangeRecord:
    return ChangeRecord(
        tenant_id="t1",
        bill_group_id="bg_1",
        change_id="c1",
        kind=kind,
        actor_email="a@x.example",
        after=after,
        status=status,
        requested_at="2026-11-24T10:00:00+00:00",
    )


def test_change_request_kinds_and_no_vault_token() -> None:
    added = domain.change_request(
        _change(
            portal.PaymentMethodAddRequested,
            **BASE,
            payment_method_id="pm_9",
            vault_token="tok_secret_123456",
            type="card",
            brand="Visa",
            last4="4242",
        )
    )
    assert added.kind == "payment_method_added"
    assert isinstance(added.after, AddedPaymentMethod)
    assert "vault_token" not in added.after.model_dump()
    contact = domain.change_request(
        _change(portal.ContactChangeRequested, **BASE, role="shipping", contact={"name": "Dock"})
    )
    assert contact.kind == "shipping_contact"
    assert isinstance(contact.after, billing.Contact)
    assert contact.after.name == "Dock"
    default = domain.change_request(
        _change(portal.DefaultPaymentMethodChangeRequested, **BASE, payment_method_id="pm_2")
    )
    assert default.after == PaymentMethodRef(payment_method_id="pm_2")


def test_a_change_must_name_its_bill_group_as_aggregate() -> None:
    event = _change(portal.DefaultPaymentMethodChangeRequested, **BASE, payment_method_id="pm_2")
    with pytest.raises(InvalidEventError, match="aggregate_id"):
        domain.change_request(event.model_copy(update={"aggregate_id": "bg_other"}))


def test_before_is_what_the_read_model_holds() -> None:
    bill_group = _bill_group(
        billing_profile={"po_number": "PO-1"},
        billing_contact={"name": "AP"},
        default_payment_method_id="pm_1",
    )
    assert domain.before_value("billing_profile", bill_group) == billing.BillingProfile(
        po_number="PO-1"
    )
    assert domain.before_value("billing_contact", bill_group) == billing.Contact(name="AP")
    assert domain.before_value("shipping_contact", bill_group) is None
    assert domain.before_value("default_payment_method", bill_group) == PaymentMethodRef(
        payment_method_id="pm_1"
    )
    assert domain.before_value("payment_method_added", bill_group) is None
    assert domain.before_value("billing_profile", None) is None


def test_change_settles_when_upstream_catches_up() -> None:
    change = _record("default_payment_method", PaymentMethodRef(payment_method_id="pm_2"))
    assert (
        domain.activity_status(change, _bill_group(default_payment_method_id="pm_1"), [])
        == "pending"
    )
    assert (
        domain.activity_status(change, _bill_group(default_payment_method_id="pm_2"), [])
        == "accepted"
    )
    profile = _record("billing_profile", billing.BillingProfile(po_number="PO-1"))
    caught_up = _bill_group(billing_profile={"po_number": "PO-1"})
    assert domain.activity_status(profile, caught_up, []) == "accepted"
    assert domain.activity_status(profile, None, []) == "pending"
    rejected = _record(
        "default_payment_method", PaymentMethodRef(payment_method_id="pm_2"), "rejected"
    )
    assert (
        domain.activity_status(rejected, _bill_group(default_payment_method_id="pm_2"), [])
        == "rejected"
    )
    added = _record(
        "payment_method_added",
        AddedPaymentMethod(payment_method_id="pm_9", type="card", brand="Visa", last4="4242"),
    )
    assert domain.activity_status(added, _bill_group(), ["pm_9"]) == "accepted"
    assert domain.activity_status(added, _bill_group(), ["pm_1"]) == "pending"


def test_a_contact_is_caught_up_regardless_of_unset_fields() -> None:
    asked = billing.Contact(name="Dock", email=None, phone="1")
    shown = _bill_group(shipping_contact={"name": "Dock", "phone": "1"})
    assert domain.caught_up("shipping_contact", asked, shown, [])
    assert not domain.caught_up("billing_contact", asked, shown, [])


def test_stored_values_read_back_as_their_own_type() -> None:
    """`before`/`after` round-trip through the document as the type they were written as."""
    values: list[ChangeValue] = [
        billing.BillingProfile(po_number="PO-1"),
        billing.Contact(name="AP", address={"line1": "1 Road", "city": "Paris", "country": "FR"}),
        PaymentMethodRef(payment_method_id=None),
        AddedPaymentMethod(payment_method_id="pm_9", type="card", brand="Visa", last4="4242"),
    ]
    for value in values:
        stored = _record("billing_profile", value).model_dump(mode="json")
        assert type(ChangeRecord.model_validate(stored).after) is type(value)
