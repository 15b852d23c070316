"""Suppression list use cases with an in-memory store: typed errors, normalisation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_kit.errors import InvalidValueError, NotFoundError
from portal_notifier.errors import InvalidDurationError, NotAnEmailError, NotSuppressedError
from portal_notifier.suppressions.service import SuppressionService
from tests.notifier.fakes import T0, Clock, FakeSuppressionStore


async def test_an_address_is_suppressed_once_whatever_its_case() -> None:
    service = SuppressionService(FakeSuppressionStore(), Clock())
    assert await service.suppress("Jane@Globex.example", "bounce")
    assert not await service.suppress(" jane@globex.EXAMPLE", "complaint")
    assert await service.is_suppressed("JANE@globex.example")
    [entry] = await service.suppressed()
    assert (entry.address, entry.reason, entry.added_at) == ("jane@globex.example", "bounce", T0)
    await service.unsuppress("jane@GLOBEX.example")
    assert not await service.is_suppressed("jane@globex.example")
    assert await service.suppressed() == []


async def test_errors_are_typed_for_the_one_http_mapping() -> None:
    service = SuppressionService(FakeSuppressionStore(), Clock())
    with pytest.raises(NotAnEmailError) as invalid:
        await service.suppress("not-an-address", "manual")
    assert isinstance(invalid.value, InvalidValueError)
    assert invalid.value.body() == {
        "error": "not_an_email",
        "message": "not an email address: 'not-an-address'",
    }
    with pytest.raises(NotSuppressedError) as missing:
        await service.unsuppress("jane@globex.example")
    assert isinstance(missing.value, NotFoundError)
    assert missing.value.status == 404
    # The message names the address masked: it may reach logs.
    assert missing.value.message == "j***@globex.example is not on the suppression list"


async def test_a_suppression_with_days_lapses_by_itself_stored_or_not() -> None:
    """MongoDB's TTL monitor removes it eventually (the local stand-in never does): the
    check in code decides, so an expired entry that is still stored suppresses nothing."""
    clock = Clock()
    store = FakeSuppressionStore()
    service = SuppressionService(store, clock)
    assert await service.suppress("jane@globex.example", "soft bounce", days=2)
    [entry] = await service.suppressed()
    assert entry.expires_at == T0 + timedelta(days=2)
    clock.advance(2 * 86400 - 1)
    assert await service.is_suppressed("jane@globex.example")
    clock.advance(1)
    assert "jane@globex.example" in store.entries_by_address  # still stored
    assert not await service.is_suppressed("jane@globex.example")
    assert await service.suppressed() == []
    # An expired entry is replaced, not kept with its old reason.
    assert await service.suppress("jane@globex.example", "bounce")
    assert await service.is_suppressed("jane@globex.example")
    with pytest.raises(InvalidDurationError):
        await service.suppress("jane@globex.example", "bounce", days=0)
