"""Idempotency keys of customer changes, against in-memory fakes (issue 14, item 9): a repeat
answers the first change and publishes nothing; a different body with the same key is
refused; a failed publish leaves the key to the retry; change ids are verifiable."""

from __future__ import annotations

from datetime import date

import pytest

from portal_contracts.portal import PaymentMethodAddRequested
from portal_gateway.errors import (
    FormInvalidError,
    IdempotencyKeyReusedError,
    PublishError,
)
from portal_gateway.portal.domain.change_ids import ChangeIds
from portal_gateway.portal.domain.idempotency import fingerprint, parse_key
from portal_gateway.portal.domain.vault import (
    BankAccountDetails,
    CardDetails,
    SandboxVault,
    VaultedMethod,
)
from portal_gateway.portal.service import PortalService
from portal_gateway.portal.submission import idempotency_key
from tests.gateway.fakes import TODAY, FakeBilling, FakeDocuments, FakePublisher, session

IDS = ChangeIds(b"k" * 32)
CARD = {"type": "card", "number": "4242424242424242", "exp_month": "12", "exp_year": "2031"}


class CountingVault(SandboxVault):
    def __init__(self) -> None:
        self.calls = 0

    async def tokenize(
        self, details: CardDetails | BankAccountDetails, today: date
    ) -> VaultedMethod:
        self.calls += 1
        return await super().tokenize(details, today)


def service(
    publisher: FakePublisher | None = None,
) -> tuple[PortalService, FakeBilling, FakePublisher, CountingVault]:
    billing = FakeBilling()
    publisher = publisher if publisher is not None else FakePublisher(billing)
    vault = CountingVault()
    portal = PortalService(
        billing, publisher, vault, FakeDocuments(), 0.1, keys=billing, change_ids=IDS
    )
    return portal, billing, publisher, vault


async def test_a_double_add_card_adds_one_card() -> None:
    portal, _, publisher, vault = service()
    form = {**CARD, "_csrf_token": "a", "idempotency_key": "k1"}
    first = await portal.add_payment_method(session(), form, TODAY, key="k1")
    # The resend carries another CSRF token (not part of the change): still a repeat.
    again = await portal.add_payment_method(session(), {**form, "_csrf_token": "b"}, TODAY, "k1")
    assert again.change_id == first.change_id
    assert len(publisher.published) == 1
    assert vault.calls == 1  # a repeat tokenizes nothing
    payload = publisher.published[0][1]
    assert isinstance(payload, PaymentMethodAddRequested)
    assert payload.payment_method_id == "pm_" + first.change_id.removeprefix("chg_")


async def test_two_billing_profile_submits_publish_one_change() -> None:
    portal, _, publisher, _ = service()
    form = {"po_number": "PO-9"}
    first = await portal.change_billing_profile(session(), form, "key-9")
    second = await portal.change_billing_profile(session(), form, "key-9")
    assert (second.change_id, second.status) == (first.change_id, first.status)
    assert len(publisher.published) == 1
    # Without a key every submit is a change of its own.
    await portal.change_billing_profile(session(), form)
    await portal.change_billing_profile(session(), form)
    assert len(publisher.published) == 3


async def test_the_same_key_with_another_body_is_refused() -> None:
    portal, _, publisher, _ = service()
    await portal.change_billing_profile(session(), {"po_number": "PO-1"}, "key-x")
    with pytest.raises(IdempotencyKeyReusedError) as refused:
        await portal.change_billing_profile(session(), {"po_number": "PO-2"}, "key-x")
    assert refused.value.status == 422
    with pytest.raises(IdempotencyKeyReusedError):  # another operation under the same key
        await portal.change_contact(session(), "billing", {"name": "Jo"}, "key-x")
    assert len(publisher.published) == 1


async def test_a_failed_publish_leaves_the_key_to_the_retry() -> None:
    billing = FakeBilling()
    publisher = FakePublisher(billing, fail=True)
    portal = PortalService(
        billing, publisher, SandboxVault(), FakeDocuments(), 0.1, keys=billing, change_ids=IDS
    )
    with pytest.raises(PublishError):
        await portal.change_billing_profile(session(), {"po_number": "PO-3"}, "key-3")
    publisher.fail = False
    retried = await portal.change_billing_profile(session(), {"po_number": "PO-3"}, "key-3")
    assert [p.model_dump()["change_id"] for _, p in publisher.published] == [retried.change_id]


async def test_a_refused_card_leaves_the_key_to_the_corrected_form() -> None:
    portal, _, publisher, _ = service()
    expired = {**CARD, "exp_year": "2001"}
    with pytest.raises(FormInvalidError):
        await portal.add_payment_method(session(), expired, TODAY, key="key-c")
    assert publisher.published == []
    # The page is shown again with a new key; the same key with the same body may retry.
    with pytest.raises(FormInvalidError):
        await portal.add_payment_method(session(), expired, TODAY, key="key-c")


def test_change_ids_are_bound_to_their_bill_group() -> None:
    change_id = IDS.mint("t1", "bg_1", "00ff00ff00ff00ff")
    assert change_id.startswith("chg_")
    assert len(change_id) == 36
    assert IDS.minted_for("t1", "bg_1", change_id)
    assert not IDS.minted_for("t1", "bg_2", change_id)
    assert not IDS.minted_for("t2", "bg_1", change_id)
    assert not IDS.minted_for("t1", "bg_1", change_id[:-1] + "0")
    assert not ChangeIds(b"other" * 8).minted_for("t1", "bg_1", change_id)
    with pytest.raises(ValueError, match="nonce"):
        IDS.mint("t1", "bg_1", "short")


def test_keys_and_fingerprints() -> None:
    assert parse_key(None) is None
    assert parse_key("") is None
    assert parse_key("3f2b-uuid") == "3f2b-uuid"
    for bad in ("has space", "x" * 129, "é"):
        with pytest.raises(ValueError, match="1 to 128"):
            parse_key(bad)
    with pytest.raises(FormInvalidError) as refused:
        idempotency_key("a b", "idempotency-key")
    assert (refused.value.status, set(refused.value.errors)) == (400, {"idempotency-key"})
    same = fingerprint(b"k", "op", {"a": "1", "_csrf_token": "x", "idempotency_key": "y"})
    assert same == fingerprint(b"k", "op", {"a": "1"})
    assert same != fingerprint(b"k", "op", {"a": "2"})
    assert same != fingerprint(b"k", "other", {"a": "1"})
    assert same != fingerprint(b"j", "op", {"a": "1"})
