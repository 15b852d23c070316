"""VAT validation per country and locale-aware money/date display."""

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_gateway.portal.domain.money import (
    format_day,
    format_money,
    minor_to_decimal,
    negotiate_locale,
)
from portal_gateway.portal.domain.vat import validate_vat


@pytest.mark.parametrize(
    ("raw", "fallback", "expected"),
    [
        ("DE 136.695.976", None, "DE136695976"),
        ("de136695976", None, "DE136695976"),
        ("NL004495445B01", None, "NL004495445B01"),
        ("EL094259216", None, "EL094259216"),
        ("136695976", "DE", "136695976"),
        ("  ", None, None),
    ],
)
def test_valid_vat_numbers_are_normalised(raw: str, fallback: str | None, expected: Any) -> None:
    result = validate_vat(raw, fallback)
    assert result.error is None
    assert result.value == expected


@pytest.mark.parametrize(
    ("raw", "fallback", "words"),
    [
        ("DE123", None, "not a valid VAT number for DE"),
        ("123456789", None, "country code"),
        ("QQ123456789", None, "not supported"),
    ],
)
def test_invalid_vat_numbers_get_a_clear_message(
    raw: str, fallback: str | None, words: str
) -> None:
    result = validate_vat(raw, fallback)
    assert result.value is None
    assert result.error is not None
    assert words in result.error


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "text"),
    [
        (123456, "EUR", "en_US", "€1,234.56"),
        (123456, "EUR", "de_DE", "1.234,56\xa0€"),
        (5000, "JPY", "en_US", "¥5,000"),
        (12345, "KWD", "en_US", "KWD12.345"),
        (-150, "USD", "en_US", "-$1.50"),
        (0, "GBP", "en_GB", "£0.00"),
    ],
)
def test_money_is_formatted_per_locale_and_currency_precision(
    minor: int, currency: str, locale: str, text: str
) -> None:
    assert format_money(minor, currency, locale) == text


@given(st.integers(-(10**15), 10**15), st.sampled_from(["EUR", "USD", "JPY", "KWD"]))
def test_minor_units_convert_exactly(minor: int, currency: str) -> None:
    value = minor_to_decimal(minor, currency)
    digits = {"JPY": 0, "KWD": 3}.get(currency, 2)
    assert value.scaleb(digits) == minor


def test_dates_are_formatted_per_locale() -> None:
    assert format_day("2026-12-01", "en_US") == "Dec 1, 2026"
    assert format_day(date(2026, 12, 1), "de_DE") == "01.12.2026"
    assert format_day(None, "en_US") == "—"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en_US"),
        ("de-DE,de;q=0.9,en;q=0.8", "de_DE"),
        ("fr;q=0.5, nl-NL;q=0.9", "nl_NL"),
        ("xx-YY", "en_US"),
        ("en-GB", "en_GB"),
        ("de-DE;q=0, en-GB", "en_GB"),
    ],
)
def test_locale_negotiation(header: str | None, expected: Any) -> None:
    assert negotiate_locale(header, "en_US") == expected


@given(st.text(max_size=200))
def test_locale_negotiation_never_fails(header: str | None) -> None:
    assert negotiate_locale(header, "en_US")
