"""Pure rules: branding fallback, sender choice, SES error classes, backoff bounds."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_notifier.branding.domain import resolve_branding
from portal_notifier.branding.models import BillGroupView, EntityView
from portal_notifier.delivery.domain import (
    TERMINAL,
    Failure,
    RetryPolicy,
    backoff_seconds,
    choose_sender,
    claimable,
    classify_ses_error,
    give_up_at,
    lifetime_minutes,
    next_retry,
)
from portal_notifier.delivery.models import DeliveryState
from portal_notifier.suppressions.domain import normalize_email

POLICY = RetryPolicy(base_seconds=1.0, cap_seconds=60.0, max_attempts=8, window_seconds=600.0)
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

ids = st.text(alphabet="abcdefghij0123456789_-", min_size=1, max_size=12)


def test_known_entity_and_bill_group_brand_the_email() -> None:
    brand = resolve_branding(
        EntityView("Acme Billing", "https://cdn.example/acme.png", "Acme logo"),
        BillGroupView("Main", "Acme Ltd", "ent_1"),
        neutral_name="Customer Portal",
        neutral_logo_url=None,
    )
    assert (brand.entity_name, brand.logo_url, brand.logo_alt) == (
        "Acme Billing",
        "https://cdn.example/acme.png",
        "Acme logo",
    )
    assert (brand.bill_group_name, brand.account_name, brand.neutral) == ("Main", "Acme Ltd", False)


def test_unknown_entity_falls_back_to_neutral_branding_but_keeps_the_customer_name() -> None:
    brand = resolve_branding(
        None,
        BillGroupView("Main", "Acme Ltd", "ent_1"),
        neutral_name="Customer Portal",
        neutral_logo_url="https://portal.example/logo.png",
    )
    assert brand.neutral
    assert (brand.entity_name, brand.logo_url) == (
        "Customer Portal",
        "https://portal.example/logo.png",
    )
    assert brand.account_name == "Acme Ltd"


def test_logo_without_alt_text_uses_the_entity_name() -> None:
    brand = resolve_branding(
        EntityView("Acme", "https://x/l.png", ""), None, neutral_name="P", neutral_logo_url=None
    )
    assert brand.logo_alt == "Acme"
    assert brand.bill_group_name is None


@given(tenant=ids, entity=ids, other=ids)
def test_sender_most_specific_first(tenant: str, entity: str, other: str) -> None:
    senders = {f"{tenant}/{entity}": "entity@a.example", tenant: "tenant@a.example"}
    default = "portal@portal.example.com"
    assert choose_sender(senders, default, tenant_id=tenant, entity_id=entity) == "entity@a.example"
    assert choose_sender(senders, default, tenant_id=tenant, entity_id=None) == "tenant@a.example"
    if other != entity:
        assert (
            choose_sender(senders, default, tenant_id=tenant, entity_id=other) == "tenant@a.example"
        )
    if other != tenant:
        assert choose_sender(senders, default, tenant_id=other, entity_id=entity) == default


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, Failure.TRANSIENT),
        ("Throttling", 400, Failure.TRANSIENT),
        ("TooManyRequestsException", 429, Failure.TRANSIENT),
        ("InternalFailure", 500, Failure.TRANSIENT),
        ("ServiceUnavailable", 503, Failure.TRANSIENT),
        ("Whatever", 502, Failure.TRANSIENT),
        ("Unknown", None, Failure.TRANSIENT),
        ("MessageRejected", 400, Failure.PERMANENT),
        ("BadRequestException", 400, Failure.PERMANENT),
        ("InvalidParameterValue", 400, Failure.PERMANENT),
        ("AccountSuspendedException", 400, Failure.PERMANENT),
        ("MailFromDomainNotVerifiedException", 400, Failure.PERMANENT),
        ("NotFoundException", 404, Failure.PERMANENT),
    ],
)
def test_ses_errors_are_classified(code: str, status: int | None, expected: Failure) -> None:
    assert classify_ses_error(code, status) is expected


@given(attempt=st.integers(1, 500), jitter=st.floats(0.0, 1.0, exclude_max=True))
def test_backoff_grows_but_stays_within_half_and_full_ceiling(attempt: int, jitter: float) -> None:
    ceiling = min(POLICY.cap_seconds, POLICY.base_seconds * 2 ** min(attempt - 1, 62))
    delay = backoff_seconds(POLICY, attempt, jitter)
    assert ceiling / 2 <= delay <= ceiling
    assert delay <= POLICY.cap_seconds


@given(attempt=st.integers(1, 30))
def test_backoff_without_jitter_doubles_until_the_cap(attempt: int) -> None:
    now = backoff_seconds(POLICY, attempt, 0.0)
    after = backoff_seconds(POLICY, attempt + 1, 0.0)
    assert after == min(2 * now, POLICY.cap_seconds / 2)


@pytest.mark.parametrize(("attempt", "jitter"), [(0, 0.5), (1, -0.1), (1, 1.0)])
def test_backoff_refuses_nonsense(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        backoff_seconds(POLICY, attempt, jitter)


@given(
    attempts=st.integers(1, 20),
    elapsed=st.floats(0, 2000),
    lifetime=st.floats(1, 3600),
    jitter=st.floats(0.0, 1.0, exclude_max=True),
)
def test_next_retry_is_bounded_by_attempts_window_and_link_expiry(
    attempts: int, elapsed: float, lifetime: float, jitter: float
) -> None:
    first = T0
    now = T0 + timedelta(seconds=elapsed)
    expires = T0 + timedelta(seconds=lifetime)
    due = next_retry(
        POLICY,
        attempts=attempts,
        now=now,
        first_attempt_at=first,
        expires_at=expires,
        jitter=jitter,
    )
    if attempts >= POLICY.max_attempts:
        assert due is None
    if due is not None:
        assert now < due < give_up_at(POLICY, first, expires)
        assert due <= expires
        assert due <= first + timedelta(seconds=POLICY.window_seconds)


def test_next_retry_gives_a_time_while_there_is_room() -> None:
    due = next_retry(
        POLICY,
        attempts=1,
        now=T0,
        first_attempt_at=T0,
        expires_at=T0 + timedelta(minutes=15),
        jitter=0.0,
    )
    assert due == T0 + timedelta(seconds=0.5)


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(900, 15), (899, 15), (30, 1), (0, 1), (-5, 1), (3600, 60)]
)
def test_lifetime_minutes(seconds: int, minutes: int) -> None:
    assert lifetime_minutes(T0, T0 + timedelta(seconds=seconds)) == minutes


@given(st.emails())
def test_normalized_email_is_case_and_space_insensitive(address: str) -> None:
    assert normalize_email(f"  {address.upper()} ") == normalize_email(address)


@given(
    state=st.sampled_from(list(DeliveryState)),
    due=st.none() | st.integers(-100, 100),
    lease=st.none() | st.integers(-100, 100),
)
def test_claimable_only_when_due_or_abandoned_never_when_final(
    state: DeliveryState, due: int | None, lease: int | None
) -> None:
    due_at = None if due is None else T0 + timedelta(seconds=due)
    lease_until = None if lease is None else T0 + timedelta(seconds=lease)
    result = claimable(state, due_at=due_at, lease_until=lease_until, now=T0)
    if state in TERMINAL:
        assert not result
    elif state is DeliveryState.PENDING:
        assert result == (due_at is None or due_at <= T0)
    else:
        assert result == (lease_until is not None and lease_until < T0)
