"""The local stack's AWS side (moto): region, sender domain, and what must exist before use."""

from __future__ import annotations

from typing import Any

import boto3
import httpx

SENDER_DOMAIN = "portal.example.com"
AWS_REGION = "eu-west-1"


def prepare_aws(endpoint_url: str) -> None:
    """Verify the portal's sender domain in moto (SES rejects unverified senders)."""
    ses = boto3.client(
        "sesv2",
        endpoint_url=endpoint_url,
        region_name=AWS_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's fixed fake credentials
    )
    ses.create_email_identity(EmailIdentity=SENDER_DOMAIN)


def sent_emails(endpoint: str) -> list[dict[str, Any]]:
    """Every message moto's SES has accepted (Simple and Raw), oldest first."""
    data = httpx.get(f"{endpoint}/moto-api/data.json", timeout=5).json()
    ses = data.get("ses", {})
    messages: list[dict[str, Any]] = []
    for kind in ("Message", "RawMessage"):
        messages.extend(ses.get(kind, []))
    return messages
