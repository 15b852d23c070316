"""Every database command on the customer's path reads (or writes) documents by `_id` only.

DESIGN.md ("Scale"): a page costs the same with 1k or 1M bill groups because every request
on a customer's path reads documents by `_id` (equality or `$in`). This test puts a recording
wire-protocol proxy (`tests.support.mongo_proxy`) between MongoDB and the services that serve
the customer (access, billing-view, the gateway: one listener each, so every command is
tagged with its sender), runs them as processes (`<script> run`), seeds the simulator's demo,
signs a customer in through the emailed link and loads every portal page and every JSON API
read. The commands sent while one request was in flight are that request's; the test fails
on any filter that does not select by `_id` (equality or `$in`; further conditions beside an
`_id` equality, as an optimistic write's revision guard, are allowed) and on more than
`MAX_COMMANDS_PER_PAGE` commands for one page or API read (`MAX_COMMANDS_SIGNIN` for a
sign-in step: three rate-limit counters and a challenge are its design). The gateway runs
with its session cache off, so every request is counted as a cold one.

Not the customer's path, so never counted: the driver's own handshake and monitoring
(`hello`, `isMaster`, `ping`, ...), index creation at start-up, the outbox relay (commands
touching `outbox` / `has_outbox`) and expiry housekeeping (`purge_at`). Projection writes do
not happen during the pages: the test waits for marker documents that show the seed applied
(the last event of every bill group's partition, every entity) before the first request.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from portal_contracts.topics import TOPICS
from portal_localstack.kafka import create_topics
from portal_localstack.testing import Isolation, StackHandle
from tests.support.mongo_proxy import Command, MongoProxy, has_key
from tests.support.portal import csrf_field, wait_for_verify_link
from tests.support.proxied_portal import ProxiedPortal

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]

# A cold request (no session in the gateway's cache): the session read and its idle-expiry
# touch, then at most three read-model documents (portal view, entity, one `$in` of the
# page's invoices). Fixed whatever the number of bill groups, tenants or invoices.
MAX_COMMANDS_PER_PAGE = 5
# A cold sign-in request: the portal by key (pointer + portal) for the page, branding, and in
# access the portal by key again, three rate-limit windows (address, IP, portal) and the
# challenge with its public-id pointer.
MAX_COMMANDS_SIGNIN = 11
RECORDED = ("access", "billing-view", "gateway")
BACKGROUND_COMMANDS = frozenset({"createindexes", "listindexes", "dropindexes"})
BACKGROUND_FIELDS = ("outbox", "has_outbox", "purge_at")
# The stand-in scans for these when the filter has more than `_id`; findAndModify does not.
SCANNING_WRITES = frozenset({"update"})


@dataclass
class Step:
    name: str
    commands: list[Command]
    status: int
    sign_in: bool = False


def is_background(command: Command) -> bool:
    """Driver, start-up and relay/housekeeping work: the relay reads owed entries (projection
    `outbox: 1`) and clears them (`$pull` / `has_outbox: false`); a feature's own write that
    pushes an entry is the customer's and counts."""
    if command.is_driver or command.name.lower() in BACKGROUND_COMMANDS:
        return True
    if any(has_key(query, key) for query in command.filters for key in BACKGROUND_FIELDS):
        return True
    projection = command.document.get("projection") or command.document.get("fields") or {}
    if isinstance(projection, Mapping) and projection.get("outbox") in (1, True):
        return True
    updates = [s.get("u") for s in command.statements("updates")]
    updates.append(command.document.get("update"))
    for update in updates:
        if isinstance(update, Mapping) and (
            "outbox" in (update.get("$pull") or {})
            or (update.get("$set") or {}).get("has_outbox") is False
        ):
            return True
    return False


def selects_by_id(query: Mapping[str, Any]) -> bool:
    """`{_id: value}` / `{_id: {$eq: v}}` / `{_id: {$in: [...]}}`, optionally with guards."""
    if "_id" not in query or any(key.startswith("$") for key in query):
        return False
    value = query["_id"]
    if isinstance(value, Mapping) and value and all(str(k).startswith("$") for k in value):
        return set(value) <= {"$eq", "$in"}
    return True


def shape(value: Any, depth: int = 0) -> str:
    """A filter with its values hidden: the fields and operators are what the test judges."""
    if isinstance(value, Mapping):
        if depth > 0 and not any(str(k).startswith("$") for k in value):
            return "{…}"
        inner = ", ".join(f"{k}: {shape(v, depth + 1)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return f"[{len(value)}]"
    return "?"


def violations_of(step: Step) -> list[str]:
    found: list[str] = []
    for command in step.commands:
        for query in command.filters:
            if not selects_by_id(query):
                found.append(
                    f"{step.name}: {command.source} {command.database}.{command.collection} "
                    f"{command.name} filter {shape(query)} does not select by _id"
                )
    limit = MAX_COMMANDS_SIGNIN if step.sign_in else MAX_COMMANDS_PER_PAGE
    if len(step.commands) > limit:
        found.append(f"{step.name}: {len(step.commands)} commands (at most {limit})")
    return found


def note(command: Command) -> str:
    if not all(selects_by_id(q) for q in command.filters):
        return "   <-- not by _id"
    if command.name.lower() in SCANNING_WRITES and any(len(q) > 1 for q in command.filters):
        # Allowed (MongoDB serves it from the _id index), but mongo-java-server 1.47 scans
        # the collection for an `update` whose filter has more than `_id` (measured: ~3 ms
        # per statement at 5k documents, 0.05 ms for `{_id}` alone; findAndModify with the
        # same filter uses the index).
        return "   (_id + guard: a scan on mongo-java-server)"
    return ""


def table(steps: list[Step], background: list[Command]) -> str:
    lines = [
        f"{'request':<44}{'status':>6}{'cmds':>5}  commands (service db.collection name filter)"
    ]
    for step in steps:
        first = True
        rows = [
            f"{c.source} {c.database.split('_', 1)[-1]}.{c.collection} {c.name} "
            + " ".join(shape(q) for q in c.filters)
            + note(c)
            for c in step.commands
        ] or ["(none)"]
        for row in rows:
            head = f"{step.name:<44}{step.status:>6}{len(step.commands):>5}" if first else " " * 55
            lines.append(f"{head}  {row}")
            first = False
    if background:
        lines.append(f"background during requests (not counted): {len(background)} commands")
        seen: dict[str, int] = {}
        for c in background:
            key = f"{c.source} {c.collection} {c.name} {' '.join(shape(q) for q in c.filters)}"
            seen[key] = seen.get(key, 0) + 1
        lines += [f"    {n:>3} x {key}" for key, n in sorted(seen.items())]
    return "\n".join(lines)


class Recorder:
    def __init__(self, proxy: MongoProxy) -> None:
        self.proxy = proxy
        self.steps: list[Step] = []
        self.background: list[Command] = []

    def __call__(
        self, name: str, request: Callable[[], httpx.Response], *, sign_in: bool = False
    ) -> httpx.Response:
        started = time.monotonic()
        response = request()
        # The proxy timestamps a frame when it reads it; the service sent it before answering.
        sent = self.proxy.between(started, time.monotonic())
        mine = [c for c in sent if c.source in RECORDED]
        self.background += [c for c in mine if is_background(c)]
        step = Step(name, [c for c in mine if not is_background(c)], response.status_code, sign_in)
        self.steps.append(step)
        return response


def _wait(check: Callable[[], bool], what: str, within: float = 90.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {within}s")
        time.sleep(0.2)


def _seed_applied(portal: ProxiedPortal, seeded: dict[str, Any], key: str) -> None:
    """Markers: the last event of each bill group's partition (its `_0001` invoice, paid at
    version 2) in billing-view, every entity's branding, every bill group's contract status
    in access. Past these, nothing of the seed is left to project."""
    internal = {"Authorization": f"Bearer {portal.internal_api_token}"}
    view = portal.url("billing-view")
    tenant = seeded["tenant_id"]
    entity_names = {e["entity_id"]: e["name"] for e in seeded["entities"]}
    with httpx.Client(timeout=10) as http:
        for bg in seeded["bill_groups"]:
            base = f"{view}/internal/v1/tenants/{tenant}/bill-groups/{bg['bill_group_id']}"
            last = f"inv_{bg['bill_group_id'].removeprefix('bg_')}_0001"

            def invoice_paid(base: str = base, last: str = last) -> bool:
                answer = http.get(f"{base}/invoices/{last}", headers=internal)
                return answer.status_code == 200 and answer.json().get("status") == "paid"

            def branded(base: str = base, name: str = entity_names[bg["entity_id"]]) -> bool:
                answer = http.get(f"{base}/branding", headers=internal)
                return answer.status_code == 200 and name in answer.text

            def contract(bg: dict[str, Any] = bg) -> bool:
                answer = http.get(
                    f"{portal.gateway_url}/api/admin/v1/bill-groups/{bg['bill_group_id']}/portal",
                    headers={"Authorization": f"Bearer {key}"},
                )
                return answer.status_code == 200 and bg["contract_status"] in answer.text

            _wait(invoice_paid, f"billing-view projected {last}")
            _wait(branded, f"billing-view branding of {bg['bill_group_id']}")
            _wait(contract, f"access projected {bg['bill_group_id']}")


def test_customer_path_selects_documents_by_id_only(
    stack: StackHandle, isolation: Isolation, tmp_path: Path
) -> None:
    asyncio.run(
        create_topics(stack.endpoints.kafka_bootstrap, list(TOPICS), prefix=isolation.topic_prefix)
    )
    proxy = MongoProxy.for_uri(stack.endpoints.mongodb_uri)
    portal = ProxiedPortal(
        stack_env=stack.env(),
        topic_prefix=isolation.topic_prefix,
        database=isolation.database,
        logs=tmp_path / "logs",
        mongodb_uris={name: proxy.listen(name) for name in RECORDED},
        # The relay still publishes at once when a write wakes it; no periodic sweeps.
        # No in-process session cache: every request shows what a cache miss costs (a
        # fresh replica, or the first request after SESSION_CACHE_SECONDS).
        extra_env={
            "access": {"RELAY_POLL_SECONDS": "3600"},
            "gateway": {"SESSION_CACHE_SECONDS": "0"},
        },
    )
    try:
        portal.start()
        seeded = portal.seed_demo()
        bg = next(b for b in seeded["bill_groups"] if b["contract_status"] == "active")
        key = portal.admin_key(seeded["tenant_id"])
        portal_url = portal.open_portal(key, bg["bill_group_id"], bg["customer_domain"])
        _seed_applied(portal, seeded, key)
        aws = stack.endpoints.aws_endpoint_url
        address = bg["customer_email"]
        record = Recorder(proxy)

        with httpx.Client(base_url=portal.gateway_url, timeout=30) as client:
            path = urlsplit(portal_url).path
            form = record("GET sign-in page", lambda: client.get(path), sign_in=True)
            record(
                "POST sign-in request",
                lambda: client.post(
                    f"{path}/signin", data={"email": address, "_csrf_token": csrf_field(form.text)}
                ),
                sign_in=True,
            )
            verify = urlsplit(wait_for_verify_link(aws, address)).path
            page = record("GET verify page", lambda: client.get(verify), sign_in=True)
            done = record(
                "POST verify",
                lambda: client.post(verify, data={"_csrf_token": csrf_field(page.text)}),
                sign_in=True,
            )
            assert done.status_code == 303, done.text

            api = "/api/portal/v1"
            listing = client.get(f"{api}/invoices", params={"limit": 5}).json()
            invoice_id = listing["items"][0]["invoice_id"]
            cursor = listing["next_cursor"]
            assert cursor, "the demo bill group has more than 5 invoices"
            reads = [
                ("GET /portal (overview)", "/portal"),
                ("GET /portal/billing-details", "/portal/billing-details"),
                ("GET /portal/subscriptions", "/portal/subscriptions"),
                ("GET /portal/contacts", "/portal/contacts"),
                ("GET /portal/contacts/billing/edit", "/portal/contacts/billing/edit"),
                ("GET /portal/payment-methods", "/portal/payment-methods"),
                ("GET /portal/payment-methods/new", "/portal/payment-methods/new"),
                ("GET /portal/invoices", "/portal/invoices"),
                ("GET /portal/invoices?status=open", "/portal/invoices?status=open"),
                ("GET /portal/invoices?status=paid", "/portal/invoices?status=paid"),
                ("GET /portal/invoices?cursor=(page 2)", f"/portal/invoices?cursor={cursor}"),
                ("GET /portal/invoices/{id}/pdf", f"/portal/invoices/{invoice_id}/pdf"),
                ("GET /portal/activity", "/portal/activity"),
                ("API session", f"{api}/session"),
                ("API overview", f"{api}/overview"),
                ("API subscriptions", f"{api}/subscriptions"),
                ("API payment-methods", f"{api}/payment-methods"),
                ("API invoices", f"{api}/invoices"),
                ("API invoices?status=overdue", f"{api}/invoices?status=overdue"),
                ("API invoices?status=open,overdue", f"{api}/invoices?status=open,overdue"),
                ("API invoices?limit=5&cursor=(page 2)", f"{api}/invoices?limit=5&cursor={cursor}"),
                ("API invoices/{id} (detail)", f"{api}/invoices/{invoice_id}"),
                ("API invoices/{id}/pdf", f"{api}/invoices/{invoice_id}/pdf"),
                ("API activity", f"{api}/activity"),
            ]
            for name, url in reads:
                record(name, functools.partial(client.get, url))

        report = table(record.steps, record.background)
        failed = [s for s in record.steps if s.status >= 400]
        assert not failed, f"requests failed: {[(s.name, s.status) for s in failed]}\n{report}"
        overview = next(s for s in record.steps if s.name.startswith("GET /portal (overview)"))
        assert overview.commands, f"no command recorded: is the proxy in the path?\n{report}"
        assert not proxy.errors, proxy.errors
        problems = [v for step in record.steps for v in violations_of(step)]
        assert not problems, "\n".join(["", *problems, "", report])
        print(report)
    finally:
        portal.stop()
        proxy.close()
