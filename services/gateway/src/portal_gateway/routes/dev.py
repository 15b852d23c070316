"""Local-dev mailbox: read the emails moto received without leaving the browser."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template

from portal_gateway.deps import Gateway
from portal_gateway.mailbox import fetch_mailbox
from portal_gateway.web import page


@get("/dev/mailbox", include_in_schema=False)
async def dev_mailbox(request: Request[Any, Any, Any], gateway: Gateway) -> Template:
    endpoint = gateway.settings.aws_endpoint_url
    if not endpoint:
        return page(request, gateway.settings, "mailbox.html", messages=[], endpoint=None)
    messages = await fetch_mailbox(endpoint)
    return page(request, gateway.settings, "mailbox.html", messages=messages, endpoint=endpoint)
