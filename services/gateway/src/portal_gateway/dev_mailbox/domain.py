"""Local-dev mailbox: the emails moto's SES accepted, parsed for display (never in production)."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

from pydantic import BaseModel, ConfigDict

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


class _Moto(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _RawMessage(_Moto):
    id: str = ""
    source: str = ""
    raw_data: str = ""


class _Destinations(_Moto):
    ToAddresses: list[str] = []


class _SimpleMessage(_Moto):
    id: str = ""
    source: str = ""
    subject: str = ""
    body: str = ""
    destinations: _Destinations | None = None


class _Ses(_Moto):
    RawMessage: list[_RawMessage] = []
    Message: list[_SimpleMessage] = []


class MotoData(_Moto):
    """The part of moto's `/moto-api/data.json` the mailbox reads."""

    ses: _Ses = _Ses()


def parse_moto_messages(data: object) -> list[MailItem]:
    """moto's `/moto-api/data.json` → newest first; Raw MIME and Simple messages alike."""
    ses = MotoData.model_validate(data).ses
    items: list[MailItem] = []
    for raw in ses.RawMessage:
        parsed = email.message_from_string(raw.raw_data, policy=policy.default)
        text = _body(parsed)
        items.append(
            MailItem(
                raw.id,
                str(parsed.get("From", raw.source)),
                str(parsed.get("To", "")),
                str(parsed.get("Subject", "")),
                text,
                tuple(dict.fromkeys(_LINK.findall(text))),
            )
        )
    for simple in ses.Message:
        to = simple.destinations.ToAddresses if simple.destinations else []
        items.append(
            MailItem(
                simple.id,
                simple.source,
                ", ".join(to),
                simple.subject,
                simple.body,
                tuple(dict.fromkeys(_LINK.findall(simple.body))),
            )
        )
    items.reverse()
    return items


@dataclass(frozen=True)
class MailboxPage:
    messages: list[MailItem]
    endpoint: str | None
