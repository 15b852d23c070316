"""Form fields → contract models, one clear message per field."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_contracts.billing import Address, BillingProfile, Contact
from portal_gateway.portal.domain.forms import (
    parse_bank_account,
    parse_billing_profile,
    parse_card,
    parse_contact,
)


def test_billing_profile_is_normalised() -> None:
    parsed = parse_billing_profile(
        {"po_number": "  PO  42 ", "vat_number": "de 136695976", "registration_number": ""}, None
    )
    assert parsed.ok
    assert parsed.value == BillingProfile(po_number="PO 42", vat_number="DE136695976")


def test_billing_profile_errors_are_per_field() -> None:
    parsed = parse_billing_profile({"po_number": "x" * 201, "vat_number": "DE1"}, None)
    assert parsed.value is None
    assert set(parsed.errors) == {"po_number", "vat_number"}


def test_vat_without_prefix_uses_the_billing_country() -> None:
    assert parse_billing_profile({"vat_number": "136695976"}, "DE").ok
    assert not parse_billing_profile({"vat_number": "136695976"}, None).ok


def test_contact_with_address() -> None:
    parsed = parse_contact(
        {
            "name": "Jane",
            "email": "jane@acme.com",
            "line1": "Main 1",
            "city": "Berlin",
            "country": "de",
            "postal_code": "10115",
        }
    )
    assert parsed.value == Contact(
        name="Jane",
        email="jane@acme.com",
        address=Address(line1="Main 1", city="Berlin", country="DE", postal_code="10115"),
    )


def test_contact_without_address_fields_has_no_address() -> None:
    parsed = parse_contact({"name": "Jane", "phone": "+49 (30) 123-45"})
    assert parsed.value == Contact(name="Jane", phone="+49 (30) 123-45")


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        ({}, {"name"}),
        ({"name": "J", "email": "nope"}, {"email"}),
        ({"name": "J", "phone": "call me"}, {"phone"}),
        ({"name": "J", "city": "Berlin"}, {"line1", "country"}),
        ({"name": "J", "line1": "a", "city": "b", "country": "Germany"}, {"country"}),
    ],
)
def test_contact_errors_name_their_fields(form: dict[str, str], fields: set[str]) -> None:
    parsed = parse_contact(form)
    assert parsed.value is None
    assert set(parsed.errors) == fields


@given(
    st.dictionaries(
        st.sampled_from(["name", "email", "phone", "line1", "city", "country"]),
        st.text(max_size=300),
    )
)
def test_contact_parsing_never_raises_and_is_all_or_nothing(form: dict[str, str]) -> None:
    parsed = parse_contact(form)
    assert (parsed.value is None) == bool(parsed.errors)


@pytest.mark.parametrize(
    ("form", "month", "year"),
    [
        ({"number": "4242", "exp_month": "4", "exp_year": "30"}, 4, 2030),
        ({"number": "4242", "exp_month": "12", "exp_year": "2031"}, 12, 2031),
    ],
)
def test_card_expiry_accepts_two_and_four_digit_years(
    form: dict[str, str], month: int, year: int
) -> None:
    parsed = parse_card(form)
    assert parsed.value is not None
    assert (parsed.value.exp_month, parsed.value.exp_year) == (month, year)


@pytest.mark.parametrize(
    "form",
    [
        {"exp_month": "4", "exp_year": "30"},
        {"number": "4242", "exp_month": "13", "exp_year": "30"},
        {"number": "4242", "exp_month": "x", "exp_year": "30"},
    ],
)
def test_card_form_errors(form: dict[str, str]) -> None:
    assert not parse_card(form).ok


def test_bank_form_requires_both_numbers() -> None:
    parsed = parse_bank_account({"routing_number": "", "account_number": ""})
    assert set(parsed.errors) == {"routing_number", "account_number"}
