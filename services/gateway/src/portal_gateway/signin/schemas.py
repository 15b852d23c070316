"""View models of the sign-in pages (their fields are the templates' variables)."""

from __future__ import annotations

from dataclasses import dataclass, field

from portal_contracts.urls import portal_path
from portal_gateway.clients.models import PortalInfo
from portal_gateway.portal.models import Branding


@dataclass(frozen=True)
class PortalEntry:
    """The portal behind a link, with the seller's branding for its pages."""

    portal: PortalInfo
    branding: Branding


@dataclass(frozen=True)
class PortalLink:
    """A page of one portal link: `link` is its path (`portal_contracts.urls`)."""

    portal_key: str
    link: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "link", portal_path(self.portal_key))


@dataclass(frozen=True)
class SigninPage(PortalLink):
    notice: str | None = None


@dataclass(frozen=True)
class UnavailablePage:
    message: str


@dataclass(frozen=True)
class CheckEmailPage(PortalLink):
    pending_id: str = ""
    email: str | None = None
    usable: bool = True


@dataclass(frozen=True)
class VerifyPage:
    action: str
    preview: bool


@dataclass(frozen=True)
class LinkExpiredPage(PortalLink):
    pass
