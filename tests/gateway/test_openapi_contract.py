"""The gateway's two published OpenAPI documents against the running portal (schemathesis).

Every operation of `/api/portal/v1/openapi.json` (as a signed-in customer) and of
`/api/admin/v1/openapi.json` (with an admin API key) gets a bounded, derandomised set of
generated requests; each answer must not be a server error, must have a documented status,
content type and (for the admin API) headers, and must match its documented schema. Nothing
fails fast: every violation is collected and the test lists them all.

Everything runs in a tenant of its own (the demo scenario seeded again, its own API key), so
the fuzzed changes, rule removals, revocations and link rotations never meet another suite's
data. Signing out ends the test's own session, so it runs last.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.portal import sign_in
from tests.support.services import DevPortal
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
BILL_GROUP = "bg_globex"
MAX_EXAMPLES = 8
# Valid requests (documented answers, bodies as documented) and invalid ones (refused with a
# documented 4xx, never a 500).
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# Generated security parameters would replace the session's real cookie and CSRF header.
CONFIG = {"generation": {"with-security-parameters": False}}


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    admin_key: str
    customer: httpx.Client


def _run(portal: DevPortal, *argv: str) -> str:
    env = {
        **os.environ,
        **portal.ready["endpoints"],
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "eu-west-1",
        "ENVIRONMENT": "local",
        "INTERNAL_API_TOKEN": portal.ready["internal_api_token"],
        "SEAL_KEYS": portal.ready["seal_key"],
    }
    exe = str(Path(sys.executable).parent / argv[0])
    return subprocess.run(
        [exe, *argv[1:]], env=env, capture_output=True, text=True, check=True
    ).stdout


def _open_portal(admin: httpx.Client, domain: str) -> str:
    """The bill group's portal, on and open to `domain`, once access has projected it."""

    async def projected() -> bool:
        answer = await asyncio.to_thread(admin.get, f"/bill-groups/{BILL_GROUP}/portal")
        return answer.status_code == 200

    asyncio.run(eventually(projected, within=60, what=f"{BILL_GROUP} projected by access"))
    admin.put(f"/bill-groups/{BILL_GROUP}/portal", json={"enabled": True}).raise_for_status()
    rule = admin.post(
        f"/bill-groups/{BILL_GROUP}/portal/rules", json={"kind": "domain", "value": domain}
    )
    assert rule.status_code == 201, rule.text
    url: str = admin.get(f"/bill-groups/{BILL_GROUP}/portal").json()["portal_url"]
    return url


@pytest.fixture(scope="module")
def tenant(portal: DevPortal) -> Iterator[Tenant]:
    tenant_id = f"contract-{uuid.uuid4().hex[:6]}"
    _run(portal, "billing-simulator", "seed", "--tenant", tenant_id, "--label", "Contract")
    created = _run(
        portal, "portal-access", "api-key", "create", "--tenant", tenant_id, "--name", "contract"
    )
    key = created.strip().splitlines()[-1].strip()
    gateway = portal.ready["gateway_url"]
    with httpx.Client(
        base_url=f"{gateway}/api/admin/v1",
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    ) as admin:
        portal_url = _open_portal(admin, "contract.example")
    customer = sign_in(
        gateway,
        portal_url,
        f"fuzz-{uuid.uuid4().hex[:6]}@contract.example",
        portal.ready["endpoints"]["AWS_ENDPOINT_URL"],
    )
    yield Tenant(tenant_id, key, customer)
    customer.close()


def _fuzz(
    document: dict[str, Any],
    base_url: str,
    session: requests.Session,
    path_values: dict[str, str],
    last: Callable[[str], bool],
) -> list[str]:
    """Every violation of every operation; operations for which `last` holds run at the end.
    Half of the generated cases get the real `path_values` (a random id is only ever a 404;
    an accepted change adds its `change_id`) and no `Idempotency-Key`."""
    schema = schemathesis.openapi.from_dict(document, config=SchemathesisConfig.from_dict(CONFIG))
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # a document schemathesis cannot read
        operations.append(result.ok())
    # Changes first, so that reads see their results; `last` ones (ending the session) at the end.
    operations.sort(key=lambda op: (last(op.path), op.method.upper() == "GET"))
    failures: list[str] = []
    answered: dict[str, Counter[int]] = {op.label: Counter() for op in operations}
    for operation, mode in itertools.product(operations, MODES):

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode), real=st.booleans())
        def check(case: Any, real: bool) -> None:
            if real:
                for name, value in path_values.items():
                    if name in (case.path_parameters or {}):
                        case.path_parameters[name] = value
                # Derandomised keys repeat across operations (422 `idempotency_key_reused`).
                for name in [h for h in case.headers or {} if h.lower() == "idempotency-key"]:
                    del case.headers[name]
            try:
                answer = case.call_and_validate(base_url=base_url, session=session, checks=CHECKS)
                answered[case.operation.label][answer.status_code] += 1
                if answer.status_code == 202:  # a real change id for `GET /changes/{change_id}`
                    path_values.setdefault("change_id", answer.json()["change_id"])
            except (AssertionError, FailureGroup) as exc:  # collected, not raised
                failures.append(f"{case.method} {case.formatted_path}: {exc}")

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # no parameter, no body: nothing to break
    for label, statuses in answered.items():  # shown with -s: what the fuzzing reached
        print(f"{label}: {sorted(statuses.items())}")
    return failures


def test_portal_api_matches_its_document(portal: DevPortal, tenant: Tenant) -> None:
    gateway = portal.ready["gateway_url"]
    document = httpx.get(f"{gateway}/api/portal/v1/openapi.json", timeout=30).json()
    session = requests.Session()
    session.cookies.update(dict(tenant.customer.cookies.items()))
    session.headers["x-csrftoken"] = tenant.customer.cookies.get("csrftoken") or ""
    overview = tenant.customer.get("/api/portal/v1/overview")
    assert overview.status_code == 200, overview.text
    invoices = tenant.customer.get("/api/portal/v1/invoices").json()["items"]
    values = {"role": "billing"}
    if invoices:
        values["invoice_id"] = invoices[0]["invoice_id"]
    failures = _fuzz(document, gateway, session, values, lambda p: p.endswith("/signout"))
    assert not failures, "\n\n".join(failures[:20])


def test_admin_api_matches_its_document(portal: DevPortal, tenant: Tenant) -> None:
    gateway = portal.ready["gateway_url"]
    document = httpx.get(f"{gateway}/api/admin/v1/openapi.json", timeout=30).json()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {tenant.admin_key}"
    failures = _fuzz(document, gateway, session, {"bill_group_id": BILL_GROUP}, lambda _: False)
    assert not failures, "\n\n".join(failures[:20])
