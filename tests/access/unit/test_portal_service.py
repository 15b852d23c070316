"""Portal use cases against in-memory repositories: rules, switch, link, projection."""

from __future__ import annotations

import json

import pytest

from portal_access.errors import (
    ConcurrentUpdateError,
    InvalidRuleValueError,
    RuleConflictError,
    SessionInvalidError,
)
from portal_access.portals.service import COMMIT_TRIES
from portal_contracts.billing import BillGroupState
from portal_contracts.examples import EXAMPLES
from portal_contracts.portal import RuleKind
from portal_contracts.registry import EventType
from portal_kit.errors import NotFoundError
from tests.access.unit.conftest import STAFF, World

D, E = RuleKind.DOMAIN, RuleKind.EMAIL


def state(bill_group_id: str, contract_status: str = "active") -> BillGroupState:
    raw = {
        **EXAMPLES[(EventType.BILL_GROUP_STATE, 1)],
        "bill_group_id": bill_group_id,
        "contract_status": contract_status,
    }
    return BillGroupState.model_validate(raw)


async def signed_in(world: World, bill_group_id: str = "bg_1", rule_id: str | None = "r") -> str:
    started = await world.sessions.open(
        tenant_id="demo",
        bill_group_id=bill_group_id,
        email="jane@customer.example",
        rule_id=rule_id,
        read_only=False,
    )
    return started.token


async def test_a_rule_is_stored_normalised_with_its_event_and_audit(world: World) -> None:
    world.portal()
    rule = await world.portals.add_rule(STAFF, "bg_1", D, "  Customer.EXAMPLE ")
    assert (rule.kind, rule.value, rule.created_by) == (D, "customer.example", STAFF.actor)
    assert rule.created_at.endswith("Z")
    [event] = world.portal_repo.outbox
    assert event.type == "access.granted"
    assert event.key == "bg_1"
    assert json.loads(event.body)["payload"]["rule_id"] == rule.id
    assert world.woken.hints[-1].collection == "portals"
    assert world.audit.actions() == ["rule.added"]


async def test_an_overlapping_rule_is_refused_naming_the_covering_rule(world: World) -> None:
    world.portal()
    domain_rule = await world.portals.add_rule(STAFF, "bg_1", D, "customer.example")
    with pytest.raises(RuleConflictError) as caught:
        await world.portals.add_rule(STAFF, "bg_1", E, "Jane@customer.example")
    assert caught.value.status == 409
    assert domain_rule.id in caught.value.message
    assert caught.value.body()["conflicting_rule"]["id"] == domain_rule.id
    assert len(world.portal_repo.outbox) == 1


async def test_a_list_of_addresses_is_refused_as_an_invalid_value(world: World) -> None:
    world.portal()
    with pytest.raises(InvalidRuleValueError) as caught:
        await world.portals.add_rule(STAFF, "bg_1", E, "a@x.com, b@x.com")
    assert (caught.value.status, caught.value.code) == (422, "invalid_value")


async def test_another_tenants_bill_group_is_not_found(world: World) -> None:
    world.portal("bg_other", tenant_id="other")
    with pytest.raises(NotFoundError):
        await world.portals.get(STAFF, "bg_other")
    with pytest.raises(NotFoundError):
        await world.portals.add_rule(STAFF, "bg_other", D, "x.example")


async def test_removing_a_rule_ends_exactly_its_sessions(world: World) -> None:
    world.portal()
    domain_rule = await world.portals.add_rule(STAFF, "bg_1", D, "customer.example")
    email_rule = await world.portals.add_rule(STAFF, "bg_1", E, "solo@else.example")
    by_domain = await signed_in(world, rule_id=domain_rule.id)
    by_email = await signed_in(world, rule_id=email_rule.id)

    await world.portals.remove_rule(STAFF, "bg_1", domain_rule.id)

    assert (await world.sessions.validate(by_email)).email == "jane@customer.example"
    with pytest.raises(SessionInvalidError):
        await world.sessions.validate(by_domain)
    revoked = json.loads(world.portal_repo.outbox[-1].body)
    assert revoked["type"] == "access.revoked"
    assert revoked["payload"]["sessions_ended"] == 1
    assert world.audit.entries[-1].detail["sessions_ended"] == 1
    with pytest.raises(NotFoundError):
        await world.portals.remove_rule(STAFF, "bg_1", domain_rule.id)


async def test_switching_off_ends_sessions_and_an_unchanged_switch_owes_nothing(
    world: World,
) -> None:
    world.portal()
    token = await signed_in(world)
    reply = await world.portals.set_enabled(STAFF, "bg_1", True)
    assert reply.usable is True
    assert world.portal_repo.outbox == []
    reply = await world.portals.set_enabled(STAFF, "bg_1", False)
    assert (reply.usable, reply.reason) == (False, "portal_disabled")
    assert [e.type for e in world.portal_repo.outbox] == ["portal.disabled"]
    assert set(world.session_repo.reasons.values()) == {"portal_disabled"}
    with pytest.raises(SessionInvalidError):
        await world.sessions.validate(token)


async def test_a_lost_race_is_retried_then_reported(world: World) -> None:
    world.portal()
    world.portal_repo.lose_next_commits = 1
    await world.portals.rotate_link(STAFF, "bg_1")
    world.portal_repo.lose_next_commits = COMMIT_TRIES
    with pytest.raises(ConcurrentUpdateError) as caught:
        await world.portals.rotate_link(STAFF, "bg_1")
    assert (caught.value.status, caught.value.code) == (409, "concurrent_update")


async def test_rotating_the_link_changes_the_portal_url(world: World) -> None:
    world.portal()
    before = (await world.portals.get(STAFF, "bg_1")).portal_url
    after = (await world.portals.rotate_link(STAFF, "bg_1")).portal_url
    assert before.startswith("https://portal.example/p/")
    assert after != before
    assert (await world.portals.get(STAFF, "bg_1")).portal_url == after
    assert world.portal_repo.outbox[-1].type == "portal.link_rotated"


async def test_the_projection_applies_newer_states_only(world: World) -> None:
    assert await world.portals.apply_bill_group("demo", 2, state("bg_p")) is True
    assert await world.portals.apply_bill_group("demo", 1, state("bg_p", "inactive")) is False
    view = await world.portals.get(STAFF, "bg_p")
    assert (view.contract_status, view.enabled, view.usable) == ("active", False, False)
    assert view.reason == "portal_disabled"


async def test_a_contract_end_ends_sessions_also_when_redelivered(world: World) -> None:
    await world.portals.apply_bill_group("demo", 1, state("bg_1"))
    first = await signed_in(world)
    assert await world.portals.apply_bill_group("demo", 2, state("bg_1", "inactive"))
    with pytest.raises(SessionInvalidError):
        await world.sessions.validate(first)
    # The same state again (its first delivery failed after the write): sessions that a
    # sign-in racing the write left behind end too.
    second = await signed_in(world)
    assert not await world.portals.apply_bill_group("demo", 2, state("bg_1", "inactive"))
    with pytest.raises(SessionInvalidError):
        await world.sessions.validate(second)
    # An older state does not touch the sessions of today.
    third = await signed_in(world)
    assert not await world.portals.apply_bill_group("demo", 1, state("bg_1", "inactive"))
    assert (await world.sessions.validate(third)).bill_group_id == "bg_1"


async def test_the_gateway_lookups(world: World) -> None:
    world.portal("bg_1")
    world.portal("bg_2", contract_status="cancelled")
    status = await world.portals.status("key-bg_2")
    assert (status.usable, status.reason) == (False, "contract_inactive")
    with pytest.raises(NotFoundError):
        await world.portals.status("nope")
    listing = await world.portals.account_portals("demo", "acc_1")
    assert [i.bill_group_id for i in listing.items] == ["bg_1", "bg_2"]
    assert listing.account_name == "Acme"
    assert (await world.portals.account_portals("demo", "acc_none")).items == []
