"""The email itself: both parts, branding, link, code, lifetime, escaping, MIME shape."""

import email
from email import policy
from html.parser import HTMLParser

from portal_notifier.branding.domain import Branding
from portal_notifier.delivery.rendering import audience, build_mime, render_signin

LINK = "http://127.0.0.1:8000/p/KEY_abc/verify/TOKEN_xyz"
BRAND = Branding(
    entity_name="Acme Billing",
    logo_url="https://cdn.example/acme.png",
    logo_alt="Acme logo",
    bill_group_name="Main",
    account_name="Acme Ltd",
    neutral=False,
)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Collect()
    parser.feed(html)
    return parser.tags


def test_both_parts_carry_everything_the_customer_needs() -> None:
    out = render_signin(BRAND, link=LINK, code="482913", minutes=15)
    for part in (out.html, out.text):
        assert "Acme Billing" in part
        assert "Acme Ltd (Main)" in part
        assert LINK in part
        assert "482913" in part
        assert "valid for 15 minutes" in part
        assert "Didn't ask for this? You can safely ignore this email" in part.replace("&#39;", "'")
    assert out.subject == "Sign in to Acme Billing"


def test_html_is_email_safe_table_layout_with_logo_and_button() -> None:
    html = render_signin(BRAND, link=LINK, code="482913", minutes=15).html
    tags = _tags(html)
    names = {t for t, _ in tags}
    assert "table" in names
    assert not names & {"script", "style", "link", "iframe", "form"}
    images = [a for t, a in tags if t == "img"]
    assert images == [images[0]]
    assert images[0]["src"] == BRAND.logo_url
    assert images[0]["alt"] == "Acme logo"
    assert [a["href"] for t, a in tags if t == "a"] == [LINK]


def test_no_logo_means_no_broken_image() -> None:
    brand = Branding("Customer Portal", None, "Customer Portal", None, None, neutral=True)
    out = render_signin(brand, link=LINK, code="1", minutes=15)
    assert "<img" not in out.html
    assert "billing portal:" in out.text


def test_untrusted_names_are_escaped_in_html_and_verbatim_in_text() -> None:
    evil = Branding(
        entity_name='<script>alert("x")</script>',
        logo_url='https://x/" onerror="alert(1)',
        logo_alt="a",
        bill_group_name="<b>bg</b>",
        account_name=None,
        neutral=False,
    )
    out = render_signin(evil, link=LINK, code="1", minutes=15)
    assert "<script>" not in out.html
    assert "&lt;script&gt;" in out.html
    assert "<b>bg</b>" not in out.html
    assert all("onerror" not in attrs for _, attrs in _tags(out.html))
    assert '<script>alert("x")</script>' in out.text


def test_audience_combines_account_and_bill_group() -> None:
    assert audience(BRAND) == "Acme Ltd (Main)"
    same = Branding("E", None, "E", "Acme", "Acme", neutral=False)
    assert audience(same) == "Acme"
    assert audience(Branding("E", None, "E", None, None, neutral=True)) is None


def test_mime_is_multipart_alternative_text_then_html() -> None:
    out = render_signin(BRAND, link=LINK, code="482913", minutes=15)
    raw = build_mime(
        out, sender="portal@portal.example.com", sender_name="Acme Billing", recipient="c@x.example"
    )
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["From"] == "Acme Billing <portal@portal.example.com>"
    assert parsed["To"] == "c@x.example"
    parts = [p for p in parsed.walk() if not p.is_multipart()]
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert LINK in parts[0].get_content()
    assert LINK in parts[1].get_content()


def test_non_ascii_and_hostile_names_survive_the_headers_intact_and_alone() -> None:
    """Upstream names go into Subject and From: encoded when not ASCII, and a line break in
    one cannot start a header of its own (say, a Bcc)."""
    for name in ("Acmé Facturation — Société Générale de Services Numériques", "Evil\r\nBcc: x@y"):
        brand = Branding(name, None, name, "Main", "Acme Ltd", neutral=False)
        out = render_signin(brand, link=LINK, code="482913", minutes=15)
        raw = build_mime(out, sender="portal@portal.example.com", sender_name=name, recipient="c@x")
        assert raw.isascii()
        parsed = email.message_from_bytes(raw, policy=policy.default)
        flat = " ".join(name.split())
        assert parsed["Subject"] == f"Sign in to {flat}"
        assert parsed["From"].addresses[0].display_name == flat
        assert parsed["Bcc"] is None
        parts = {
            p.get_content_type(): p.get_content() for p in parsed.walk() if not p.is_multipart()
        }
        assert "482913" in parts["text/plain"]
        assert LINK in parts["text/html"]
