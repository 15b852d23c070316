"""How the simulated upstream answers customer changes (pure decision rules)."""

from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel

from billing_simulator import scenario
from billing_simulator.respond import UpstreamState, decide
from portal_contracts import billing, portal
from portal_contracts.codec import make_event
from portal_contracts.envelope import Envelope

TODAY = date(2026, 11, 24)


def _state() -> UpstreamState:
    state = UpstreamState()
    for event in scenario.demo().events:
        state.observe(event)
    return state


def _change(model: type[BaseModel], **fields: Any) -> Envelope[Any]:
    payload = model(
        change_id="c1", bill_group_id="bg_globex", actor_email="a@globex.example", **fields
    )
    return make_event(payload, tenant_id="demo", aggregate_id="bg_globex")


def test_state_keeps_the_newest_version() -> None:
    state = _state()
    assert state.bill_groups[("demo", "bg_globex")].version == 2
    removed = state.payment_methods[("demo", "pm_globex_removed")]
    assert removed.state.status == "removed"


def test_valid_profile_change_gives_the_next_version() -> None:
    profile = billing.BillingProfile(po_number="PO-77", vat_number="DE136695976")
    states, reason = decide(
        _state(), _change(portal.BillingProfileChangeRequested, billing_profile=profile), TODAY
    )
    assert reason is None
    [(new_state, version)] = states
    assert version == 3
    assert isinstance(new_state, billing.BillGroupState)
    assert new_state.billing_profile == profile


@pytest.mark.parametrize(
    ("profile", "reason"),
    [
        (billing.BillingProfile(po_number="please REJECT me"), "PO number"),
        (billing.BillingProfile(vat_number="DE000000000"), "VAT number"),
    ],
)
def test_invalid_profile_changes_are_rejected(profile: billing.BillingProfile, reason: str) -> None:
    states, why = decide(
        _state(), _change(portal.BillingProfileChangeRequested, billing_profile=profile), TODAY
    )
    assert states == []
    assert why is not None
    assert reason in why


@pytest.mark.parametrize(
    ("payment_method_id", "accepted"),
    [
        ("pm_globex_bank", True),
        ("pm_globex_old_mc", False),  # expired card
        ("pm_globex_removed", False),
        ("pm_initech_visa", False),  # another bill group's
        ("pm_nope", False),
    ],
)
def test_default_payment_method_change(payment_method_id: str, accepted: bool) -> None:
    event = _change(portal.DefaultPaymentMethodChangeRequested, payment_method_id=payment_method_id)
    states, reason = decide(_state(), event, TODAY)
    assert (reason is None) is accepted
    if accepted:
        [(new_state, _)] = states
        assert isinstance(new_state, billing.BillGroupState)
        assert new_state.default_payment_method_id == payment_method_id


def test_added_payment_method_can_become_default() -> None:
    event = _change(
        portal.PaymentMethodAddRequested,
        payment_method_id="pm_new",
        vault_token="tok_sandbox_12345678",
        type="card",
        brand="Visa",
        last4="1111",
        exp_month=1,
        exp_year=2031,
        make_default=True,
    )
    states, reason = decide(_state(), event, TODAY)
    assert reason is None
    assert [type(s).__name__ for s, _ in states] == ["PaymentMethodState", "BillGroupState"]
    expired = event.model_copy(
        update={"payload": event.payload.model_copy(update={"exp_year": 2025})}
    )
    assert decide(_state(), expired, TODAY)[1] == "That card has expired."


def test_unknown_bill_group_is_rejected() -> None:
    event = _change(portal.DefaultPaymentMethodChangeRequested, payment_method_id="pm_globex_bank")
    other = event.model_copy(update={"tenant_id": "someone-else"})
    assert decide(_state(), other, TODAY) == ([], "unknown bill group")
