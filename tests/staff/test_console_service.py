"""Staff console use cases against an in-memory access."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from portal_gateway.clients.models import AccountPortals, AdminPortal, Grant
from portal_gateway.errors import (
    FormInvalidError,
    NotFoundError,
    StaffRefusedError,
    UpstreamError,
)
from portal_gateway.staff.domain import Scope, StaffSession
from portal_gateway.staff.service import StaffConsole, link_params
from tests.gateway.fakes import FakeAccess, refusal

T = TypeVar("T")
NOW = 1_800_000_000
BILL_GROUP_STAFF = StaffSession("t1", Scope.BILL_GROUP, "bg_1", "ops@merchant.example", NOW, NOW)
ACCOUNT_STAFF = StaffSession("t1", Scope.ACCOUNT, "acc_1", "ops@merchant.example", NOW, NOW)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def console(**kwargs: Any) -> tuple[StaffConsole, FakeAccess]:
    access = FakeAccess(admin=AdminPortal(bill_group_id="bg_1", enabled=True), **kwargs)
    return StaffConsole(access), access


def test_link_params_keep_only_the_signed_fields() -> None:
    assert link_params({"tenant": "t1", "sig": "s", "evil": "x"}) == {"tenant": "t1", "sig": "s"}


def test_checking_a_link_does_not_use_it_and_entering_does() -> None:
    grant = Grant(tenant_id="t1", scope=Scope.ACCOUNT, scope_id="acc_1", staff_email="a@m.example")
    service, access = console(grant=grant)
    assert run(service.check_link({})) == grant
    staff = run(service.enter({}, NOW))
    assert access.consumed == [False, True]
    assert (staff.tenant_id, staff.scope, staff.actor, staff.issued_at) == (
        "t1",
        Scope.ACCOUNT,
        "a@m.example",
        NOW,
    )
    assert staff.home == "/staff/accounts/acc_1"


def test_a_refused_link_keeps_accesss_status_and_words() -> None:
    reused = refusal(410, "reused", message="This staff link was already used.")
    service, _ = console(refuse_link=reused)
    with pytest.raises(StaffRefusedError) as refused:
        run(service.enter({}, NOW))
    assert (refused.value.status, refused.value.code) == (410, "reused")
    assert refused.value.message == "This staff link was already used."


def test_a_bill_group_outside_the_session_is_not_found() -> None:
    service, access = console(
        account=AccountPortals.model_validate({"items": [{"bill_group_id": "bg_1"}]})
    )
    with pytest.raises(NotFoundError):
        run(service.switch(BILL_GROUP_STAFF, "bg_2", True))
    with pytest.raises(NotFoundError):
        run(service.switch(ACCOUNT_STAFF, "bg_2", True))
    with pytest.raises(NotFoundError):
        run(service.account(BILL_GROUP_STAFF, "acc_1"))
    assert run(service.switch(ACCOUNT_STAFF, "bg_1", False)) == "disabled"
    assert access.admin_calls == [("switch:False", "bg_1")]


def test_rule_form_errors_and_accesss_conflicts_are_field_errors() -> None:
    service, access = console()
    with pytest.raises(FormInvalidError) as empty:
        run(service.add_rule(BILL_GROUP_STAFF, "bg_1", "domain", " "))
    assert (empty.value.status, set(empty.value.errors)) == (400, {"value"})
    assert access.admin_calls == []
    access.refuse_admin = refusal(409, "conflict", message="Covered by the domain rule x.com.")
    with pytest.raises(FormInvalidError) as conflict:
        run(service.add_rule(BILL_GROUP_STAFF, "bg_1", "email", "a@x.com"))
    assert conflict.value.status == 409
    assert conflict.value.errors == {"value": "Covered by the domain rule x.com."}


def test_actions_answer_with_their_notice() -> None:
    service, access = console()
    assert run(service.add_rule(BILL_GROUP_STAFF, "bg_1", "domain", "x.com")) == "rule_added"
    assert run(service.remove_rule(BILL_GROUP_STAFF, "bg_1", "r1")) == "rule_removed"
    assert run(service.rotate_link(BILL_GROUP_STAFF, "bg_1")) == "rotated"
    assert run(service.revoke_session(BILL_GROUP_STAFF, "bg_1", "s1")) == "session_revoked"
    assert run(service.revoke_session(BILL_GROUP_STAFF, "bg_1")) == "sessions_revoked"
    assert [action for action, _ in access.admin_calls] == [
        "add:{'kind': 'domain', 'value': 'x.com'}",
        "remove:r1",
        "rotate",
        "revoke:s1",
        "revoke:None",
    ]


def test_preview_goes_only_to_our_own_preview_path() -> None:
    service, access = console()
    assert run(service.preview_path(BILL_GROUP_STAFF, "bg_1")) == "/p/key_1/preview/tok_1"
    access.preview_url = "https://evil.example/elsewhere"
    with pytest.raises(UpstreamError):
        run(service.preview_path(BILL_GROUP_STAFF, "bg_1"))


def test_dev_sign_in_with_an_api_key_checks_it_at_access() -> None:
    service, access = console()
    with pytest.raises(FormInvalidError) as missing:
        run(service.sign_in_with_key("", "", NOW))
    assert set(missing.value.errors) == {"api_key", "bill_group_id"}
    with pytest.raises(FormInvalidError) as unknown:
        run(service.sign_in_with_key("key", "bg_9", NOW))
    assert set(unknown.value.errors) == {"bill_group_id"}
    staff = run(service.sign_in_with_key("key", "bg_1", NOW))
    assert (staff.api_key, staff.tenant_id, staff.scope_id) == ("key", None, "bg_1")
    access.refuse_admin = refusal(403, "forbidden")
    with pytest.raises(FormInvalidError) as rejected:
        run(service.sign_in_with_key("key", "bg_1", NOW))
    assert set(rejected.value.errors) == {"api_key"}


def test_bill_group_page_reads_portal_sessions_and_history() -> None:
    service, _ = console()
    view = run(service.bill_group(BILL_GROUP_STAFF, "bg_1", notice="rotated"))
    assert view.portal.enabled
    assert view.notice == "A new portal link was made. The old link no longer works."
    assert (view.rules, view.sessions, view.audit) == ([], [], [])
    assert view.contract.status == "unknown"
