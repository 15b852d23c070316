"""The portal's use cases against in-memory fakes of billing-view, Kafka, S3 and the vault."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from portal_contracts.portal import (
    BillingProfileChangeRequested,
    ContactChangeRequested,
    DefaultPaymentMethodChangeRequested,
    PaymentMethodAddRequested,
)
from portal_gateway.errors import (
    FormInvalidError,
    NotFoundError,
    PublishError,
    ReadOnlySessionError,
)
from portal_gateway.portal.domain.change_ids import ChangeIds
from portal_gateway.portal.domain.vault import SandboxVault
from portal_gateway.portal.models import Address, Contact
from portal_gateway.portal.service import INVOICE_STATUSES, PortalService
from tests.gateway.fakes import (
    TODAY,
    FakeBilling,
    FakeDocuments,
    FakePublisher,
    bill_group,
    card,
    invoice,
    session,
)

T = TypeVar("T")
IDS = ChangeIds(b"k" * 32)
CARD = "4111111111111111"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def service(
    billing: FakeBilling | None = None,
    publisher: FakePublisher | None = None,
    documents: FakeDocuments | None = None,
) -> tuple[PortalService, FakeBilling, FakePublisher, FakeDocuments]:
    billing = billing or FakeBilling()
    publisher = publisher if publisher is not None else FakePublisher(billing)
    documents = documents or FakeDocuments()
    portal = PortalService(
        billing, publisher, SandboxVault(), documents, 0.2, keys=billing, change_ids=IDS
    )
    return portal, billing, publisher, documents


def test_billing_profile_change_is_published_as_the_session_and_read_back() -> None:
    portal, _, publisher, _ = service()
    submitted = run(
        portal.change_billing_profile(session(), {"po_number": " PO  7 ", "vat_number": ""})
    )
    [(who, payload)] = publisher.published
    assert isinstance(payload, BillingProfileChangeRequested)
    assert (payload.actor_email, payload.bill_group_id) == ("jane@acme.example", "bg_1")
    assert payload.billing_profile.po_number == "PO 7"
    assert who.bill_group_id == "bg_1"
    # read-your-writes: the fake billing-view shows the change at once
    assert submitted.item is not None
    assert submitted.item.change_id == submitted.change_id
    assert submitted.status == "pending"


def test_vat_number_is_checked_against_the_billing_address_country() -> None:
    contact = Contact(name="A", address=Address(line1="x", city="Berlin", country="DE"))
    portal, _, publisher, _ = service(FakeBilling(group=bill_group(contact)))
    with pytest.raises(FormInvalidError) as refused:
        run(portal.change_billing_profile(session(), {"vat_number": "123"}))
    assert set(refused.value.errors) == {"vat_number"}
    assert refused.value.status == 422
    assert publisher.published == []
    run(portal.change_billing_profile(session(), {"vat_number": "136695976"}))
    payload = publisher.published[0][1]
    assert isinstance(payload, BillingProfileChangeRequested)
    assert payload.billing_profile.vat_number == "136695976"  # valid for DE, as entered


def test_a_preview_session_changes_nothing() -> None:
    portal, _, publisher, _ = service()
    preview = session(read_only=True)
    for attempt in (
        portal.change_billing_profile(preview, {"po_number": "X"}),
        portal.change_contact(preview, "billing", {"name": "X"}),
        portal.change_default_payment_method(preview, "pm_1"),
        portal.add_payment_method(preview, {"type": "card", "number": CARD}),
    ):
        with pytest.raises(ReadOnlySessionError):
            run(attempt)
    assert publisher.published == []


def test_contact_change_names_each_refused_field() -> None:
    portal, _, publisher, _ = service()
    with pytest.raises(FormInvalidError) as refused:
        run(portal.change_contact(session(), "billing", {"email": "nope", "city": "Paris"}))
    assert {"name", "email", "line1", "country"} <= set(refused.value.errors)
    with pytest.raises(FormInvalidError) as wrong_role:
        run(portal.change_contact(session(), "owner", {"name": "A"}))
    assert set(wrong_role.value.errors) == {"role"}
    run(portal.change_contact(session(), "shipping", {"name": "Jo"}))
    payload = publisher.published[0][1]
    assert isinstance(payload, ContactChangeRequested)
    assert (payload.role.value, payload.contact.name) == ("shipping", "Jo")


def test_default_payment_method_of_another_bill_group_is_not_found() -> None:
    billing = FakeBilling(methods=[card("pm_1"), card("pm_old", expired=True)])
    portal, _, publisher, _ = service(billing)
    with pytest.raises(NotFoundError):
        run(portal.change_default_payment_method(session(), "pm_of_someone_else"))
    with pytest.raises(FormInvalidError) as expired:
        run(portal.change_default_payment_method(session(), "pm_old"))
    assert set(expired.value.errors) == {"payment_method_id"}
    run(portal.change_default_payment_method(session(), "pm_1"))
    payload = publisher.published[0][1]
    assert isinstance(payload, DefaultPaymentMethodChangeRequested)
    assert payload.payment_method_id == "pm_1"


def test_new_card_publishes_only_the_vaulted_details() -> None:
    portal, _, publisher, _ = service()
    form = {
        "type": "card",
        "number": CARD,
        "exp_month": "9",
        "exp_year": "32",
        "make_default": "on",
    }
    run(portal.add_payment_method(session(), form, today=TODAY))
    payload = publisher.published[0][1]
    assert isinstance(payload, PaymentMethodAddRequested)
    assert (payload.brand, payload.last4, payload.exp_year) == ("Visa", "1111", 2032)
    assert payload.make_default is True
    assert CARD not in payload.model_dump_json()


def test_declined_card_is_a_form_error_and_nothing_is_published() -> None:
    portal, _, publisher, _ = service()
    form = {"type": "card", "number": "4000000000000002", "exp_month": "9", "exp_year": "2032"}
    with pytest.raises(FormInvalidError) as refused:
        run(portal.add_payment_method(session(), form, today=TODAY))
    assert set(refused.value.errors) == {"number"}
    assert publisher.published == []


def test_unacknowledged_publish_is_an_error_not_a_silent_loss() -> None:
    billing = FakeBilling()
    portal, _, _, _ = service(billing, FakePublisher(billing, fail=True))
    with pytest.raises(PublishError) as failed:
        run(portal.change_billing_profile(session(), {"po_number": "PO-1"}))
    assert failed.value.status == 503
    assert billing.changes == {}


def test_change_billing_view_has_not_seen_yet_reads_as_pending() -> None:
    billing = FakeBilling()
    publisher = FakePublisher(billing=None)  # billing-view never catches up
    portal, _, _, _ = service(billing, publisher)
    submitted = run(portal.change_billing_profile(session(), {"po_number": "PO-1"}))
    assert submitted.item is None
    assert submitted.status == "pending"
    assert run(portal.change_if_visible(session(), submitted.change_id)) is None


def test_invoices_never_show_drafts_and_bound_the_page_size() -> None:
    billing = FakeBilling(invoices_by_id={"i1": invoice("i1"), "d1": invoice("d1", "draft")})
    portal, _, _, _ = service(billing)
    page = run(portal.invoices(session(), "draft", None, limit=1000))
    assert [i.invoice_id for i in page.items] == ["i1"]
    assert billing.invoice_queries == [(",".join(INVOICE_STATUSES), 100, None)]
    with pytest.raises(NotFoundError):
        run(portal.invoice(session(), "d1"))


def test_invoice_pdf_is_looked_up_in_the_bill_group_before_storage() -> None:
    billing = FakeBilling(invoices_by_id={"i1": invoice("i1"), "i2": invoice("i2", document=False)})
    documents = FakeDocuments(files={("docs", "i1.pdf"): b"%PDF-1.7"})
    portal, _, _, _ = service(billing, documents=documents)

    async def download() -> bytes:
        document = await portal.invoice_document(session(), "i1")
        assert document.filename == "a_b_c.pdf"
        return b"".join([chunk async for chunk in document.chunks])

    assert run(download()) == b"%PDF-1.7"
    with pytest.raises(NotFoundError):
        run(portal.invoice_document(session(bill_group_id="bg_other"), "i1"))
    with pytest.raises(NotFoundError):
        run(portal.invoice_document(session(), "i2"))
    assert documents.opened == [("docs", "i1.pdf")]


async def test_a_page_is_one_billing_view_call_with_its_branding() -> None:
    portal, billing, _, _ = service(FakeBilling(methods=[card("pm_1")]))
    page = await portal.page(session(), "billing-details")
    assert billing.pages == ["billing-details"]
    assert page.overview is not None
    assert page.payment_methods == [card("pm_1")]
    assert page.branding.entity is not None
    assert page.branding.entity.name == "Seller GmbH"
    invoices = await portal.invoices_page(session(), "draft", None, 500)
    # Drafts are never asked for; the limit is clamped.
    assert billing.invoice_queries[-1] == ("open,overdue,paid,void", 100, None)
    assert invoices.invoices is not None
    with pytest.raises(NotFoundError):  # neither in billing-view nor minted for this group
        await portal.change_page(session(), "chg/../x")
    assert billing.pages[-1] == "changes/chg%2F..%2Fx"
    minted = IDS.mint("t1", "bg_1", "0123456789abcdef")
    unseen = await portal.change_page(session(), minted)  # published, not consumed yet
    assert unseen.change is None
    with pytest.raises(NotFoundError):
        await portal.change_page(session(bill_group_id="bg_2"), minted)
