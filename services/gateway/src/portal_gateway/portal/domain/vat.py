"""VAT number validation per country (python-stdnum), with messages a customer understands."""

from __future__ import annotations

from dataclasses import dataclass

from stdnum import get_cc_module
from stdnum.exceptions import ValidationError

# Greece's VAT prefix is EL, not its ISO code GR.
_PREFIX_TO_COUNTRY = {"EL": "gr", "XI": "gb"}


@dataclass(frozen=True)
class VatResult:
    value: str | None
    error: str | None


def _split_prefix(number: str) -> tuple[str | None, str]:
    head = number[:2].upper()
    if len(number) > 2 and head.isalpha() and head.isascii():
        return head, number
    return None, number


def validate_vat(raw: str, fallback_country: str | None = None) -> VatResult:
    """Validate and normalise; an empty value clears the VAT number.

    The country comes from the number's own prefix (DE…, FR…), or else from the billing
    address country, because several countries' formats are indistinguishable by shape.
    """
    number = "".join(raw.split()).replace(".", "").replace("-", "")
    if not number:
        return VatResult(None, None)
    prefix, number = _split_prefix(number)
    country = _PREFIX_TO_COUNTRY.get(prefix, prefix.lower()) if prefix else None
    if country is None and fallback_country:
        country = fallback_country.lower()
    if country is None:
        return VatResult(None, "Start the VAT number with its country code, e.g. DE123456789.")
    try:
        module = get_cc_module(country, "vat")
    except (ImportError, ValueError):
        module = None
    if module is None:
        return VatResult(None, f"VAT numbers for country code {country.upper()} are not supported.")
    try:
        compact = module.validate(number)
    except ValidationError:
        return VatResult(
            None, f"This is not a valid VAT number for {country.upper()}. Check it and try again."
        )
    compact = str(compact)
    if prefix and not compact[:2].isalpha():
        compact = prefix + compact
    return VatResult(compact, None)
