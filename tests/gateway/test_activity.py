"""Before/after rows of the activity page and timestamp display."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from pydantic import JsonValue

from portal_gateway.portal.domain.activity import changed_fields
from portal_gateway.portal.domain.money import format_moment


def test_only_changed_leaves_are_listed_with_readable_labels() -> None:
    before: dict[str, JsonValue] = {
        "po_number": "PO-1",
        "vat_number": "DE1",
        "address": {"city": "Berlin"},
    }
    after: dict[str, JsonValue] = {
        "po_number": "PO-2",
        "vat_number": "DE1",
        "address": {"city": "Bonn"},
    }
    assert changed_fields(before, after) == [
        ("Address city", "Berlin", "Bonn"),
        ("PO number", "PO-1", "PO-2"),
    ]


def test_default_payment_method_label() -> None:
    rows = changed_fields(
        {"default_payment_method_id": "pm_1"}, {"default_payment_method_id": "pm_2"}
    )
    assert rows == [("Default payment method ID", "pm_1", "pm_2")]


def test_added_and_removed_values() -> None:
    assert changed_fields(None, {"brand": "Visa", "make_default": True}) == [
        ("Brand", "", "Visa"),
        ("Make default", "", "yes"),
    ]
    assert changed_fields({"po_number": "PO-1"}, {"po_number": None}) == [("PO number", "PO-1", "")]


values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.dictionaries(st.text(min_size=1, max_size=5), inner, max_size=3),
    max_leaves=8,
)


@given(st.dictionaries(st.text(min_size=1, max_size=5), values, max_size=4))
def test_no_change_gives_no_rows(document: dict[str, JsonValue]) -> None:
    assert changed_fields(document, document) == []


def test_moments_are_shown_in_utc_per_locale() -> None:
    moment = datetime(2026, 11, 24, 21, 5, tzinfo=UTC)
    assert format_moment(moment, "en_US") == "Nov 24, 2026, 9:05:00\u202fPM UTC"
    assert format_moment("2026-11-24T21:05:00Z", "de_DE") == "24.11.2026, 21:05:00 UTC"
    assert format_moment(None, "en_US") == "—"
