"""The client IP behind a proxy, over real sockets: the gateway believes `X-Forwarded-For` only
from `TRUSTED_PROXIES`, and access's sign-in rate limit per IP counts the address it resolved.

A gateway of the test's own (`portal-gateway run`, in front of the shared portal's access)
trusts 127.0.0.2 only. The "ingress" connects from 127.0.0.2 (all of 127/8 is loopback), an
untrusted caller from 127.0.0.3; neither address is the one the other suites sign in from, so
their buckets stay untouched.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import ValidationError

from portal_access.settings import Settings as AccessSettings
from portal_gateway.settings import Settings as GatewaySettings
from tests.support.gateway import GatewayProcess
from tests.support.portal import csrf_field
from tests.support.services import DevPortal, active_bill_group

pytestmark = pytest.mark.integration

PROXY = "127.0.0.2"
UNTRUSTED = "127.0.0.3"
PER_IP = AccessSettings.model_fields["signin_limit_per_ip"].default


@pytest.fixture(scope="module")
def gateway(portal: DevPortal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("client-ip") / "gateway.log"
    process = GatewayProcess.start(portal, log, TRUSTED_PROXIES=f"{PROXY}/32")
    yield process.url
    process.stop()


@pytest.fixture(scope="module")
def signin_path(portal: DevPortal) -> str:
    portal_url: str = active_bill_group(portal, 2)["portal_url"]
    return urlsplit(portal_url).path


def client(gateway: str, source: str) -> httpx.Client:
    """A connection from `source`, as a proxy (or an attacker) on that address would make."""
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=gateway, transport=transport, timeout=30)


def request_links(connection: httpx.Client, path: str, forwarded_for: list[str]) -> list[int]:
    """One sign-in request per `X-Forwarded-For` value, each for a different address (the
    per-address limit stays out of the way), answered with these statuses."""
    token = csrf_field(connection.get(path).text)
    statuses = []
    for value in forwarded_for:
        answer = connection.post(
            f"{path}/signin",
            data={"email": f"ip-{secrets.token_hex(5)}@example.org", "_csrf_token": token},
            headers={"x-forwarded-for": value},
        )
        statuses.append(answer.status_code)
    return statuses


def test_the_proxys_header_names_the_client_and_limits_each_client_alone(
    gateway: str, signin_path: str
) -> None:
    # Two customers behind the same ingress (TEST-NET-3 addresses, fresh for each run). The
    # first also sends a header of its own, which the ingress appends to: the client is the
    # right-most address the proxy did not add, never what the client wrote.
    first, second = (f"203.0.113.{n}" for n in secrets.SystemRandom().sample(range(1, 255), 2))
    claimed = [f"198.51.100.{n + 1}, {first}" for n in range(PER_IP + 1)]
    with client(gateway, PROXY) as ingress:
        flood = request_links(ingress, signin_path, claimed)
        other = request_links(ingress, signin_path, [second])
    assert flood[:PER_IP] == [200] * PER_IP
    assert flood[PER_IP] == 429, "the first client was not limited on its own address"
    assert other == [200], "a client behind the same proxy was limited with the first"


def test_a_forged_header_from_an_untrusted_peer_is_ignored(gateway: str, signin_path: str) -> None:
    forged = [f"198.51.100.{n % 254 + 1}" for n in range(PER_IP + 1)]
    with client(gateway, UNTRUSTED) as attacker:
        statuses = request_links(attacker, signin_path, forged)
    # Counted on the peer's own address, whatever it claims: the limit holds.
    assert statuses[:PER_IP] == [200] * PER_IP
    assert statuses[PER_IP] == 429


def test_access_takes_a_client_ip_only_from_the_gateway(portal: DevPortal) -> None:
    """access's sign-in call carries the client IP in its body; only a caller holding the
    internal token (the gateway) may make it."""
    access = f"http://127.0.0.1:{portal.ready['service_ports']['access']}"
    body = {"portal_key": "any", "email": "x@example.org", "client_ip": "203.0.113.1"}
    answer = httpx.post(f"{access}/internal/v1/signin/request", json=body, timeout=30)
    assert answer.status_code == 401


def production(trusted_proxies: str | None = None) -> GatewaySettings:
    values = {"environment": "production", "internal_api_token": "t" * 32, "csrf_secret": "c" * 32}
    if trusted_proxies is not None:
        values["trusted_proxies"] = trusted_proxies
    return GatewaySettings.model_validate(values)


def test_production_names_its_proxies() -> None:
    with pytest.raises(ValidationError, match="TRUSTED_PROXIES"):
        production()
    settings = production("10.42.0.0/16, 10.43.0.7")
    assert settings.trusted_proxy_networks == ["10.42.0.0/16", "10.43.0.7/32"]


@pytest.mark.parametrize("value", ["*", "10.42.0.1/16", "ingress-nginx", ""])
def test_trusted_proxies_are_addresses_or_networks(value: str) -> None:
    # uvicorn would take "*" (everyone) or a name silently; a typo must not trust the world.
    with pytest.raises(ValidationError):
        GatewaySettings.model_validate({"trusted_proxies": value})
