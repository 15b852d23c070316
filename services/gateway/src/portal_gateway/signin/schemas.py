"""View models of the sign-in pages (their fields are the templates' variables)."""

from __future__ import annotations

from dataclasses import dataclass

from portal_gateway.clients.models import PortalInfo
from portal_gateway.portal.models import Branding


@dataclass(frozen=True)
class PortalEntry:
    """The portal behind a link, with the seller's branding for its pages."""

    portal: PortalInfo
    branding: Branding


@dataclass(frozen=True)
class SigninPage:
    portal_key: str
    notice: str | None = None


@dataclass(frozen=True)
class UnavailablePage:
    message: str


@dataclass(frozen=True)
class CheckEmailPage:
    portal_key: str
    pending_id: str
    email: str | None = None
    usable: bool = True


@dataclass(frozen=True)
class VerifyPage:
    action: str
    preview: bool


@dataclass(frozen=True)
class LinkExpiredPage:
    portal_key: str
