"""The payment-method vault port and its sandbox adapter.

A card or account number enters `tokenize` and only a `VaultedMethod` (token, brand, last4,
expiry) comes out: nothing else in the gateway ever holds the full number, so it cannot reach
a log, a database or Kafka. A real PSP adapter implements the same protocol.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from portal_contracts.billing import PaymentMethodType


class VaultRejectedError(ValueError):
    """The details were refused; `field` names the form field to attach the message to."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True)
class CardDetails:
    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    holder_name: str | None = None


@dataclass(frozen=True)
class BankAccountDetails:
    routing_number: str = field(repr=False)
    account_number: str = field(repr=False)
    holder_name: str | None = None
    bank_name: str | None = None


@dataclass(frozen=True)
class VaultedMethod:
    token: str
    type: PaymentMethodType
    brand: str
    last4: str
    exp_month: int | None = None
    exp_year: int | None = None
    holder_name: str | None = None


class PaymentVault(Protocol):
    async def tokenize(
        self, details: CardDetails | BankAccountDetails, today: date
    ) -> VaultedMethod: ...


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit() or not digits:
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def aba_routing_valid(routing: str) -> bool:
    """ABA checksum: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10)."""
    if len(routing) != 9 or not routing.isdigit():
        return False
    d = [int(c) for c in routing]
    total = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])
    return total % 10 == 0


def card_brand(digits: str) -> str | None:
    if digits.startswith(("34", "37")) and len(digits) == 15:
        return "American Express"
    if digits.startswith("4") and len(digits) in (13, 16, 19):
        return "Visa"
    prefix2 = int(digits[:2]) if len(digits) >= 2 else 0
    prefix4 = int(digits[:4]) if len(digits) >= 4 else 0
    if (51 <= prefix2 <= 55 or 2221 <= prefix4 <= 2720) and len(digits) == 16:
        return "Mastercard"
    if (digits.startswith(("6011", "65")) or 644 <= prefix4 // 10 <= 649) and len(digits) in (
        16,
        19,
    ):
        return "Discover"
    return None


def expiry_valid(exp_month: int, exp_year: int, today: date) -> bool:
    """A card is usable through the last day of its expiry month."""
    if not 1 <= exp_month <= 12:
        return False
    return (exp_year, exp_month) >= (today.year, today.month)


def _digits(value: str) -> str:
    return "".join(value.split()).replace("-", "")


# Sandbox behaviour a tester can trigger on purpose, like a PSP's test numbers.
SANDBOX_DECLINED_CARD = "4000000000000002"


class SandboxVault:
    """Local stand-in for a PSP: real checks, fake tokens, nothing stored."""

    async def tokenize(
        self, details: CardDetails | BankAccountDetails, today: date
    ) -> VaultedMethod:
        if isinstance(details, CardDetails):
            return self._card(details, today)
        return self._bank(details)

    def _card(self, card: CardDetails, today: date) -> VaultedMethod:
        digits = _digits(card.number)
        if not digits.isdigit() or not 12 <= len(digits) <= 19:
            raise VaultRejectedError("number", "Enter the card number (12 to 19 digits).")
        if not luhn_valid(digits):
            raise VaultRejectedError("number", "This card number is not valid. Check it for typos.")
        brand = card_brand(digits)
        if brand is None:
            raise VaultRejectedError("number", "This card type is not accepted.")
        if not expiry_valid(card.exp_month, card.exp_year, today):
            raise VaultRejectedError(
                "expiry", "This card has expired, or the expiry date is wrong."
            )
        if digits == SANDBOX_DECLINED_CARD:
            raise VaultRejectedError("number", "The card was declined by the issuer.")
        return VaultedMethod(
            token=f"tok_sandbox_{secrets.token_hex(12)}",
            type=PaymentMethodType.CARD,
            brand=brand,
            last4=digits[-4:],
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            holder_name=card.holder_name or None,
        )

    def _bank(self, bank: BankAccountDetails) -> VaultedMethod:
        routing = _digits(bank.routing_number)
        account = _digits(bank.account_number)
        if not aba_routing_valid(routing):
            raise VaultRejectedError(
                "routing_number", "This routing number is not valid (9 digits, ABA checksum)."
            )
        if not account.isdigit() or not 4 <= len(account) <= 17:
            raise VaultRejectedError("account_number", "Enter the account number (4 to 17 digits).")
        return VaultedMethod(
            token=f"tok_sandbox_{secrets.token_hex(12)}",
            type=PaymentMethodType.BANK_ACCOUNT,
            brand=(bank.bank_name or "Bank account").strip()[:200],
            last4=account[-4:],
            holder_name=bank.holder_name or None,
        )
