"""Pure rules of the projection: state documents keyed by tenant, version-first, newest wins."""

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_view.errors import InvalidEventError
from billing_view.projection import domain
from billing_view.projection.domain import StateWrite
from portal_contracts import billing
from portal_contracts.codec import make_event
from portal_contracts.envelope import Envelope
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType


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


def test_only_upstream_state_events_are_state_writes() -> None:
    assert domain.is_state_event(EventType.INVOICE_STATE.value)
    assert not domain.is_state_event(EventType.CHANGE_RESULT.value)


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 20)), max_size=30))
def test_newest_per_document_keeps_the_highest_version(items: list[tuple[str, int]]) -> None:
    writes = [StateWrite("c", key, v, {}, {"version": v}) for key, v in items]
    newest = {w.id: w.version for w in domain.newest_per_document(writes)}
    expected: dict[str, int] = {}
    for key, v in items:
        expected[key] = max(expected.get(key, -1), v)
    assert newest == expected
