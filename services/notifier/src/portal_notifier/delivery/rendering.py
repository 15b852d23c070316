"""The verification email: Jinja2 templates (HTML autoescaped) and its raw MIME form."""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
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
    # Templates ship with the package: no file-system check on every email.
    auto_reload=False,
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


def _one_line(value: str) -> str:
    """Header text from upstream data: a line break must not start a header of its own."""
    return " ".join(value.split())


def _header(name: str, value: str) -> str:
    value = _one_line(value)
    return value if value.isascii() else Header(value, "utf-8", header_name=name).encode()


def _part(body: str, subtype: str) -> MIMEText:
    """7bit when the body is plain ASCII with SMTP-sized lines, else base64 (C-fast; quoted-
    printable is pure Python and was a third of the notifier's CPU per email)."""
    if body.isascii() and all(len(line) < 990 for line in body.splitlines()):
        return MIMEText(body, subtype, "us-ascii")
    return MIMEText(body, subtype, "utf-8")


def build_mime(email: RenderedEmail, *, sender: str, sender_name: str, recipient: str) -> bytes:
    """multipart/alternative, plain text first: clients show the last part they can render.

    Built with the `email.mime` classes (compat32): the `EmailMessage` API parses every
    header through its header registry, which cost more CPU than the rest of an email."""
    message = MIMEMultipart("alternative")
    message["Subject"] = _header("Subject", email.subject)
    message["From"] = formataddr((_one_line(sender_name), sender), charset="utf-8")
    message["To"] = _one_line(recipient)
    message.attach(_part(email.text, "plain"))
    message.attach(_part(email.html, "html"))
    return message.as_bytes()
