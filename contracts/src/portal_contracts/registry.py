"""Which payload model belongs to which event type and schema version, and on which topic.

Consumers look events up here; an unknown (type, version) is a contract violation that goes
to the dead-letter topic rather than being guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel

from portal_contracts import billing, portal
from portal_contracts.topics import Topic


class EventType(StrEnum):
    ENTITY_STATE = "entity.state"
    BILL_GROUP_STATE = "bill_group.state"
    SUBSCRIPTION_STATE = "subscription.state"
    INVOICE_STATE = "invoice.state"
    PAYMENT_METHOD_STATE = "payment_method.state"
    CHANGE_RESULT = "change.result"
    PORTAL_ENABLED = "portal.enabled"
    PORTAL_DISABLED = "portal.disabled"
    ACCESS_GRANTED = "access.granted"
    ACCESS_REVOKED = "access.revoked"
    PORTAL_LINK_ROTATED = "portal.link_rotated"
    SIGNIN_REQUESTED = "signin.requested"
    SIGNIN_COMPLETED = "signin.completed"
    BILLING_PROFILE_CHANGE_REQUESTED = "customer_change.billing_profile"
    CONTACT_CHANGE_REQUESTED = "customer_change.contact"
    DEFAULT_PAYMENT_METHOD_CHANGE_REQUESTED = "customer_change.default_payment_method"
    PAYMENT_METHOD_ADD_REQUESTED = "customer_change.payment_method_added"
    NOTIFICATION_FAILED = "notification.failed"


@dataclass(frozen=True)
class EventSpec:
    event_type: EventType
    schema_version: int
    model: type[BaseModel]
    topic: Topic
    state_event: bool


_SPECS = (
    EventSpec(EventType.ENTITY_STATE, 1, billing.EntityState, Topic.ENTITIES, True),
    EventSpec(EventType.BILL_GROUP_STATE, 1, billing.BillGroupState, Topic.BILL_GROUPS, True),
    EventSpec(
        EventType.SUBSCRIPTION_STATE, 1, billing.SubscriptionState, Topic.SUBSCRIPTIONS, True
    ),
    EventSpec(EventType.INVOICE_STATE, 1, billing.InvoiceState, Topic.INVOICES, True),
    EventSpec(
        EventType.PAYMENT_METHOD_STATE, 1, billing.PaymentMethodState, Topic.PAYMENT_METHODS, True
    ),
    EventSpec(EventType.CHANGE_RESULT, 1, billing.ChangeResult, Topic.CHANGE_RESULTS, False),
    EventSpec(EventType.PORTAL_ENABLED, 1, portal.PortalEnabled, Topic.PORTAL_ACCESS, False),
    EventSpec(EventType.PORTAL_DISABLED, 1, portal.PortalDisabled, Topic.PORTAL_ACCESS, False),
    EventSpec(EventType.ACCESS_GRANTED, 1, portal.AccessGranted, Topic.PORTAL_ACCESS, False),
    EventSpec(EventType.ACCESS_REVOKED, 1, portal.AccessRevoked, Topic.PORTAL_ACCESS, False),
    EventSpec(
        EventType.PORTAL_LINK_ROTATED, 1, portal.PortalLinkRotated, Topic.PORTAL_ACCESS, False
    ),
    EventSpec(EventType.SIGNIN_REQUESTED, 1, portal.SigninRequested, Topic.PORTAL_SIGNIN, False),
    EventSpec(EventType.SIGNIN_COMPLETED, 1, portal.SigninCompleted, Topic.PORTAL_SIGNIN, False),
    EventSpec(
        EventType.BILLING_PROFILE_CHANGE_REQUESTED,
        1,
        portal.BillingProfileChangeRequested,
        Topic.PORTAL_CUSTOMER_CHANGES,
        False,
    ),
    EventSpec(
        EventType.CONTACT_CHANGE_REQUESTED,
        1,
        portal.ContactChangeRequested,
        Topic.PORTAL_CUSTOMER_CHANGES,
        False,
    ),
    EventSpec(
        EventType.DEFAULT_PAYMENT_METHOD_CHANGE_REQUESTED,
        1,
        portal.DefaultPaymentMethodChangeRequested,
        Topic.PORTAL_CUSTOMER_CHANGES,
        False,
    ),
    EventSpec(
        EventType.PAYMENT_METHOD_ADD_REQUESTED,
        1,
        portal.PaymentMethodAddRequested,
        Topic.PORTAL_CUSTOMER_CHANGES,
        False,
    ),
    EventSpec(
        EventType.NOTIFICATION_FAILED,
        1,
        portal.NotificationFailed,
        Topic.PORTAL_NOTIFICATIONS,
        False,
    ),
)

EVENTS: dict[tuple[str, int], EventSpec] = {
    (s.event_type.value, s.schema_version): s for s in _SPECS
}


def latest(event_type: EventType) -> EventSpec:
    return max((s for s in _SPECS if s.event_type == event_type), key=lambda s: s.schema_version)


def spec_for_model(model: type[BaseModel]) -> EventSpec:
    """The newest spec whose payload is `model`: what producers publish."""
    matches = [s for s in _SPECS if s.model is model]
    if not matches:
        raise LookupError(f"{model.__name__} is not an event payload")
    return max(matches, key=lambda s: s.schema_version)


def all_specs() -> tuple[EventSpec, ...]:
    return _SPECS
