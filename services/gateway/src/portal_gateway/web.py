"""What every HTML page needs: locale-aware formatting, branding, the session banner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request
from litestar.response import Template

from portal_gateway.domain.activity import changed_fields
from portal_gateway.domain.money import (
    format_day,
    format_moment,
    format_money,
    negotiate_locale,
)
from portal_gateway.settings import Settings


@dataclass(frozen=True)
class Fmt:
    locale: str

    def money(self, amount_minor: int | None, currency: str | None) -> str:
        if amount_minor is None or not currency:
            return "—"
        return format_money(int(amount_minor), currency, self.locale)

    def day(self, value: Any) -> str:
        return format_day(value, self.locale)

    def moment(self, value: Any) -> str:
        return format_moment(value, self.locale)

    @staticmethod
    def changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
        return changed_fields(before, after)

    @staticmethod
    def label(value: Any) -> str:
        """Enum values like `semi_annual` as words a customer reads."""
        if value is None or value == "":
            return "—"
        return str(value).replace("_", " ").capitalize()


def fmt_for(request: Request[Any, Any, Any], settings: Settings) -> Fmt:
    return Fmt(negotiate_locale(request.headers.get("accept-language"), settings.default_locale))


def page(
    request: Request[Any, Any, Any],
    settings: Settings,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> Template:
    context.setdefault("session", None)
    context.setdefault("branding", None)
    context.setdefault("errors", {})
    context.setdefault("values", {})
    context["fmt"] = fmt_for(request, settings)
    context["path"] = request.url.path
    return Template(template_name=template, context=context, status_code=status_code)
