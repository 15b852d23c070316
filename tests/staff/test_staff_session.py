"""The staff session cookie: signed, idle and absolute expiry, scope checks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_gateway.settings import StaffSettings
from portal_gateway.staff.domain import (
    Scope,
    StaffSession,
    decode,
    derive_key,
    encode,
    touched,
)

SECRET = "s" * 40
NOW = 1_800_000_000
IDLE = 30 * 60
MAX = 8 * 3600
SESSION = StaffSession("demo", Scope.BILL_GROUP, "bg_1", "ops@merchant.example", NOW, NOW)


def read(value: str | None, now: int = NOW, secret: str = SECRET) -> StaffSession | None:
    return decode(value, secret, now=now, idle_seconds=IDLE, max_seconds=MAX)


def test_round_trip() -> None:
    assert read(encode(SESSION, SECRET)) == SESSION


def test_the_dev_api_key_mode_round_trips_too() -> None:
    keyed = StaffSession(None, Scope.BILL_GROUP, "bg_1", "api-key", NOW, NOW, "key123")
    assert read(encode(keyed, SECRET)) == keyed


@pytest.mark.parametrize("value", [None, "", "abc", "a.b.c", "..", "x.y"])
def test_garbage_is_no_session(value: str | None) -> None:
    assert read(value) is None


def test_another_secret_is_no_session() -> None:
    assert read(encode(SESSION, SECRET), secret="t" * 40) is None


def test_an_edited_payload_is_no_session() -> None:
    payload, mac = encode(SESSION, SECRET).split(".")
    other, _ = encode(replace(SESSION, scope_id="bg_2"), SECRET).split(".")
    assert read(f"{other}.{mac}") is None
    assert read(f"{payload}.{mac}") == SESSION


@given(position=st.integers(min_value=0, max_value=200), char=st.sampled_from("AbZ09-_."))
def test_no_single_character_change_survives(position: int, char: str) -> None:
    value = encode(SESSION, SECRET)
    position %= len(value)
    if value[position] == char:
        return
    assert read(value[:position] + char + value[position + 1 :]) is None


def test_idle_expiry_and_sliding_renewal() -> None:
    value = encode(SESSION, SECRET)
    assert read(value, now=NOW + IDLE) == SESSION
    assert read(value, now=NOW + IDLE + 1) is None
    renewed = encode(touched(SESSION, NOW + IDLE), SECRET)
    assert read(renewed, now=NOW + 2 * IDLE) is not None


def test_absolute_expiry_even_when_always_active() -> None:
    active = touched(SESSION, NOW + MAX)
    assert read(encode(active, SECRET), now=NOW + MAX) is not None
    assert read(encode(touched(SESSION, NOW + MAX + 1), SECRET), now=NOW + MAX + 1) is None


def test_a_session_from_the_future_is_refused() -> None:
    assert read(encode(touched(SESSION, NOW + 3600), SECRET)) is None


def test_scope_bill_group_allows_only_that_bill_group() -> None:
    assert SESSION.allows_bill_group("bg_1", None)
    assert not SESSION.allows_bill_group("bg_2", "acc_1")
    assert not SESSION.allows_account("acc_1")
    assert SESSION.home == "/staff/bill-groups/bg_1"


def test_scope_account_allows_its_bill_groups_only() -> None:
    account = replace(SESSION, scope=Scope.ACCOUNT, scope_id="acc_1")
    assert account.allows_account("acc_1")
    assert not account.allows_account("acc_2")
    assert account.allows_bill_group("bg_9", "acc_1")
    assert not account.allows_bill_group("bg_9", "acc_2")
    assert not account.allows_bill_group("bg_9", None)
    assert account.home == "/staff/accounts/acc_1"


def test_home_quotes_the_id() -> None:
    assert replace(SESSION, scope_id="a/../b").home == "/staff/bill-groups/a%2F..%2Fb"


def test_the_signing_key_is_derived_not_the_gateway_secret_itself() -> None:
    key = derive_key("c" * 40)
    assert key == derive_key("c" * 40)
    assert key != derive_key("d" * 40)
    assert "c" * 40 not in key
    # A cookie signed under one gateway secret is no session under another.
    assert read(encode(SESSION, key), secret=derive_key("d" * 40)) is None


def test_settings_defaults_and_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STAFF_SESSION_IDLE_MINUTES", raising=False)
    settings = StaffSettings()
    assert (settings.staff_session_idle_minutes, settings.staff_session_max_hours) == (30, 8)
    monkeypatch.setenv("STAFF_SESSION_IDLE_MINUTES", "0")
    with pytest.raises(ValueError, match="staff_session_idle_minutes"):
        StaffSettings()
