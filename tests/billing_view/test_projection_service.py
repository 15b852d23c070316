"""The projector under the kit's consumer policy, over in-memory repositories.

Invalid records are dead-lettered at once; a batch that keeps failing while the database is
healthy is applied one by one and only the culprit is parked; an outage holds the batch
and parks nothing; customer changes and verdicts reach the changes."""

from typing import Any

import pytest

from billing_simulator.stream import ordered_history
from billing_view.changes.service import ChangeService
from billing_view.errors import InvalidEventError
from billing_view.projection.domain import state_write
from billing_view.projection.service import INVALID, Projector
from portal_contracts import portal
from portal_contracts.codec import ContractError, make_event
from portal_kit.consumer import Backoff, ConsumerPolicy
from portal_kit.deadletter import SourceRecord
from tests.billing_view.fakes import InMemoryBilling, InMemoryChanges, InMemoryStates
from tests.billing_view.support import Parked, records


class Health:
    def __init__(self) -> None:
        self.answers: list[bool] = []

    async def __call__(self) -> bool:
        return self.answers.pop(0) if self.answers else True


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
def parked() -> Parked:
    return Parked()


@pytest.fixture
def health() -> Health:
    return Health()


@pytest.fixture
def states() -> InMemoryStates:
    return InMemoryStates()


@pytest.fixture
def changes() -> InMemoryChanges:
    return InMemoryChanges()


@pytest.fixture
def projector(
    parked: Parked, health: Health, states: InMemoryStates, changes: InMemoryChanges
) -> Projector:
    policy = ConsumerPolicy(
        group="test",
        dead_letter=parked,
        healthy=health,
        invalid=INVALID,
        max_attempts=3,
        backoff=Backoff(base_seconds=0.001),
        sleep=no_sleep,
    )
    return Projector(states, ChangeService(changes, InMemoryBilling(changes=changes)), policy)


def history(n: int = 30) -> list[Any]:
    return ordered_history(n, 3, seed=1, tenant="t1")


async def test_a_batch_applies_the_newest_version_of_every_document(
    projector: Projector, states: InMemoryStates, parked: Parked
) -> None:
    events = history()
    await projector.handle_batch(records(events))
    newest: dict[tuple[str, str, str], int] = {}
    for e in events:
        key = state_write(e).key
        newest[key] = max(newest.get(key, 0), e.aggregate_version)
    assert states.versions == newest
    assert not parked
    assert states.batch_calls == 1


async def test_invalid_records_are_parked_at_once_and_the_rest_applied(
    projector: Projector, states: InMemoryStates, parked: Parked
) -> None:
    good = history(5)
    batch = records(good)
    broken = SourceRecord("t", 0, 99, b"k", b"{not json")
    inconsistent = records([good[0].model_copy(update={"aggregate_id": "someone_else"})])[0]
    await projector.handle_batch([broken, *batch, inconsistent])
    assert [type(e) for _, e in parked] == [ContractError, InvalidEventError]
    assert [r.offset for r, _ in parked] == [99, 0]
    assert states.versions


async def test_a_poison_document_is_isolated_while_the_database_is_healthy(
    projector: Projector, states: InMemoryStates, parked: Parked
) -> None:
    events = history(10)
    culprit = state_write(events[3]).key
    states.poison = {culprit}
    await projector.handle_batch(records(events))
    parked_ids = {state_write(events[r.offset or 0]).key for r, _ in parked}
    assert parked_ids == {culprit}
    assert all(isinstance(e, RuntimeError) for _, e in parked)
    stored = set(states.versions)
    assert culprit not in stored
    assert stored == {state_write(e).key for e in events} - {culprit}


async def test_an_outage_holds_the_batch_and_parks_nothing(
    projector: Projector, states: InMemoryStates, parked: Parked, health: Health
) -> None:
    states.failures = [RuntimeError("db away")] * 5
    health.answers = [False] * 5
    await projector.handle_batch(records(history(10)))
    assert not parked
    assert states.versions
    assert states.batch_calls == 6


async def test_changes_and_verdicts_reach_the_changes(
    projector: Projector, changes: InMemoryChanges, parked: Parked
) -> None:
    request = portal.BillingProfileChangeRequested(
        change_id="c1",
        bill_group_id="bg_1",
        actor_email="a@x.example",
        billing_profile={"po_number": "PO-1"},
    )
    signin = portal.PortalEnabled(bill_group_id="bg_1", actor="ops")
    await projector.handle_batch(
        records(
            [
                make_event(request, tenant_id="t1", aggregate_id="bg_1"),
                make_event(signin, tenant_id="t1", aggregate_id="bg_1"),
            ]
        )
    )
    assert changes.docs[("t1", "c1")]["kind"] == "billing_profile"
    [(_, error)] = parked
    assert "does not consume" in str(error)
