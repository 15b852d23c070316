"""The gateway's collaborators, built once in the composition root and injected per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from litestar import Request
from litestar.datastructures import State

from portal_gateway.changes import ChangePublisher
from portal_gateway.clients import AccessClient, BillingViewClient, Session
from portal_gateway.documents import DocumentStore
from portal_gateway.portal import PortalService
from portal_gateway.security import current_session
from portal_gateway.settings import Settings


@dataclass
class Gateway:
    settings: Settings
    access: AccessClient
    billing: BillingViewClient
    portal: PortalService
    documents: DocumentStore
    publisher: ChangePublisher
    admin_http: httpx.AsyncClient


def provide_gateway(state: State) -> Gateway:
    gateway: Gateway = state.gateway
    return gateway


async def provide_session(request: Request[Any, Any, Any], gateway: Gateway) -> Session:
    return await current_session(request, gateway.access)
