"""The sandbox vault: real checks (Luhn, expiry, ABA), and only token/brand/last4/expiry out."""

import asyncio
import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_contracts.billing import PaymentMethodType
from portal_gateway.portal.domain.vault import (
    SANDBOX_DECLINED_CARD,
    BankAccountDetails,
    CardDetails,
    SandboxVault,
    VaultedMethod,
    VaultRejectedError,
    aba_routing_valid,
    card_brand,
    expiry_valid,
    luhn_valid,
)

TODAY = date(2026, 11, 24)


def luhn_complete(prefix: str) -> str:
    """Append the check digit that makes `prefix` Luhn-valid."""
    for digit in "0123456789":
        if luhn_valid(prefix + digit):
            return prefix + digit
    raise AssertionError("no check digit")


@pytest.mark.parametrize(
    "number",
    ["4242424242424242", "5555555555554444", "378282246310005", "6011111111111117", "79927398713"],
)
def test_known_valid_numbers_pass_luhn(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4242424242424241", "1234567812345678", "", "42a2"])
def test_invalid_numbers_fail_luhn(number: str) -> None:
    assert not luhn_valid(number)


@given(st.text(alphabet="0123456789", min_size=11, max_size=18), st.integers(0, 17))
def test_any_single_digit_change_breaks_luhn(prefix: str, position: int) -> None:
    number = luhn_complete(prefix)
    position %= len(number)
    changed = str((int(number[position]) + 1) % 10)
    assert not luhn_valid(number[:position] + changed + number[position + 1 :])


@pytest.mark.parametrize("routing", ["011000015", "021000021", "111000025", "122105155"])
def test_real_routing_numbers_pass_aba(routing: str) -> None:
    assert aba_routing_valid(routing)


@pytest.mark.parametrize("routing", ["011000016", "12345678", "1234567890", "01100001a", ""])
def test_bad_routing_numbers_fail_aba(routing: str) -> None:
    assert not aba_routing_valid(routing)


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_aba_matches_the_weighted_sum(routing: str) -> None:
    weights = [3, 7, 1] * 3
    expected = sum(int(c) * w for c, w in zip(routing, weights, strict=True)) % 10 == 0
    assert aba_routing_valid(routing) is expected


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", "Visa"),
        ("5555555555554444", "Mastercard"),
        ("2223003122003222", "Mastercard"),
        ("378282246310005", "American Express"),
        ("6011111111111117", "Discover"),
        ("3530111333300000", None),
    ],
)
def test_brand_from_iin(number: str, brand: str | None) -> None:
    assert card_brand(number) == brand


@pytest.mark.parametrize(
    ("month", "year", "ok"),
    [(11, 2026, True), (12, 2026, True), (10, 2026, False), (1, 2027, True), (13, 2030, False)],
)
def test_card_is_valid_through_its_expiry_month(month: int, year: int, ok: bool) -> None:
    assert expiry_valid(month, year, TODAY) is ok


def tokenize(details: CardDetails | BankAccountDetails) -> VaultedMethod:
    return asyncio.run(SandboxVault().tokenize(details, TODAY))


def test_card_leaves_the_vault_as_token_brand_last4_and_expiry_only() -> None:
    vaulted = tokenize(CardDetails("4242 4242 4242 4242", 12, 2030, "Jane Doe"))
    assert vaulted.type is PaymentMethodType.CARD
    assert (vaulted.brand, vaulted.last4, vaulted.exp_month, vaulted.exp_year) == (
        "Visa",
        "4242",
        12,
        2030,
    )
    assert vaulted.token.startswith("tok_sandbox_")
    flat = repr(dataclasses.asdict(vaulted))
    assert "424242424242" not in flat


def test_card_number_is_not_in_the_details_repr() -> None:
    assert "4242" not in repr(CardDetails("4242424242424242", 12, 2030))


@pytest.mark.parametrize(
    ("card", "field", "words"),
    [
        (CardDetails("4242424242424241", 12, 2030), "number", "not valid"),
        (CardDetails("42", 12, 2030), "number", "12 to 19"),
        (CardDetails("4242424242424242", 10, 2026), "expiry", "expired"),
        (CardDetails(SANDBOX_DECLINED_CARD, 12, 2030), "number", "declined"),
        (CardDetails(luhn_complete("353011133330000"), 12, 2030), "number", "not accepted"),
    ],
)
def test_rejected_cards_name_the_field(card: CardDetails, field: str, words: str) -> None:
    with pytest.raises(VaultRejectedError) as caught:
        tokenize(card)
    assert caught.value.field == field
    assert words in caught.value.message
    assert card.number not in caught.value.message


def test_bank_account_is_tokenised_with_last4() -> None:
    vaulted = tokenize(BankAccountDetails("011000015", "000123456789", "Acme", "First Bank"))
    assert vaulted.type is PaymentMethodType.BANK_ACCOUNT
    assert (vaulted.brand, vaulted.last4, vaulted.exp_month) == ("First Bank", "6789", None)


@pytest.mark.parametrize(
    ("routing", "account", "field"),
    [("011000016", "000123456789", "routing_number"), ("011000015", "12", "account_number")],
)
def test_bad_bank_details_are_rejected(routing: str, account: str, field: str) -> None:
    with pytest.raises(VaultRejectedError) as caught:
        tokenize(BankAccountDetails(routing, account))
    assert caught.value.field == field
