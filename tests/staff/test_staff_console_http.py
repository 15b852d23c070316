"""Staff links against the running services: access's redeem endpoint and the console's
refusal pages — tampered, expired, reused, other-tenant, unsigned links."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from portal_access.staff_links import CLOCK_SKEW_SECONDS, Scope, issue
from tests.staff.conftest import STAFF, Console

pytestmark = pytest.mark.integration

REDEEM = "/internal/v1/staff-links/redeem"


def _params(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


def _redeem(console: Console, params: dict[str, str], consume: bool = True) -> httpx.Response:
    return httpx.post(
        console.access + REDEEM,
        json={"params": params, "consume": consume},
        headers=console.internal_headers,
        timeout=10,
    )


def test_a_link_checks_then_redeems_once(console: Console) -> None:
    bg = console.bill_group()["bill_group_id"]
    params = _params(console.staff_link(bill_group=bg))
    assert params["staff"] == STAFF

    checked = _redeem(console, params, consume=False)
    assert checked.status_code == 200, checked.text
    assert _redeem(console, params, consume=False).status_code == 200  # checking uses nothing

    redeemed = _redeem(console, params)
    assert redeemed.status_code == 200
    body = redeemed.json()
    assert (body["tenant_id"], body["scope"], body["scope_id"]) == ("demo", "bill_group", bg)
    assert body["staff_email"] == STAFF

    again = _redeem(console, params)
    assert (again.status_code, again.json()["error"]) == (410, "reused")
    assert _redeem(console, params, consume=False).status_code == 410


def test_two_concurrent_redeems_of_one_link_give_one_session(console: Console) -> None:
    bg = console.bill_group()["bill_group_id"]
    params = _params(console.staff_link(bill_group=bg))
    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(lambda _: _redeem(console, params).status_code, range(8)))
    assert statuses == [200] + [410] * 7


def test_tampered_links_are_refused(console: Console) -> None:
    bg = console.bill_group()["bill_group_id"]
    params = _params(console.staff_link(bill_group=bg))
    for field, value in (("staff", "boss@merchant.example"), ("exp", str(int(time.time()) + 60))):
        answer = _redeem(console, {**params, field: value})
        assert (answer.status_code, answer.json()["error"]) == (403, "bad_signature")
    unsigned = {k: v for k, v in params.items() if k != "sig"}
    assert _redeem(console, unsigned).json()["error"] == "malformed"
    # The untouched link still works: refusals consumed nothing.
    assert _redeem(console, params).status_code == 200


def test_expired_links_are_refused_with_gone(console: Console) -> None:
    bg = console.bill_group()["bill_group_id"]
    secret = console.cli("staff-secret", "create", "--tenant", "demo")
    past = int(time.time()) - 3600
    params = issue(
        tenant_id="demo",
        scope=Scope.BILL_GROUP,
        scope_id=bg,
        staff_email=STAFF,
        now=past,
        minutes=60 - 2 * CLOCK_SKEW_SECONDS // 60,
        secret=secret,
    )
    answer = _redeem(console, params)
    assert (answer.status_code, answer.json()["error"]) == (410, "expired")


def test_other_tenant_links_are_refused(console: Console) -> None:
    bg = console.bill_group()["bill_group_id"]
    other_secret = console.cli("staff-secret", "create", "--tenant", "other")
    now = int(time.time())
    # Signed by the other tenant's secret but claiming tenant demo.
    claims_demo = issue(
        tenant_id="demo",
        scope=Scope.BILL_GROUP,
        scope_id=bg,
        staff_email=STAFF,
        now=now,
        minutes=10,
        secret=other_secret,
    )
    answer = _redeem(console, claims_demo)
    assert (answer.status_code, answer.json()["error"]) == (403, "bad_signature")
    # Honestly signed by the other tenant, but for demo's bill group.
    honest = issue(
        tenant_id="other",
        scope=Scope.BILL_GROUP,
        scope_id=bg,
        staff_email=STAFF,
        now=now,
        minutes=10,
        secret=other_secret,
    )
    answer = _redeem(console, honest)
    assert (answer.status_code, answer.json()["error"]) == (403, "unknown_scope")


def test_redeem_needs_the_internal_token(console: Console) -> None:
    answer = httpx.post(console.access + REDEEM, json={"params": {}}, timeout=10)
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("edit", "status", "words"),
    [
        (lambda p: {**p, "bill_group": "bg_other"}, 403, "changed after it was issued"),
        (lambda p: {k: v for k, v in p.items() if k != "sig"}, 403, "incomplete or damaged"),
    ],
)
def test_the_console_shows_a_clear_refusal_page(
    console: Console, edit: object, status: int, words: str
) -> None:
    bg = console.bill_group()["bill_group_id"]
    params = edit(_params(console.staff_link(bill_group=bg)))  # type: ignore[operator]
    page = httpx.get(console.gateway + "/staff/enter", params=params, timeout=10)
    assert page.status_code == status
    assert "This staff link cannot be used" in page.text
    assert words in page.text
    assert "staff_session" not in page.headers.get("set-cookie", "")


def test_the_console_refuses_a_reused_link_with_gone(console: Console) -> None:
    bg = console.bill_group()["bill_group_id"]
    params = _params(console.staff_link(bill_group=bg))
    with httpx.Client(base_url=console.gateway, timeout=10) as browser:
        confirm = browser.get("/staff/enter", params=params)
        assert confirm.status_code == 200
        csrf = browser.cookies["csrftoken"]
        entered = browser.post("/staff/enter", data={**params, "_csrf_token": csrf})
        assert entered.status_code == 303
        assert entered.headers["location"] == f"/staff/bill-groups/{bg}"
        cookie = entered.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=strict" in cookie
        assert "path=/staff" in cookie
        again = browser.get("/staff/enter", params=params)
        assert again.status_code == 410
        assert "already used" in again.text


def test_console_pages_need_a_staff_session(console: Console) -> None:
    bg = console.bill_group()["bill_group_id"]
    answer = httpx.get(f"{console.gateway}/staff/bill-groups/{bg}", timeout=10)
    assert answer.status_code == 401
    assert "not signed in to the staff console" in answer.text


def test_forms_without_csrf_are_refused(console: Console) -> None:
    bg = console.bill_group()["bill_group_id"]
    params = _params(console.staff_link(bill_group=bg))
    answer = httpx.post(console.gateway + "/staff/enter", data=params, timeout=10)
    assert answer.status_code == 403
    # The refused POST did not use the link up.
    assert _redeem(console, params, consume=False).status_code == 200


def test_local_dev_sign_in_with_the_admin_api_key(console: Console) -> None:
    bg = console.bill_group()["bill_group_id"]
    with httpx.Client(base_url=console.gateway, timeout=10) as browser:
        form = browser.get("/staff/sign-in")
        assert form.status_code == 200
        assert "Local development only" in form.text
        csrf = browser.cookies["csrftoken"]
        wrong = browser.post(
            "/staff/sign-in",
            data={"api_key": "pak_wrong", "bill_group_id": bg, "_csrf_token": csrf},
        )
        assert wrong.status_code == 400
        assert "This admin API key is not valid." in wrong.text
        assert 'aria-invalid="true"' in wrong.text
        key = str(console.ready["admin_api_key"])
        unknown = browser.post(
            "/staff/sign-in",
            data={"api_key": key, "bill_group_id": "bg_nope", "_csrf_token": csrf},
        )
        assert unknown.status_code == 400
        assert "No bill group with this id" in unknown.text
        right = browser.post(
            "/staff/sign-in", data={"api_key": key, "bill_group_id": bg, "_csrf_token": csrf}
        )
        assert right.status_code == 303
        page = browser.get(right.headers["location"])
        assert page.status_code == 200
        assert 'signed in as <span class="staff-bar__email">admin API key' in page.text
        # The key's own scope holds: another bill group is not reachable from this session.
        other = browser.get("/staff/bill-groups/bg_globex")
        assert other.status_code == 404


def test_a_session_reaches_only_its_scope_and_ends_at_sign_out(console: Console) -> None:
    bg = console.bill_group()
    params = _params(console.staff_link(bill_group=bg["bill_group_id"]))
    with httpx.Client(base_url=console.gateway, timeout=10) as browser:
        browser.get("/staff/enter", params=params)
        csrf = browser.cookies["csrftoken"]
        assert browser.post("/staff/enter", data={**params, "_csrf_token": csrf}).is_redirect
        assert browser.get(f"/staff/bill-groups/{bg['bill_group_id']}").status_code == 200
        # Neither another bill group nor even its own account: the link named one bill group.
        assert browser.get("/staff/bill-groups/bg_globex").status_code == 404
        assert browser.get(f"/staff/accounts/{bg['account_id']}").status_code == 404
        signed_out = browser.post("/staff/sign-out", data={"_csrf_token": csrf})
        assert signed_out.status_code == 200
        assert 'staff_session=""' in signed_out.headers["set-cookie"]
        assert browser.get(f"/staff/bill-groups/{bg['bill_group_id']}").status_code == 401
