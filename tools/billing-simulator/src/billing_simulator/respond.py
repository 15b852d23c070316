"""`respond`: answer customer changes the way the upstream billing system would.

At start the latest bill group and payment method states are rebuilt by reading their topics
from the beginning (so it works as its own process after `seed`); then every
`portal.customer-changes` event gets a newer state event (accepted) or a rejection.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from stdnum.eu import vat

from billing_simulator.publish import Publisher
from billing_simulator.settings import Settings
from portal_contracts import billing, portal
from portal_contracts.codec import ContractError, decode, make_event
from portal_contracts.envelope import Envelope
from portal_contracts.topics import Topic

log = logging.getLogger(__name__)


@dataclass
class Versioned:
    version: int
    state: Any


@dataclass
class UpstreamState:
    """Newest known state per (tenant, aggregate id)."""

    bill_groups: dict[tuple[str, str], Versioned] = field(default_factory=dict)
    payment_methods: dict[tuple[str, str], Versioned] = field(default_factory=dict)

    def observe(self, event: Envelope[Any]) -> None:
        if event.aggregate_version is None:
            return
        if isinstance(event.payload, billing.BillGroupState):
            target = self.bill_groups
        elif isinstance(event.payload, billing.PaymentMethodState):
            target = self.payment_methods
        else:
            return
        key = (event.tenant_id, event.aggregate_id)
        current = target.get(key)
        if current is None or current.version < event.aggregate_version:
            target[key] = Versioned(event.aggregate_version, event.payload)


def _expired(month: int | None, year: int | None, today: date) -> bool:
    return month is not None and year is not None and (year, month) < (today.year, today.month)


def decide(
    state: UpstreamState, event: Envelope[Any], today: date
) -> tuple[list[tuple[billing.BillGroupState | billing.PaymentMethodState, int]], str | None]:
    """New states (with versions) to publish, or a rejection reason. Pure."""
    change = event.payload
    tenant = event.tenant_id
    current = state.bill_groups.get((tenant, change.bill_group_id))
    if current is None:
        return [], "unknown bill group"
    bg: billing.BillGroupState = current.state
    next_version = current.version + 1
    if isinstance(change, portal.BillingProfileChangeRequested):
        profile = change.billing_profile
        if profile.po_number and "REJECT" in profile.po_number.upper():
            return [], "The PO number was refused by the billing system."
        if profile.vat_number and not vat.is_valid(profile.vat_number):
            return [], f"VAT number {profile.vat_number} is not valid."
        return [(bg.model_copy(update={"billing_profile": profile}), next_version)], None
    if isinstance(change, portal.ContactChangeRequested):
        if "REJECT" in change.contact.name.upper():
            return [], "The contact was refused by the billing system."
        field_name = f"{change.role.value}_contact"
        return [(bg.model_copy(update={field_name: change.contact}), next_version)], None
    if isinstance(change, portal.DefaultPaymentMethodChangeRequested):
        method = state.payment_methods.get((tenant, change.payment_method_id))
        if method is None or method.state.bill_group_id != bg.bill_group_id:
            return [], "Unknown payment method."
        pm: billing.PaymentMethodState = method.state
        if pm.status != billing.PaymentMethodStatus.ACTIVE:
            return [], "That payment method has been removed."
        if _expired(pm.exp_month, pm.exp_year, today):
            return [], "That card has expired."
        update = {"default_payment_method_id": pm.payment_method_id}
        return [(bg.model_copy(update=update), next_version)], None
    if isinstance(change, portal.PaymentMethodAddRequested):
        if _expired(change.exp_month, change.exp_year, today):
            return [], "That card has expired."
        existing = state.payment_methods.get((tenant, change.payment_method_id))
        if existing is not None and existing.state.bill_group_id != bg.bill_group_id:
            return [], "Unknown payment method."
        new_pm = billing.PaymentMethodState(
            payment_method_id=change.payment_method_id,
            bill_group_id=bg.bill_group_id,
            type=change.type,
            brand=change.brand,
            last4=change.last4,
            exp_month=change.exp_month,
            exp_year=change.exp_year,
            holder_name=change.holder_name,
        )
        out: list[tuple[billing.BillGroupState | billing.PaymentMethodState, int]] = [
            (new_pm, 1 if existing is None else existing.version + 1)
        ]
        if change.make_default:
            update = {"default_payment_method_id": new_pm.payment_method_id}
            out.append((bg.model_copy(update=update), next_version))
        return out, None
    return [], f"{event.type} is not supported"


async def load_state(settings: Settings) -> UpstreamState:
    """Read the bill group and payment method topics from offset 0 to their current end."""
    state = UpstreamState()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = []
        for topic in (Topic.BILL_GROUPS, Topic.PAYMENT_METHODS):
            name = settings.topic(topic)
            await consumer._client.force_metadata_update()
            for p in consumer.partitions_for_topic(name) or set():
                partitions.append(TopicPartition(name, p))
        if not partitions:
            return state
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining:
            polled = await consumer.getmany(*remaining, timeout_ms=1000, max_records=2000)
            for tp, records in polled.items():
                for record in records:
                    if record.offset < end[tp]:
                        try:
                            state.observe(decode(record.value))
                        except ContractError:
                            continue
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return state


async def respond(settings: Settings, stop: asyncio.Event) -> None:
    state = await load_state(settings)
    log.info("upstream state loaded", extra={"bill_groups": len(state.bill_groups)})
    consumer = AIOKafkaConsumer(
        settings.topic(Topic.PORTAL_CUSTOMER_CHANGES),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.consumer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    async with Publisher(settings) as publisher:
        await consumer.start()
        try:
            while not stop.is_set():
                polled = await consumer.getmany(timeout_ms=500, max_records=100)
                for records in polled.values():
                    for record in records:
                        await _answer(publisher, state, record.value, settings)
                if polled:
                    await consumer.commit()
        finally:
            await consumer.stop()


def _refers_to_unknown(state: UpstreamState, event: Envelope[Any]) -> bool:
    change = event.payload
    if (event.tenant_id, change.bill_group_id) not in state.bill_groups:
        return True
    return isinstance(change, portal.DefaultPaymentMethodChangeRequested) and (
        (event.tenant_id, change.payment_method_id) not in state.payment_methods
    )


async def _catch_up(state: UpstreamState, settings: Settings) -> None:
    """Re-read the state topics: `seed` may have run after this loop started."""
    fresh = await load_state(settings)
    for mine, theirs in (
        (state.bill_groups, fresh.bill_groups),
        (state.payment_methods, fresh.payment_methods),
    ):
        for key, versioned in theirs.items():
            if key not in mine or mine[key].version < versioned.version:
                mine[key] = versioned


async def _answer(
    publisher: Publisher, state: UpstreamState, value: bytes, settings: Settings
) -> None:
    try:
        event = decode(value)
    except ContractError:
        log.warning("ignored a customer change that breaks the contract")
        return
    if not hasattr(event.payload, "change_id"):
        return
    change = event.payload
    if _refers_to_unknown(state, event):
        await _catch_up(state, settings)
    new_states, reason = decide(state, event, datetime.now(UTC).date())
    for new_state, version in new_states:
        aggregate = (
            new_state.bill_group_id
            if isinstance(new_state, billing.BillGroupState)
            else new_state.payment_method_id
        )
        state_event = make_event(
            new_state,
            tenant_id=event.tenant_id,
            aggregate_id=aggregate,
            aggregate_version=version,
            correlation_id=change.change_id,
        )
        await (await publisher.send(state_event))
        state.observe(state_event)
    result = billing.ChangeResult(
        change_id=change.change_id,
        bill_group_id=change.bill_group_id,
        outcome=billing.ChangeOutcome.REJECTED if reason else billing.ChangeOutcome.ACCEPTED,
        reason=reason,
    )
    result_event = make_event(
        result,
        tenant_id=event.tenant_id,
        aggregate_id=change.bill_group_id,
        correlation_id=change.change_id,
    )
    await (await publisher.send(result_event))
    log.info(
        "answered a customer change",
        extra={"change_id": change.change_id, "outcome": result.outcome.value},
    )
