"""Customer-side helpers over the real gateway: sign in through the emailed link (read back
from moto's SES), then use the returned client like a browser would (cookies + CSRF)."""

from __future__ import annotations

import email
import re
import time
from email import policy
from urllib.parse import urlsplit

import boto3
import httpx

from portal_localstack.aws import sent_emails

_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
_VERIFY_LINK = re.compile(r"https?://[^\s\"'<>]+/p/[A-Za-z0-9_-]+/verify/[A-Za-z0-9_-]+")


def csrf_field(html: str) -> str:
    match = _CSRF_FIELD.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def _text_of(message: dict[str, object]) -> str:
    raw = message.get("raw_data")
    if raw:
        parsed = email.message_from_string(str(raw), policy=policy.default)
        parts = [
            str(p.get_content()) for p in parsed.walk() if p.get_content_type() == "text/plain"
        ]
        return "\n".join(parts)
    return str(message.get("body", ""))


def _recipients(message: dict[str, object]) -> str:
    raw = message.get("raw_data")
    if raw:
        return str(email.message_from_string(str(raw), policy=policy.default).get("To", ""))
    return str(message.get("destinations", ""))


def wait_for_verify_link(aws_endpoint: str, address: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(sent_emails(aws_endpoint)):
            if address in _recipients(message):
                match = _VERIFY_LINK.search(_text_of(message))
                if match:
                    return match.group(0)
        time.sleep(0.3)
    raise AssertionError(f"no sign-in email for {address} within {timeout}s")


_CODE = re.compile(r"one-time code[^:]*:\s*([0-9A-Za-z-]+)")


def wait_for_code(aws_endpoint: str, address: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in reversed(sent_emails(aws_endpoint)):
            if address in _recipients(message):
                match = _CODE.search(_text_of(message))
                if match:
                    return match.group(1)
        time.sleep(0.3)
    raise AssertionError(f"no sign-in code for {address} within {timeout}s")


def count_emails_to(aws_endpoint: str, address: str) -> int:
    return sum(1 for m in sent_emails(aws_endpoint) if address in _recipients(m))


def request_link(client: httpx.Client, portal_url: str, address: str) -> httpx.Response:
    form = client.get(portal_url)
    form.raise_for_status()
    path = urlsplit(portal_url).path
    return client.post(
        f"{path}/signin", data={"email": address, "_csrf_token": csrf_field(form.text)}
    )


def sign_in(gateway_url: str, portal_url: str, address: str, aws_endpoint: str) -> httpx.Client:
    """A client holding a customer session for `address` (which must have access)."""
    client = httpx.Client(base_url=gateway_url, timeout=30)
    answer = request_link(client, portal_url, address)
    assert answer.status_code == 200, answer.text
    link = wait_for_verify_link(aws_endpoint, address)
    verify_path = urlsplit(link).path
    page = client.get(verify_path)
    assert page.status_code == 200
    done = client.post(verify_path, data={"_csrf_token": csrf_field(page.text)})
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/portal"
    return client


def api_headers(client: httpx.Client) -> dict[str, str]:
    """What a JS client of the JSON API sends on mutating calls."""
    return {"x-csrftoken": client.cookies.get("csrftoken") or ""}


def stored_document(aws_endpoint: str, document: dict[str, str]) -> bytes:
    """The bytes upstream stored in S3 for an invoice's document reference."""
    s3 = boto3.client(
        "s3",
        endpoint_url=aws_endpoint,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    body: bytes = s3.get_object(Bucket=document["bucket"], Key=document["key"])["Body"].read()
    return body
