"""Pure rules of the projection: documents keyed by tenant (escaped), version-gated upserts,
newest wins."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_view import db
from billing_view.errors import InvalidEventError
from billing_view.projection import domain, writes
from billing_view.projection.domain import StateWrite
from portal_contracts import billing
from portal_contracts.codec import make_event
from portal_contracts.envelope import Envelope
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType


def _invoice_event(version: int | None = 3, aggregate_id: str = "inv_1") -> Envelope[Any]:
    invoice = billing.InvoiceState.model_validate(EXAMPLES[(EventType.INVOICE_STATE, 1)])
    return make_event(invoice, tenant_id="t1", aggregate_id=aggregate_id, aggregate_version=version)


def test_an_invoice_becomes_its_document_and_its_entry_in_the_bill_groups_view() -> None:
    write = domain.state_write(_invoice_event())
    assert write.key == ("invoice", "t1", "inv_1")
    invoice, entry = writes.upserts(write)
    assert invoice.id == "t1|b|bg_1001|i|inv_1"
    # Filtered by `_id` alone; `$max` on a version-first item decides.
    assert invoice.filter == {"_id": invoice.id}
    assert invoice.update["$max"] == {"state": invoice.item}
    assert next(iter(invoice.item)) == "v"
    assert invoice.item["v"] == "00001:3"
    assert json.loads(invoice.item["s"])["number"] == "INV-2026-0001"
    assert "lines" not in json.loads(invoice.item["s"])
    assert entry.id == "t1|b|bg_1001"
    assert entry.path == "inv.kinv_1"
    assert next(iter(entry.item)) == "v"
    assert entry.item["st"] == "open"
    assert entry.item["d"] == "2026-11-01"


@given(st.integers(0, 10**40), st.integers(0, 10**40))
def test_version_keys_sort_like_the_versions(a: int, b: int) -> None:
    assert (db.version_key(a) < db.version_key(b)) == (a < b)


@given(st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_escaped_ids_are_safe_field_names_and_keys(a: str, b: str) -> None:
    name = db.field(a)
    assert "." not in name
    assert not name.startswith("$")
    assert "\x00" not in name
    # Injective: two ids never share a field name, two key pairs never share a key.
    assert (db.field(a) == db.field(b)) == (a == b)
    assert (db.view_id(a, b) == db.view_id(b, a)) == (a == b)
    assert "|" not in db.escape(a)


@given(st.lists(st.integers(0, 30), min_size=1, max_size=20), st.randoms())
def test_in_memory_upserts_keep_the_newest_in_any_order(versions: list[int], rnd: Any) -> None:
    """The gate's semantics (what MongoDB does with the filter): any order, newest wins."""
    invoice = billing.InvoiceState.model_validate(EXAMPLES[(EventType.INVOICE_STATE, 1)])
    events = [
        make_event(invoice, tenant_id="t.$|", aggregate_id="inv_1", aggregate_version=v)
        for v in versions
    ]
    rnd.shuffle(events)
    docs: dict[str, dict[str, Any]] = {}
    for event in events:
        for upsert in writes.upserts(domain.state_write(event)):
            writes.apply_in_memory(docs, upsert)
    held = {d["state"]["v"] for k, d in docs.items() if "|i|" in k}
    assert held == {db.version_key(max(versions))}


def test_state_write_refuses_inconsistent_events() -> None:
    with pytest.raises(InvalidEventError, match="does not match"):
        domain.state_write(_invoice_event(aggregate_id="inv_other"))
    with pytest.raises(InvalidEventError, match="aggregate_version"):
        domain.state_write(_invoice_event(version=None))


def test_only_upstream_state_events_are_state_writes() -> None:
    assert domain.is_state_event(EventType.INVOICE_STATE.value)
    assert not domain.is_state_event(EventType.CHANGE_RESULT.value)


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 20)), max_size=30))
def test_newest_per_document_keeps_the_highest_version(items: list[tuple[str, int]]) -> None:
    state = billing.EntityState(entity_id="e", name="E")
    writes_ = [StateWrite(domain.Kind.ENTITY, "t", key, v, state) for key, v in items]
    newest = {w.aggregate_id: w.version for w in domain.newest_per_item(writes_)}
    expected: dict[str, int] = {}
    for key, v in items:
        expected[key] = max(expected.get(key, -1), v)
    assert newest == expected
