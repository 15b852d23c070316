"""Security configuration: headers, cookie flags per environment, refused dev defaults."""

from typing import Any

import pytest
from pydantic import ValidationError

from portal_gateway.clients.models import Session
from portal_gateway.dev_mailbox.domain import parse_moto_messages
from portal_gateway.portal.domain.download import safe_filename
from portal_gateway.security import security_headers, session_cookies
from portal_gateway.settings import Settings

SESSION = Session(
    session_token="tok",
    tenant_id="t1",
    bill_group_id="bg1",
    email="jane@acme.com",
    read_only=False,
    expires_at="2099-01-01T00:00:00Z",
)


def test_csp_forbids_inline_scripts_and_framing() -> None:
    csp = security_headers("production")["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp
    assert "http:" not in directives["img-src"]


def test_other_headers() -> None:
    headers = security_headers("production")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" in headers
    assert "strict-transport-security" not in security_headers("local")


@pytest.mark.parametrize(("environment", "secure"), [("local", False), ("production", True)])
def test_session_cookie_flags(environment: str, secure: bool) -> None:
    settings = Settings(
        environment=environment,
        internal_api_token="x" * 40,
        csrf_secret="y" * 40,
        trusted_proxies="10.42.0.0/16",
    )
    assert settings.cookie_secure is secure
    for cookie in session_cookies(SESSION, "key", settings.cookie_secure):
        assert cookie.httponly
        assert cookie.samesite == "lax"
        assert cookie.secure is secure


@pytest.mark.parametrize(
    "overrides",
    [
        {"csrf_secret": "y" * 40, "trusted_proxies": "10.42.0.0/16"},
        {"internal_api_token": "x" * 40, "trusted_proxies": "10.42.0.0/16"},
        {
            "internal_api_token": "x" * 40,
            "csrf_secret": "y" * 40,
            "trusted_proxies": "10.42.0.0/16",
            "dev_mailbox_enabled": True,
        },
    ],
)
def test_production_refuses_dev_values(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Settings(environment="production", **overrides)


def test_local_defaults_work() -> None:
    settings = Settings()
    assert settings.http_port == 8000
    assert not settings.dev_mailbox_enabled


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("INV-2026-0001.pdf", "INV-2026-0001.pdf"),
        ('a"; x=y.pdf', "a_x_y.pdf"),
        ("../../etc/passwd", "etc_passwd.pdf"),
        ("", "invoice-i1.pdf"),
    ],
)
def test_download_filename_is_header_safe(name: str, expected: Any) -> None:
    assert safe_filename(name, "invoice-i1") == expected


def test_mailbox_parses_raw_and_simple_messages_newest_first() -> None:
    raw = (
        "From: portal@portal.example.com\r\nTo: jane@acme.com\r\nSubject: Sign in\r\n"
        "Content-Type: text/plain\r\n\r\nOpen http://127.0.0.1:8000/p/k/verify/t now.\r\n"
    )
    data = {
        "ses": {
            "RawMessage": [{"id": "r1", "raw_data": raw}],
            "Message": [
                {
                    "id": "s1",
                    "source": "a@b.c",
                    "subject": "Hi",
                    "body": "https://x.example/y",
                    "destinations": {"ToAddresses": ["z@b.c"]},
                }
            ],
        }
    }
    items = parse_moto_messages(data)
    assert [i.message_id for i in items] == ["s1", "r1"]
    assert items[1].links == ("http://127.0.0.1:8000/p/k/verify/t",)
    assert items[1].subject == "Sign in"
    assert items[0].recipients == "z@b.c"
