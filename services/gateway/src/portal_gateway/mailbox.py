"""Local-dev mailbox: the emails moto's SES accepted, parsed for display (never in production)."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import Any

import httpx

_LINK = re.compile(r"https?://[^\s\"'<>]+")


@dataclass(frozen=True)
class MailItem:
    message_id: str
    sender: str
    recipients: str
    subject: str
    text: str
    links: tuple[str, ...]


def _body(parsed: EmailMessage) -> str:
    part = parsed.get_body(preferencelist=("plain", "html"))
    return str(part.get_content()) if part is not None else ""


def parse_moto_messages(data: dict[str, Any]) -> list[MailItem]:
    """moto's `/moto-api/data.json` → newest first; Raw MIME and Simple messages alike."""
    ses = data.get("ses", {})
    items: list[MailItem] = []
    for raw in ses.get("RawMessage", []):
        parsed = email.message_from_string(str(raw.get("raw_data", "")), policy=policy.default)
        text = _body(parsed)
        items.append(
            MailItem(
                str(raw.get("id", "")),
                str(parsed.get("From", raw.get("source", ""))),
                str(parsed.get("To", "")),
                str(parsed.get("Subject", "")),
                text,
                tuple(dict.fromkeys(_LINK.findall(text))),
            )
        )
    for simple in ses.get("Message", []):
        text = str(simple.get("body", ""))
        destination = simple.get("destinations", {})
        to = destination.get("ToAddresses", []) if isinstance(destination, dict) else []
        items.append(
            MailItem(
                str(simple.get("id", "")),
                str(simple.get("source", "")),
                ", ".join(map(str, to)),
                str(simple.get("subject", "")),
                text,
                tuple(dict.fromkeys(_LINK.findall(text))),
            )
        )
    items.reverse()
    return items


async def fetch_mailbox(endpoint: str) -> list[MailItem]:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{endpoint}/moto-api/data.json")
        response.raise_for_status()
        return parse_moto_messages(response.json())
