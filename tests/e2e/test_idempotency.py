"""Double submits over the real stack (issue 14, item 9): every mutating form carries an
idempotency key, the JSON API takes `Idempotency-Key`; a repeat answers the first change and
publishes nothing. "Published once" is read from the gateway's log: one line per publish, in
order, so a keyless marker change published after the repeats bounds the count."""

import asyncio
import random
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.support.portal import api_headers, csrf_field, sign_in
from tests.support.services import DevPortal, active_bill_group
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

_KEY_FIELD = re.compile(r'name="idempotency_key" value="([^"]+)"')


def key_field(html: str) -> str:
    match = _KEY_FIELD.search(html)
    assert match, "form has no idempotency key"
    return match.group(1)


def card_number() -> str:
    """A Luhn-valid Visa number of its own: its last four identify the card."""
    digits = [4] + [random.randint(0, 9) for _ in range(14)]
    total = 0
    for i, d in enumerate(reversed(digits)):
        doubled = d * 2 if i % 2 == 0 else d
        total += doubled - 9 if doubled > 9 else doubled
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


@pytest.fixture(scope="module")
def customer(portal: DevPortal) -> Iterator[httpx.Client]:
    bg = active_bill_group(portal, 0)
    address = f"idem-{uuid.uuid4().hex[:8]}@{bg['customer_domain']}"
    aws = portal.ready["endpoints"]["AWS_ENDPOINT_URL"]
    client = sign_in(portal.ready["gateway_url"], bg["portal_url"], address, aws)
    yield client
    client.close()


def published(portal: DevPortal) -> int:
    log = (portal.base / "logs" / "gateway.log").read_text(errors="replace")
    return sum("customer change published" in line for line in log.splitlines())


def count_publishes(portal: DevPortal, customer: httpx.Client, act: Callable[[], Any]) -> int:
    """How many changes `act` published: the log lines up to a keyless marker change."""
    before = published(portal)
    act()
    marker = customer.post(
        "/api/portal/v1/billing-profile",
        json={"po_number": f"MARK-{uuid.uuid4().hex[:6]}"},
        headers=api_headers(customer),
    )
    assert marker.status_code == 202, marker.text
    # The gateway logs (and flushes) a publish before it answers: the marker's line is in.
    return published(portal) - before - 1


def twice(send: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """A double click: two submits in flight at once."""
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda _: send(), range(2)))


def test_a_double_add_card_adds_one_card(portal: DevPortal, customer: httpx.Client) -> None:
    number = card_number()
    form = customer.get("/portal/payment-methods/new")
    data = {
        "_csrf_token": csrf_field(form.text),
        "idempotency_key": key_field(form.text),
        "type": "card",
        "number": number,
        "exp_month": "7",
        "exp_year": "2033",
        "holder_name": "Double Click",
    }
    answers: list[httpx.Response] = []

    def submit_twice_then_once_more() -> None:
        answers.extend(twice(lambda: customer.post("/portal/payment-methods", data=data)))
        answers.append(customer.post("/portal/payment-methods", data=data))  # Back, resend

    assert count_publishes(portal, customer, submit_twice_then_once_more) == 1
    assert [a.status_code for a in answers] == [303, 303, 303]
    assert len({a.headers["location"] for a in answers}) == 1
    change_id = answers[0].headers["location"].rsplit("/", 1)[1]

    async def card_listed() -> bool:
        answer = await asyncio.to_thread(customer.get, "/api/portal/v1/payment-methods")
        return any(m.get("last4") == number[-4:] for m in answer.json()["items"])

    asyncio.run(eventually(card_listed, within=60, what="the new card listed"))
    cards = [
        m
        for m in customer.get("/api/portal/v1/payment-methods").json()["items"]
        if m.get("last4") == number[-4:] and m.get("exp_year") == 2033
    ]
    assert len(cards) == 1
    added = [
        a
        for a in customer.get("/api/portal/v1/activity").json()["items"]
        if a["kind"] == "payment_method_added" and a["after"]["last4"] == number[-4:]
    ]
    assert [a["change_id"] for a in added] == [change_id]


def test_two_billing_profile_submits_publish_one_change(
    portal: DevPortal, customer: httpx.Client
) -> None:
    form = customer.get("/portal/billing-details")
    # Two forms on the page, two keys: each is a change of its own.
    assert len(set(_KEY_FIELD.findall(form.text))) == 2
    po = f"TWICE-{uuid.uuid4().hex[:6]}"
    data = {
        "_csrf_token": csrf_field(form.text),
        "idempotency_key": key_field(form.text),
        "po_number": po,
    }
    answers: list[httpx.Response] = []

    def submit_twice() -> None:
        answers.extend(twice(lambda: customer.post("/portal/billing-details", data=data)))

    assert count_publishes(portal, customer, submit_twice) == 1
    assert [a.status_code for a in answers] == [303, 303]
    assert answers[0].headers["location"] == answers[1].headers["location"]
    activity = customer.get("/api/portal/v1/activity").json()["items"]
    assert len([a for a in activity if (a["after"] or {}).get("po_number") == po]) == 1
    # The same form sent again with another value is refused, and changes nothing.
    other = customer.post("/portal/billing-details", data={**data, "po_number": po + "-2"})
    assert other.status_code == 422
    assert "already sent with other values" in other.text


def test_an_api_repeat_returns_the_first_result(portal: DevPortal, customer: httpx.Client) -> None:
    key = str(uuid.uuid4())
    body = {"po_number": f"API-{uuid.uuid4().hex[:6]}"}
    headers = {**api_headers(customer), "Idempotency-Key": key}
    answers: list[httpx.Response] = []

    def send_three_times() -> None:
        answers.extend(
            twice(
                lambda: customer.post("/api/portal/v1/billing-profile", json=body, headers=headers)
            )
        )
        answers.append(customer.post("/api/portal/v1/billing-profile", json=body, headers=headers))

    assert count_publishes(portal, customer, send_three_times) == 1
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert len({a.json()["change_id"] for a in answers}) == 1
    assert len({a.headers["location"] for a in answers}) == 1
    # A repeat once the change is settled answers its current state, same id and shape.
    assert set(answers[2].json()) == set(answers[0].json())
    reused = customer.post(
        "/api/portal/v1/billing-profile", json={"po_number": "DIFFERENT"}, headers=headers
    )
    assert reused.status_code == 422
    assert reused.json()["error"] == "idempotency_key_reused"
    malformed = customer.post(
        "/api/portal/v1/billing-profile",
        json=body,
        headers={**api_headers(customer), "Idempotency-Key": "has spaces"},
    )
    assert malformed.status_code == 400
    assert set(malformed.json()["fields"]) == {"idempotency-key"}


def test_a_double_submitted_staff_rotation_rotates_once(portal: DevPortal) -> None:
    bg = active_bill_group(portal, 1)["bill_group_id"]
    gateway = portal.ready["gateway_url"]
    admin = {"Authorization": f"Bearer {portal.ready['admin_api_key']}"}
    audit = f"{gateway}/api/admin/v1/bill-groups/{bg}/portal/audit"

    def rotations() -> int:
        items = httpx.get(audit, headers=admin, timeout=30).json()["items"]
        return sum(item["action"] == "link.rotated" for item in items)

    with httpx.Client(base_url=gateway, timeout=30) as staff:
        form = staff.get("/staff/sign-in")
        signed_in = staff.post(
            "/staff/sign-in",
            data={
                "_csrf_token": csrf_field(form.text),
                "api_key": portal.ready["admin_api_key"],
                "bill_group_id": bg,
            },
        )
        assert signed_in.status_code == 303, signed_in.text
        confirm = staff.get(f"/staff/bill-groups/{bg}/rotate")
        data = {"_csrf_token": csrf_field(confirm.text), "idempotency_key": key_field(confirm.text)}
        before = rotations()
        answers = twice(lambda: staff.post(f"/staff/bill-groups/{bg}/rotate", data=data))
    assert [a.status_code for a in answers] == [303, 303]
    assert rotations() == before + 1
