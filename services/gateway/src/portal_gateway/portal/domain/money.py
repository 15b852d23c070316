"""Locale-aware display of money and dates; amounts stay integers until they are text."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, get_currency_precision

SUPPORTED_LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES", "it_IT", "sv_SE")


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    """Exact: 12345 JPY is ¥12,345, 12345 EUR is €123.45, 12345 KWD is 12.345 KD."""
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


@lru_cache(maxsize=4096)
def format_money(amount_minor: int, currency: str, locale: str) -> str:
    return format_currency(minor_to_decimal(amount_minor, currency), currency, locale=locale)


def format_day(value: date | str | None, locale: str) -> str:
    if value is None or value == "":
        return "—"
    day = date.fromisoformat(value[:10]) if isinstance(value, str) else value
    return format_date(day, format="medium", locale=locale)


def format_moment(value: datetime | str | None, locale: str) -> str:
    """A timestamp in UTC (the portal does not know the customer's time zone)."""
    if value is None or value == "":
        return "—"
    moment = (
        datetime.fromisoformat(value.replace("Z", "+00:00")) if isinstance(value, str) else value
    )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"{format_datetime(moment, format='medium', tzinfo=UTC, locale=locale)} UTC"


@lru_cache(maxsize=512)
def negotiate_locale(accept_language: str | None, default: str) -> str:
    """The best supported locale for an Accept-Language header (q-values respected)."""
    if not accept_language:
        return default
    weighted: list[tuple[float, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            # Earlier entries win ties, as the header's order expresses preference too.
            weighted.append((-quality + position * 1e-6, tag.replace("-", "_")))
    preferred = [tag for _, tag in sorted(weighted)]
    try:
        chosen = Locale.negotiate(preferred, SUPPORTED_LOCALES, sep="_")
    except (UnknownLocaleError, ValueError):
        chosen = None
    return str(chosen) if chosen is not None else default
