"""The change use cases over in-memory repositories: record, settle in any order, activity."""

from typing import Any

import pytest

from billing_view.changes.models import PaymentMethodRef
from billing_view.changes.service import ChangeService
from billing_view.errors import InvalidEventError, NotFoundError
from portal_contracts import billing, portal
from portal_contracts.codec import make_event
from portal_contracts.envelope import Envelope
from tests.billing_view.fakes import InMemoryBilling
from tests.billing_view.test_queries_service import bill_group, method


def request(change_id: str, pm: str = "pm_2", bg: str = "bg_1") -> Envelope[Any]:
    payload = portal.DefaultPaymentMethodChangeRequested(
        change_id=change_id, bill_group_id=bg, actor_email="a@x.example", payment_method_id=pm
    )
    return make_event(payload, tenant_id="t1", aggregate_id=bg)


def result(change_id: str, outcome: str, reason: str | None = None) -> Envelope[Any]:
    payload = billing.ChangeResult(
        change_id=change_id, bill_group_id="bg_1", outcome=outcome, reason=reason
    )
    return make_event(payload, tenant_id="t1", aggregate_id="bg_1")


@pytest.fixture
def state() -> InMemoryBilling:
    repo = InMemoryBilling()
    repo.add_bill_group("t1", bill_group(default_payment_method_id="pm_1"))
    repo.methods[("t1", "bg_1")] = [method("pm_1"), method("pm_2")]
    return repo


@pytest.fixture
def service(state: InMemoryBilling) -> ChangeService:
    return ChangeService(state.changes, state)


async def test_a_request_shows_pending_with_what_it_replaces(service: ChangeService) -> None:
    await service.record(request("c1"))
    item = await service.change("t1", "bg_1", "c1")
    assert item.status == "pending"
    assert item.before == PaymentMethodRef(payment_method_id="pm_1")
    assert item.after == PaymentMethodRef(payment_method_id="pm_2")


async def test_a_verdict_settles_it_whichever_arrives_first(service: ChangeService) -> None:
    await service.record(request("c1"))
    await service.settle(result("c1", "rejected", "no"))
    await service.settle(result("c2", "accepted"))
    with pytest.raises(NotFoundError, match="no such change"):
        await service.change("t1", "bg_1", "c2")  # the verdict alone is not shown
    await service.record(request("c2"))
    await service.record(request("c1"))  # redelivered: nothing resets
    rejected = await service.change("t1", "bg_1", "c1")
    assert (rejected.status, rejected.reason) == ("rejected", "no")
    assert (await service.change("t1", "bg_1", "c2")).status == "accepted"


async def test_upstream_state_catching_up_reads_accepted(
    service: ChangeService, state: InMemoryBilling
) -> None:
    await service.record(request("c1"))
    state.add_bill_group("t1", bill_group(default_payment_method_id="pm_2"))
    assert (await service.change("t1", "bg_1", "c1")).status == "accepted"


async def test_activity_is_newest_first_and_scoped(service: ChangeService) -> None:
    for change_id in ("c1", "c2", "c3"):
        await service.record(request(change_id))
    page = await service.activity("t1", "bg_1", 2)
    assert [i.change_id for i in page.items] == ["c3", "c2"]
    with pytest.raises(NotFoundError, match="no such bill group"):
        await service.activity("t1", "bg_other", 50)
    with pytest.raises(NotFoundError):
        await service.change("t1", "bg_other", "c1")


async def test_a_change_naming_another_aggregate_is_invalid(service: ChangeService) -> None:
    event = request("c1").model_copy(update={"aggregate_id": "bg_2"})
    with pytest.raises(InvalidEventError):
        await service.record(event)
