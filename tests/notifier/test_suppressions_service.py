"""Suppression list use cases with an in-memory store: typed errors, normalisation."""

from __future__ import annotations

import pytest

from portal_kit.errors import InvalidValueError, NotFoundError
from portal_notifier.errors import NotAnEmailError, NotSuppressedError
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
