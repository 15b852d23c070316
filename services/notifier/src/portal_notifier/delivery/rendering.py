"""The verification email: Jinja2 templates (HTML autoescaped) and its raw MIME form."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from portal_notifier.branding.domain import Branding

# Autoescape the HTML part: entity, account and bill group names are upstream data, hence
# untrusted. The plain-text part is not HTML, so escaping it would only garble names.
_ENV = Environment(
    loader=PackageLoader("portal_notifier.delivery", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def audience(branding: Branding) -> str | None:
    """Who the portal is for, as the customer knows it: account, and bill group if distinct."""
    account, group = branding.account_name, branding.bill_group_name
    if account and group and account != group:
        return f"{account} ({group})"
    return account or group


def render_signin(
    branding: Branding, *, link: str, code: str, minutes: int, locale: str = "en"
) -> RenderedEmail:
    subject = f"Sign in to {branding.entity_name}"
    context = {
        "brand": branding,
        "audience": audience(branding),
        "link": link,
        "code": code,
        "minutes": minutes,
        "subject": subject,
        "locale": locale,
    }
    return RenderedEmail(
        subject=subject,
        html=_ENV.get_template("signin.html.j2").render(context),
        text=_ENV.get_template("signin.txt.j2").render(context),
    )


def build_mime(email: RenderedEmail, *, sender: str, sender_name: str, recipient: str) -> bytes:
    """multipart/alternative, plain text first: clients show the last part they can render."""
    message = EmailMessage()
    message["Subject"] = email.subject
    message["From"] = formataddr((sender_name, sender))
    message["To"] = recipient
    message.set_content(email.text, subtype="plain", charset="utf-8")
    message.add_alternative(email.html, subtype="html", charset="utf-8")
    return message.as_bytes()
