"""`/dev/mailbox`: the emails the local SES accepted, with clickable links (local dev only)."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from portal_gateway.dev_mailbox.domain import MailboxPage, parse_moto_messages
from portal_gateway.settings import Settings
from portal_gateway.web import page


@get("/dev/mailbox", include_in_schema=False)
async def dev_mailbox(
    request: Request[Any, Any, Any], settings: NamedDependency[Settings]
) -> Template:
    endpoint = settings.aws_endpoint_url_sesv2
    if not endpoint:
        return page(request, settings, "mailbox.html", view=MailboxPage([], None))
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{endpoint}/moto-api/data.json")
        response.raise_for_status()
    view = MailboxPage(parse_moto_messages(response.json()), endpoint)
    return page(request, settings, "mailbox.html", view=view)
