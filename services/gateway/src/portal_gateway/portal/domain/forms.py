"""Turning submitted form fields into contract models, with one message per field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import ValidationError

from portal_contracts.billing import Address, BillingProfile, Contact
from portal_gateway.portal.domain.vat import validate_vat
from portal_gateway.portal.domain.vault import BankAccountDetails, CardDetails

T = TypeVar("T")
MAX_TEXT = 200
ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code", "country")


@dataclass(frozen=True)
class Parsed(Generic[T]):
    value: T | None
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.value is not None and not self.errors


def _text(form: Mapping[str, str], name: str) -> str | None:
    value = " ".join(str(form.get(name, "")).split())
    return value or None


def _too_long(form: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {
        name: f"Use at most {MAX_TEXT} characters."
        for name in names
        if len(_text(form, name) or "") > MAX_TEXT
    }


def parse_billing_profile(
    form: Mapping[str, str], fallback_country: str | None
) -> Parsed[BillingProfile]:
    errors = _too_long(form, ("po_number", "registration_number"))
    vat = validate_vat(str(form.get("vat_number", "")), fallback_country)
    if vat.error:
        errors["vat_number"] = vat.error
    if errors:
        return Parsed(None, errors)
    return Parsed(
        BillingProfile(
            po_number=_text(form, "po_number"),
            vat_number=vat.value,
            registration_number=_text(form, "registration_number"),
        )
    )


def _looks_like_email(value: str) -> bool:
    local, at, domain = value.partition("@")
    return bool(at and local and "." in domain and " " not in value and "@" not in domain)


def parse_contact(form: Mapping[str, str]) -> Parsed[Contact]:
    names = ("name", "email", "phone", *ADDRESS_FIELDS)
    errors = _too_long(form, names)
    name = _text(form, "name")
    if not name:
        errors["name"] = "Enter the contact's name."
    email = _text(form, "email")
    if email and not _looks_like_email(email):
        errors["email"] = "Enter an email address like name@company.com."
    phone = _text(form, "phone")
    if phone and not all(c.isdigit() or c in "+-() ." for c in phone):
        errors["phone"] = "Use digits, spaces and + - ( ) only."
    address: Address | None = None
    if any(_text(form, f) for f in ADDRESS_FIELDS):
        if not _text(form, "line1"):
            errors["line1"] = "Enter the street address."
        if not _text(form, "city"):
            errors["city"] = "Enter the city."
        country = (_text(form, "country") or "").upper()
        if len(country) != 2 or not country.isalpha() or not country.isascii():
            errors["country"] = "Enter the two-letter country code, e.g. DE."
        if not errors:
            address = Address(
                line1=_text(form, "line1") or "",
                line2=_text(form, "line2"),
                city=_text(form, "city") or "",
                region=_text(form, "region"),
                postal_code=_text(form, "postal_code"),
                country=country,
            )
    if errors or name is None:
        return Parsed(None, errors)
    try:
        return Parsed(Contact(name=name, email=email, phone=phone, address=address))
    except ValidationError as exc:  # pragma: no cover - the checks above mirror the model
        return Parsed(None, {"name": str(exc.errors()[0]["msg"])})


def _int(form: Mapping[str, str], name: str) -> int | None:
    value = str(form.get(name, "")).strip()
    return int(value) if value.isdigit() and len(value) <= 4 else None


def parse_card(form: Mapping[str, str]) -> Parsed[CardDetails]:
    errors: dict[str, str] = {}
    number = str(form.get("number", ""))
    if not number.strip():
        errors["number"] = "Enter the card number."
    month, year = _int(form, "exp_month"), _int(form, "exp_year")
    if year is not None and year < 100:
        year += 2000
    if month is None or not 1 <= month <= 12 or year is None:
        errors["expiry"] = "Enter the expiry month (1-12) and year."
    errors.update(_too_long(form, ("holder_name",)))
    if errors or month is None or year is None:
        return Parsed(None, errors)
    return Parsed(CardDetails(number, month, year, _text(form, "holder_name")))


def parse_bank_account(form: Mapping[str, str]) -> Parsed[BankAccountDetails]:
    errors = _too_long(form, ("holder_name", "bank_name"))
    routing = str(form.get("routing_number", ""))
    account = str(form.get("account_number", ""))
    if not routing.strip():
        errors["routing_number"] = "Enter the 9-digit routing number."
    if not account.strip():
        errors["account_number"] = "Enter the account number."
    if errors:
        return Parsed(None, errors)
    return Parsed(
        BankAccountDetails(routing, account, _text(form, "holder_name"), _text(form, "bank_name"))
    )
