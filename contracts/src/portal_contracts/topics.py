"""The topic registry: every Kafka topic the portal reads or writes, and nothing else.

Partition counts are sized for the target load (docs/DESIGN.md, "Scale"): the busiest consumer
group can run one replica per partition at month-end peaks. The local stack creates the same
topics with `local_partitions` so that a laptop does not carry hundreds of partitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Topic(StrEnum):
    ENTITIES = "billing.entities"
    BILL_GROUPS = "billing.bill-groups"
    SUBSCRIPTIONS = "billing.subscriptions"
    INVOICES = "billing.invoices"
    PAYMENT_METHODS = "billing.payment-methods"
    CHANGE_RESULTS = "billing.change-results"
    PORTAL_ACCESS = "portal.access"
    PORTAL_SIGNIN = "portal.signin"
    PORTAL_CUSTOMER_CHANGES = "portal.customer-changes"
    PORTAL_NOTIFICATIONS = "portal.notifications"


class ConsumerGroup(StrEnum):
    BILLING_VIEW = "billing-view"
    ACCESS = "access"
    NOTIFIER = "notifier"
    BILLING_SIMULATOR = "billing-simulator"


def dead_letter_topic(group: ConsumerGroup) -> str:
    """Each consumer group parks what it cannot handle on a topic of its own."""
    return f"dlq.{group.value}"


DAY_MS = 24 * 60 * 60 * 1000
# Kafka's `retention.ms=-1`: kept until deleted. State topics whose records are not keyed by
# the aggregate cannot be compacted, so they keep everything for a projection to replay.
FOREVER = -1


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    local_partitions: int
    retention_ms: int
    key: str
    description: str
    producers: tuple[str, ...] = ()
    consumers: tuple[ConsumerGroup, ...] = field(default_factory=tuple)
    # Compacted state topics let a projection be rebuilt from scratch: the latest state of
    # every aggregate survives, whatever the retention. Only safe where the record key IS the
    # aggregate id; compaction keeps one record per key.
    compacted: bool = False


_UPSTREAM = ("billing-system",)
_STATE_CONSUMERS = (ConsumerGroup.BILLING_VIEW,)
# The notifier keeps its own small branding projection (entity name and logo, bill group
# name) so that a verification email never waits on another service.
_BRANDING_CONSUMERS = (ConsumerGroup.BILLING_VIEW, ConsumerGroup.NOTIFIER)

TOPICS: dict[str, TopicSpec] = {
    spec.name: spec
    for spec in (
        TopicSpec(
            Topic.ENTITIES,
            12,
            2,
            30 * DAY_MS,
            "entity_id",
            "Entity state (name, logo) at a version.",
            _UPSTREAM,
            _BRANDING_CONSUMERS,
            True,
        ),
        TopicSpec(
            Topic.BILL_GROUPS,
            48,
            4,
            30 * DAY_MS,
            "bill_group_id",
            "Bill group state at a version.",
            _UPSTREAM,
            (*_BRANDING_CONSUMERS, ConsumerGroup.ACCESS),
            True,
        ),
        TopicSpec(
            Topic.SUBSCRIPTIONS,
            48,
            4,
            FOREVER,
            "bill_group_id",
            "Subscription state at a version.",
            _UPSTREAM,
            _STATE_CONSUMERS,
            False,  # keyed by bill group: several aggregates per key
        ),
        TopicSpec(
            Topic.INVOICES,
            48,
            4,
            FOREVER,
            "bill_group_id",
            "Invoice state at a version.",
            _UPSTREAM,
            _STATE_CONSUMERS,
            False,  # keyed by bill group: several aggregates per key
        ),
        TopicSpec(
            Topic.PAYMENT_METHODS,
            48,
            4,
            FOREVER,
            "bill_group_id",
            "Payment method state at a version.",
            _UPSTREAM,
            _STATE_CONSUMERS,
            False,  # keyed by bill group: several aggregates per key
        ),
        TopicSpec(
            Topic.CHANGE_RESULTS,
            48,
            4,
            14 * DAY_MS,
            "bill_group_id",
            "Upstream verdict on a customer change.",
            _UPSTREAM,
            _STATE_CONSUMERS,
        ),
        TopicSpec(
            Topic.PORTAL_ACCESS,
            24,
            2,
            14 * DAY_MS,
            "bill_group_id",
            "Portal enabled/disabled, access granted/revoked, link rotated.",
            ("access",),
        ),
        TopicSpec(
            Topic.PORTAL_SIGNIN,
            24,
            2,
            1 * DAY_MS,
            "bill_group_id",
            "Sign-in requested (sealed link and code) and completed.",
            ("access",),
            (ConsumerGroup.NOTIFIER,),
        ),
        TopicSpec(
            Topic.PORTAL_CUSTOMER_CHANGES,
            48,
            4,
            14 * DAY_MS,
            "bill_group_id",
            "Customer edits published by the gateway.",
            ("gateway",),
            (ConsumerGroup.BILLING_VIEW, ConsumerGroup.BILLING_SIMULATOR),
        ),
        TopicSpec(
            Topic.PORTAL_NOTIFICATIONS,
            12,
            2,
            14 * DAY_MS,
            "bill_group_id",
            "Notification failures reported by the notifier.",
            ("notifier",),
        ),
    )
}

for _group in ConsumerGroup:
    _name = dead_letter_topic(_group)
    TOPICS[_name] = TopicSpec(
        _name,
        6,
        1,
        30 * DAY_MS,
        "original key",
        f"Messages the {_group.value} consumer group could not handle, with the error in headers.",
        (_group.value,),
    )
