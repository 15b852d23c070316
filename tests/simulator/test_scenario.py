"""The demo scenario and the stream generator: deterministic, complete, contract-valid."""

from collections import Counter
from datetime import date
from typing import Any

from billing_simulator import scenario
from billing_simulator.pdf import text_pdf
from billing_simulator.publish import key_of, topic_of
from billing_simulator.stream import disorder, ordered_history
from portal_contracts import billing
from portal_contracts.codec import decode, encode


def test_demo_is_deterministic() -> None:
    first, second = scenario.demo(), scenario.demo()
    assert [encode(e) for e in first.events] == [encode(e) for e in second.events]
    assert first.summary() == second.summary()


def test_every_event_satisfies_the_contract() -> None:
    for event in scenario.demo().events:
        assert decode(encode(event)) == event


def test_demo_shape() -> None:
    demo = scenario.demo()
    assert demo.tenant_id == "demo"
    assert len(demo.entities) == 2
    assert len(demo.bill_groups) == 5
    assert {bg.contract_status for bg in demo.bill_groups} == {"active", "inactive"}
    assert any(len(bg.expected_outstanding) > 1 for bg in demo.bill_groups)
    assert len({bg.customer_domain for bg in demo.bill_groups}) == 5
    assert all(bg.customer_email.endswith("@" + bg.customer_domain) for bg in demo.bill_groups)
    payloads = [e.payload for e in demo.events]
    entities = [p for p in payloads if isinstance(p, billing.EntityState)]
    assert all(p.logo is not None for p in entities)
    subscription_statuses = {p.status for p in payloads if isinstance(p, billing.SubscriptionState)}
    assert subscription_statuses == set(billing.SubscriptionStatus)
    for bg in demo.bill_groups:
        invoices: dict[str, billing.InvoiceState] = {}
        for event in demo.events:
            payload = event.payload
            if (
                isinstance(payload, billing.InvoiceState)
                and payload.bill_group_id == bg.bill_group_id
            ):
                invoices[event.aggregate_id] = payload
        assert len(invoices) >= 20
        assert {i.status for i in invoices.values()} == set(billing.InvoiceStatus)
        outstanding: Counter[str] = Counter()
        for invoice in invoices.values():
            if invoice.status in ("open", "overdue"):
                outstanding[invoice.currency] += invoice.amount_due_minor
        assert dict(outstanding) == bg.expected_outstanding
    methods = [p for p in payloads if isinstance(p, billing.PaymentMethodState)]
    assert {m.type for m in methods} == set(billing.PaymentMethodType)
    assert any(m.exp_year is not None and m.exp_year < 2026 for m in methods)


def test_documents_are_real_pdfs_matching_their_refs() -> None:
    demo = scenario.demo()
    pdfs = {a.key: a.body for a in demo.assets if a.content_type == "application/pdf"}
    refs = [
        e.payload.document
        for e in demo.events
        if isinstance(e.payload, billing.InvoiceState) and e.payload.document
    ]
    assert refs
    for ref in refs:
        body = pdfs[ref.key]
        assert ref.size_bytes == len(body)
        assert body.startswith(b"%PDF-1.4")
        assert body.rstrip().endswith(b"%%EOF")


def test_pdf_cross_reference_offsets_point_at_objects() -> None:
    body = text_pdf(["Invoice (1)", "Total 10.00 EUR"])
    xref_at = int(body.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert body[xref_at:].startswith(b"xref")
    entries = body[xref_at:].split(b"\n")[3:9]
    for number, entry in enumerate(entries, start=1):
        offset = int(entry[:10])
        assert body[offset:].startswith(f"{number} 0 obj".encode())


def test_new_invoice_is_a_fresh_open_invoice() -> None:
    event, asset = scenario.new_invoice("bg_globex", 900)
    assert event.payload.status == "open"
    assert event.aggregate_version == 1
    assert asset.key == event.payload.document.key
    assert topic_of(event) == "billing.invoices"
    assert key_of(event) == b"bg_globex"


def test_partition_keys_are_bill_groups_or_entities() -> None:
    for event in scenario.demo().events:
        payload: Any = event.payload
        expected = getattr(payload, "bill_group_id", None) or payload.entity_id
        assert key_of(event) == expected.encode()


def test_stream_versions_rise_per_aggregate_and_disorder_keeps_every_event() -> None:
    history = ordered_history(2000, 30, seed=1)
    last: dict[str, int] = {}
    for event in history:
        assert event.aggregate_version == last.get(event.aggregate_id, 0) + 1
        last[event.aggregate_id] = event.aggregate_version
    mixed = disorder(history, duplicates=0.1, reorder=0.1, seed=2)
    assert {e.event_id for e in mixed} == {e.event_id for e in history}
    assert len(mixed) > len(history)
    assert [e.event_id for e in mixed] != [e.event_id for e in history]


def test_demo_dates_are_fixed() -> None:
    invoice = next(e.payload for e in scenario.demo().events if e.type == "invoice.state")
    assert invoice.issue_date == date(2026, 11, 1)
