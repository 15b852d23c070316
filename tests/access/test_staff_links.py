"""Signed staff links: tampered, expired, other-tenant, skew, malformed (reuse is storage's
unique nonce, tested against the real database in tests/staff/test_staff_console_http.py)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_access.staff_links.domain import (
    CLOCK_SKEW_SECONDS,
    MAX_LIFETIME_SECONDS,
    Refusal,
    Scope,
    StaffLinkError,
    issue,
    link,
    new_secret,
    verify,
)

NOW = 1_800_000_000
SECRET = new_secret()
OTHER_SECRET = new_secret()


def params(**overrides: object) -> dict[str, str]:
    base = issue(
        tenant_id="demo",
        scope=Scope.BILL_GROUP,
        scope_id="bg_1",
        staff_email="Ops@Merchant.example",
        now=NOW,
        minutes=30,
        secret=SECRET,
    )
    base.update({k: str(v) for k, v in overrides.items()})
    return base


def refusal(p: dict[str, str], secrets: list[str] | None = None, now: int = NOW) -> Refusal:
    with pytest.raises(StaffLinkError) as caught:
        verify(p, secrets or [SECRET], now)
    return caught.value.reason


def test_a_fresh_link_verifies_to_its_grant() -> None:
    grant = verify(params(), [SECRET], NOW)
    assert (grant.tenant_id, grant.scope, grant.scope_id) == ("demo", Scope.BILL_GROUP, "bg_1")
    assert grant.staff_email == "ops@merchant.example"
    assert grant.expires_at == NOW + 30 * 60


def test_account_links_carry_the_account_scope() -> None:
    p = issue(
        tenant_id="demo",
        scope=Scope.ACCOUNT,
        scope_id="acc_9",
        staff_email="ops@merchant.example",
        now=NOW,
        minutes=5,
        secret=SECRET,
    )
    assert "bill_group" not in p
    grant = verify(p, [SECRET], NOW)
    assert (grant.scope, grant.scope_id) == (Scope.ACCOUNT, "acc_9")


def test_link_round_trips_through_the_url() -> None:
    url = link("http://127.0.0.1:8000/", params())
    parts = urlsplit(url)
    assert parts.path == "/staff/enter"
    assert verify(dict(parse_qsl(parts.query)), [SECRET], NOW).scope_id == "bg_1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tenant", "other"),
        ("bill_group", "bg_2"),
        ("staff", "boss@merchant.example"),
        ("exp", NOW + 3600),
        ("nonce", "A" * 22),
    ],
)
def test_changing_any_signed_field_breaks_the_signature(field: str, value: object) -> None:
    assert refusal(params(**{field: value})) is Refusal.BAD_SIGNATURE


def test_switching_the_scope_kind_breaks_the_signature() -> None:
    p = params()
    p["account"] = p.pop("bill_group")
    assert refusal(p) is Refusal.BAD_SIGNATURE


def test_a_link_signed_with_another_tenants_secret_is_refused() -> None:
    # The link says tenant "demo" but was made with another tenant's secret.
    p = issue(
        tenant_id="demo",
        scope=Scope.BILL_GROUP,
        scope_id="bg_1",
        staff_email="ops@merchant.example",
        now=NOW,
        minutes=30,
        secret=OTHER_SECRET,
    )
    assert refusal(p, [SECRET]) is Refusal.BAD_SIGNATURE


def test_a_signature_altered_in_one_character_is_refused() -> None:
    p = params()
    sig = p["sig"]
    p["sig"] = ("B" if sig[0] == "A" else "A") + sig[1:]
    assert refusal(p) is Refusal.BAD_SIGNATURE


def test_any_current_secret_of_the_tenant_verifies_so_rotation_keeps_sent_links() -> None:
    assert verify(params(), [OTHER_SECRET, SECRET], NOW).tenant_id == "demo"


def test_no_secrets_means_nothing_verifies() -> None:
    with pytest.raises(StaffLinkError) as caught:
        verify(params(), [], NOW)
    assert caught.value.reason is Refusal.BAD_SIGNATURE


def test_expiry_honours_clock_skew_then_refuses() -> None:
    exp = NOW + 30 * 60
    assert verify(params(), [SECRET], exp + CLOCK_SKEW_SECONDS).scope_id == "bg_1"
    assert refusal(params(), now=exp + CLOCK_SKEW_SECONDS + 1) is Refusal.EXPIRED


def test_a_link_from_a_clock_running_ahead_is_accepted_within_the_skew() -> None:
    # The platform's clock is ahead: its 24-hour link looks 24h + skew long to us.
    ahead = NOW + CLOCK_SKEW_SECONDS
    p = issue(
        tenant_id="demo",
        scope=Scope.BILL_GROUP,
        scope_id="bg_1",
        staff_email="ops@merchant.example",
        now=ahead,
        minutes=MAX_LIFETIME_SECONDS // 60,
        secret=SECRET,
    )
    assert verify(p, [SECRET], NOW).scope_id == "bg_1"
    assert refusal(p, now=NOW - 1) is Refusal.TOO_LONG_LIVED


def test_issue_refuses_lifetimes_outside_the_allowed_range() -> None:
    for minutes in (0, MAX_LIFETIME_SECONDS // 60 + 1):
        with pytest.raises(ValueError, match="minutes"):
            issue(
                tenant_id="demo",
                scope=Scope.BILL_GROUP,
                scope_id="bg_1",
                staff_email="ops@merchant.example",
                now=NOW,
                minutes=minutes,
                secret=SECRET,
            )


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.pop("sig"),
        lambda p: p.pop("nonce"),
        lambda p: p.pop("bill_group"),
        lambda p: p.update(account="acc_1"),  # two scopes at once
        lambda p: p.update(exp="soon"),
        lambda p: p.update(exp="-5"),
        lambda p: p.update(sig="short"),
        lambda p: p.update(staff="not-an-email"),
        lambda p: p.update(staff="a@x.com, b@x.com"),
        lambda p: p.update(tenant="demo\nbg_2"),
        lambda p: p.update(bill_group="bg_1\n"),
        lambda p: p.update(nonce="short"),
    ],
)
def test_incomplete_or_malformed_links_are_refused_as_malformed(mutate: object) -> None:
    p = params()
    mutate(p)  # type: ignore[operator]
    assert refusal(p) is Refusal.MALFORMED


def test_refusals_map_to_gone_for_once_good_links_and_forbidden_otherwise() -> None:
    assert Refusal.EXPIRED.http_status == 410
    assert Refusal.REUSED.http_status == 410
    for reason in (Refusal.BAD_SIGNATURE, Refusal.MALFORMED, Refusal.UNKNOWN_SCOPE):
        assert reason.http_status == 403
    assert all(reason.message for reason in Refusal)


_field = st.sampled_from(["tenant", "bill_group", "staff", "exp", "nonce", "sig"])


@pytest.mark.parametrize("junk", [" ", "\n", "\t", "_0", "\u00a0"])
def test_an_expiry_with_whitespace_or_underscores_does_not_verify(junk: str) -> None:
    p = params()
    p["exp"] += junk
    with pytest.raises(StaffLinkError) as caught:
        verify(p, [SECRET], NOW)
    assert caught.value.reason in (Refusal.MALFORMED, Refusal.BAD_SIGNATURE)


@given(field=_field, junk=st.text(min_size=1, max_size=40))
def test_no_single_field_edit_ever_verifies(field: str, junk: str) -> None:
    p = params()
    edited = p[field] + junk
    p[field] = edited
    with pytest.raises(StaffLinkError) as caught:
        verify(p, [SECRET], NOW)
    assert caught.value.reason in (Refusal.MALFORMED, Refusal.BAD_SIGNATURE)


@given(secret=st.text(alphabet="ABCDEFabcdef0123456789-_", min_size=43, max_size=43))
def test_a_guessed_secret_does_not_verify(secret: str) -> None:
    if secret == SECRET:
        return
    with pytest.raises(StaffLinkError):
        verify(params(), [secret], NOW)
