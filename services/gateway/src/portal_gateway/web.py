"""What every HTML page needs: locale-aware formatting, branding, the session banner.

Routes hand templates a typed view model (a dataclass of `schemas.py`); its fields become the
template's variables, beside the few every page has (`session`, `branding`, `errors`,
`values`, `fmt`, `path`, `new_idempotency_key`).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from litestar import Request
from litestar.response import Template

from portal_gateway.portal.domain.money import (
    format_day,
    format_moment,
    format_money,
    negotiate_locale,
)
from portal_gateway.settings import Settings

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclass(frozen=True)
class Fmt:
    locale: str

    def money(self, amount_minor: int | None, currency: str | None) -> str:
        if amount_minor is None or not currency:
            return "—"
        return format_money(int(amount_minor), currency, self.locale)

    def day(self, value: date | str | None) -> str:
        return format_day(value, self.locale)

    def moment(self, value: datetime | str | None) -> str:
        return format_moment(value, self.locale)

    @staticmethod
    def label(value: object) -> str:
        """Enum values like `semi_annual` as words a customer reads."""
        if value is None or value == "":
            return "—"
        return str(value).replace("_", " ").capitalize()


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def fmt_for(request: Request[Any, Any, Any], settings: Settings) -> Fmt:
    return Fmt(negotiate_locale(request.headers.get("accept-language"), settings.default_locale))


def page(
    request: Request[Any, Any, Any],
    settings: Settings,
    template: str,
    status_code: int = 200,
    view: DataclassInstance | None = None,
    **context: Any,
) -> Template:
    if view is not None:
        context.update({f.name: getattr(view, f.name) for f in dataclasses.fields(view)})
    context.setdefault("session", None)
    context.setdefault("branding", None)
    context.setdefault("errors", {})
    context.setdefault("values", {})
    # A fresh key per rendered form (`_macros.html`, `change_key`): submitting it twice (a
    # double click, a resend) makes one change (`portal.submission`); a form shown again
    # after an error gets a new one.
    context["new_idempotency_key"] = new_idempotency_key
    context["fmt"] = fmt_for(request, settings)
    context["path"] = request.url.path
    return Template(template_name=template, context=context, status_code=status_code)


_PARAM = re.compile(r"\{(\w+)\}")


def route_path(template: str) -> str:
    """A shared URL template (`portal_contracts.urls`, `/p/{portal_key}`) as a Litestar route
    path, whose parameters carry their type (`/p/{portal_key:str}`)."""
    return _PARAM.sub(r"{\1:str}", template)
