"""Acceptance: on the real database, any interleaving, duplication or replay of one bill
group's history leaves exactly the read model of in-order delivery."""

import asyncio
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from billing_simulator.scenario import event_for
from billing_simulator.stream import ordered_history
from billing_view.projection.replay import snapshot
from portal_contracts import billing, portal
from portal_localstack.testing import StackHandle
from tests.billing_view.support import projector, records, tenant_view

pytestmark = pytest.mark.integration


def history(tenant: str, seed: int) -> list[Any]:
    events = ordered_history(24, 1, seed=seed, tenant=tenant)
    bg = "bg_0000000"
    changes = [
        portal.BillingProfileChangeRequested(
            change_id="c1",
            bill_group_id=bg,
            actor_email="ap@x.example",
            billing_profile=billing.BillingProfile(po_number="PO-9"),
        ),
        billing.ChangeResult(change_id="c1", bill_group_id=bg, outcome="rejected", reason="no"),
        portal.DefaultPaymentMethodChangeRequested(
            change_id="c2", bill_group_id=bg, actor_email="ap@x.example", payment_method_id="pm_x"
        ),
    ]
    for i, payload in enumerate(changes):
        events.append(
            event_for(payload, tenant_id=tenant, aggregate_id=bg, version=None, seq=900 + i)
        )
    return events


async def _build(uri: str, database: str, seed: int, order: list[int], cuts: list[int]) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    await client.aconnect()
    try:
        db = client[database]
        run = uuid.uuid4().hex[:8]
        reference, shuffled = f"ref{run}", f"mix{run}"
        ref_projector, ref_parked = projector(db)
        for record in records(history(reference, seed)):
            await ref_projector.handle_batch([record])
        mixed = records(history(shuffled, seed))
        delivery = [mixed[i % len(mixed)] for i in order]
        mix_projector, mix_parked = projector(db)
        start = 0
        for cut in [*sorted(set(cuts)), len(delivery)]:
            await mix_projector.handle_batch(delivery[start:cut])
            start = max(start, cut)
        assert not ref_parked
        assert not mix_parked
        whole = await snapshot(db)
        expected = tenant_view(whole, reference)
        # Not a vacuous comparison: the history's state documents are all there.
        assert sum(len(docs) for name, docs in expected.items() if name != "changes") > 0
        assert tenant_view(whole, shuffled) == expected
    finally:
        await client.close()


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[int, list[int], list[int]]:
    seed = draw(st.integers(0, 10_000))
    n = len(history("x", seed))
    # Every event at least once, in any order, plus duplicates and replays of any of them.
    order = draw(st.permutations(list(range(n))))
    extra = draw(st.lists(st.integers(0, n - 1), max_size=n))
    positions = draw(
        st.lists(st.integers(0, n + len(extra)), min_size=len(extra), max_size=len(extra))
    )
    merged = list(order)
    for value, pos in zip(extra, positions, strict=True):
        merged.insert(min(pos, len(merged)), value)
    cuts = draw(st.lists(st.integers(0, len(merged)), max_size=6))
    return seed, merged, cuts


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=deliveries())
def test_any_delivery_order_gives_the_in_order_read_model(
    stack: StackHandle, case: tuple[int, list[int], list[int]]
) -> None:
    seed, order, cuts = case
    asyncio.run(_build(stack.endpoints.mongodb_uri, "bv_property", seed, order, cuts))
