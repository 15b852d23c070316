"""Pure rule logic: normalisation, rejection of lists, exact matching, overlap, secrets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from portal_access import tokens
from portal_access.portals import domain
from portal_access.portals.domain import Rule, RuleValueError
from portal_access.sessions import domain as sessions
from portal_access.signin import domain as signin
from portal_contracts.portal import RuleKind

D, E = RuleKind.DOMAIN, RuleKind.EMAIL


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        (D, "company.com", "company.com"),
        (D, "  Company.COM  ", "company.com"),
        (D, "company.com.", "company.com"),
        (D, "bücher.example", "xn--bcher-kva.example"),
        (D, "BÜCHER.example", "xn--bcher-kva.example"),
        (D, "xn--bcher-kva.example", "xn--bcher-kva.example"),
        (D, "sub.company.co.uk", "sub.company.co.uk"),
        (E, " Jane.Doe@Company.COM ", "jane.doe@company.com"),
        (E, "jane+billing@bücher.example", "jane+billing@xn--bcher-kva.example"),
        (E, "o'brien@company.com", "o'brien@company.com"),
    ],
)
def test_normalisation(kind: RuleKind, raw: str, expected: str) -> None:
    assert domain.normalise(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw", "fragment"),
    [
        (E, "a@x.com,b@x.com", "commas"),
        (E, "a@x.com, b@x.com", "commas"),
        (E, "a@x.com b@x.com", "spaces"),
        (E, "a@x.com;b@x.com", "semicolons"),
        (E, "a@x.com\tb@x.com", "spaces"),
        (E, "a@b@x.com", "several"),
        (E, "jane doe@x.com", "spaces"),
        (D, "a.com,b.com", "commas"),
        (D, "a.com b.com", "spaces"),
        (D, "a.com;b.com", "semicolons"),
        (D, "@company.com", "without '@'"),
        (D, "jane@company.com", "without '@'"),
        (E, "", "empty"),
        (D, "   ", "empty"),
        (E, "company.com", "no '@'"),
        (E, "@company.com", "not a valid"),
        (E, "jane@", "empty"),
        (E, "jane..doe@x.com", "not a valid"),
        (E, ".jane@x.com", "not a valid"),
        (E, f"{'a' * 65}@x.com", "not a valid"),
        (D, "localhost", "not a valid"),
        (D, "-bad.com", "not a valid"),
        (D, "bad-.com", "not a valid"),
        (D, "under_score.com", "not a valid"),
        (D, "1.2.3.4", "not a valid"),
        (D, "a..com", "not a valid"),
        (D, f"{'a' * 64}.com", "not a valid"),
    ],
)
def test_rejections_say_why(kind: RuleKind, raw: str, fragment: str) -> None:
    with pytest.raises(RuleValueError) as caught:
        domain.normalise(kind, raw)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("email", "covered"),
    [
        ("jane@company.com", True),
        ("jane@sub.company.com", False),
        ("jane@evilcompany.com", False),
        ("jane@company.com.evil.io", False),
        ("jane@company.co", False),
        ("jane@xcompany.com", False),
    ],
)
def test_domain_rule_matches_exactly_that_domain(email: str, covered: bool) -> None:
    rule = Rule("r1", D, "company.com")
    assert domain.covers(rule, email) is covered


def test_email_rule_matches_exactly_that_address() -> None:
    rule = Rule("r1", E, "jane@company.com")
    assert domain.covers(rule, "jane@company.com")
    assert not domain.covers(rule, "jane2@company.com")
    assert not domain.covers(rule, "jane@company.com.evil")
    assert domain.covering_rule([Rule("x", D, "a.com"), rule], "jane@company.com") == rule
    assert domain.covering_rule([rule], "bob@company.com") is None


@pytest.mark.parametrize(
    ("existing", "kind", "value", "names"),
    [
        (Rule("r1", D, "company.com"), D, "company.com", "already granted"),
        (Rule("r1", E, "jane@company.com"), E, "jane@company.com", "already granted"),
        (Rule("r1", D, "company.com"), E, "jane@company.com", "already covered"),
        (Rule("r1", E, "jane@company.com"), D, "company.com", "would cover"),
    ],
)
def test_every_overlap_is_refused_naming_the_rule(
    existing: Rule, kind: RuleKind, value: str, names: str
) -> None:
    conflict = domain.find_conflict([existing], kind, value)
    assert conflict is not None
    assert conflict.rule == existing
    assert names in conflict.message
    assert "r1" in conflict.message


@pytest.mark.parametrize(
    ("existing", "kind", "value"),
    [
        (Rule("r1", D, "company.com"), D, "sub.company.com"),
        (Rule("r1", D, "company.com"), E, "jane@sub.company.com"),
        (Rule("r1", D, "company.com"), D, "evilcompany.com"),
        (Rule("r1", E, "jane@company.com"), E, "bob@company.com"),
        (Rule("r1", E, "jane@sub.company.com"), D, "company.com"),
        (Rule("r1", E, "jane@company.com"), D, "other.com"),
    ],
)
def test_neighbours_do_not_overlap(existing: Rule, kind: RuleKind, value: str) -> None:
    assert domain.find_conflict([existing], kind, value) is None


_labels = st.sampled_from(["a", "b", "co", "xn--bcher-kva"])
_domains = st.builds(lambda a, b: f"{a}.{b}", _labels, st.sampled_from(["com", "io"]))
_locals = st.sampled_from(["jane", "bob", "x"])


class RuleBook(RuleBasedStateMachine):
    """Random adds and removes through the same check the service uses."""

    def __init__(self) -> None:
        super().__init__()
        self.book: list[Rule] = []
        self.counter = 0

    added = Bundle("added")

    def _add(self, kind: RuleKind, value: str) -> Rule | None:
        if domain.find_conflict(self.book, kind, value) is not None:
            return None
        self.counter += 1
        new = Rule(f"r{self.counter}", kind, value)
        self.book.append(new)
        return new

    @rule(target=added, value=_domains)
    def add_domain(self, value: str) -> str:
        new = self._add(D, value)
        return new.rule_id if new else ""

    @rule(target=added, local=_locals, at=_domains)
    def add_email(self, local: str, at: str) -> str:
        new = self._add(E, f"{local}@{at}")
        return new.rule_id if new else ""

    @rule(rule_id=added)
    def remove(self, rule_id: str) -> None:
        self.book = [r for r in self.book if r.rule_id != rule_id]

    @invariant()
    def no_two_rules_overlap(self) -> None:
        for i, a in enumerate(self.book):
            for b in self.book[i + 1 :]:
                assert not domain.overlapping(a, b), (a, b)

    @invariant()
    def every_address_has_at_most_one_rule(self) -> None:
        for rule_ in self.book:
            probe = rule_.value if rule_.kind is E else f"jane@{rule_.value}"
            assert sum(domain.covers(r, probe) for r in self.book) == 1


TestRuleBook = RuleBook.TestCase
TestRuleBook.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


@given(st.emails())
def test_any_valid_email_normalises_idempotently(email: str) -> None:
    try:
        once = domain.normalise_email(email)
    except RuleValueError:
        return
    assert domain.normalise_email(once) == once
    assert once == once.strip().lower() or "xn--" in once


@given(st.text(max_size=40))
def test_arbitrary_input_is_accepted_or_refused_with_a_reason(raw: str) -> None:
    for kind in (D, E):
        reason = ""
        try:
            value = domain.normalise(kind, raw)
        except RuleValueError as exc:
            reason = str(exc)
            assert reason
            continue
        assert not any(c in value for c in " ,;\t\n")
        assert value == value.lower()


def test_secrets_and_codes() -> None:
    secrets = {tokens.new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(len(t) == 43 for t in secrets)
    codes = [signin.new_code() for _ in range(200)]
    assert all(len(c) >= 8 and set(c) <= set(signin.CODE_ALPHABET) for c in codes)
    assert not set("0O1IL2Z5S8B") & set(signin.CODE_ALPHABET)
    assert signin.normalise_code(" acd-efg hjk ") == "ACDEFGHJK"
    assert signin.hash_code("c1", "ABC") != signin.hash_code("c2", "ABC")
    assert tokens.hash_secret("t") != "t"


def test_session_and_window_arithmetic() -> None:
    start = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    times = sessions.session_times(start)
    assert times.idle_expires_at - start == timedelta(minutes=30)
    assert times.expires_at - start == timedelta(hours=12)
    late = times.expires_at - timedelta(minutes=5)
    assert sessions.refreshed_idle(late, times.expires_at) == times.expires_at
    window = signin.rate_window(datetime(2026, 1, 1, 12, 7, 30, tzinfo=UTC), 900)
    assert window.resets_at == datetime(2026, 1, 1, 12, 15, tzinfo=UTC)
    assert (
        signin.retry_after_seconds(
            datetime(2026, 1, 1, 12, 14, 59, 500000, tzinfo=UTC), window.resets_at
        )
        == 1
    )


def test_per_portal_buckets_are_per_tenant_and_windows_are_shared() -> None:
    now = datetime(2026, 1, 1, 12, 7, 30, tzinfo=UTC)
    per_portal = signin.RateLimit("portal", 300, 60)
    demo, other = signin.buckets(now, [(per_portal, "demo", "bg_1"), (per_portal, "other", "bg_1")])
    assert demo != other
    assert (demo.window, demo.resets_at) == (other.window, other.resets_at)
    assert signin.retry_after(now, [(demo, True), (other, True)]) == 0
    assert signin.retry_after(now, [(demo, True), (other, False)]) == 30
