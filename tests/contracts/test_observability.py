import json
import logging
import secrets

from hypothesis import given
from hypothesis import strategies as st

from portal_kit.observability import JsonFormatter, mask_email, scrub


def test_tokens_cards_and_emails_are_scrubbed_but_words_are_not() -> None:
    token = secrets.token_urlsafe(32)
    text = (
        f"verify {token} for jane.doe@globex.example with 4242 4242 4242 4242 "
        "after GroupCoordinatorNotAvailableError for event 6f1c1b1e-8a7e-4a57-9c55-3f2f8f8c1a00"
    )
    cleaned = scrub(text)
    assert token not in cleaned
    assert "[secret]" in cleaned
    assert "[card]" in cleaned
    assert "jane.doe@" not in cleaned
    assert "j***@globex.example" in cleaned
    assert "GroupCoordinatorNotAvailableError" in cleaned
    assert "6f1c1b1e-8a7e-4a57-9c55-3f2f8f8c1a00" in cleaned


@given(st.binary(min_size=24, max_size=64))
def test_every_urlsafe_token_of_192_bits_or_more_is_scrubbed(raw: bytes) -> None:
    token = secrets.token_urlsafe(len(raw))
    if not any(c.isdigit() for c in token) or not any(c.isalpha() for c in token):
        return  # a letters-only or digits-only token is astronomically unlikely at this size
    assert token not in scrub(f"link=/p/x/verify/{token}")


def test_mask_email_keeps_the_domain_only() -> None:
    assert mask_email("ap@globex.example") == "a***@globex.example"


def test_json_formatter_scrubs_message_and_extras() -> None:
    token = secrets.token_urlsafe(32)
    record = logging.makeLogRecord(
        {"msg": "sent to %s", "args": ("ap@globex.example",), "levelname": "INFO", "link": token}
    )
    entry = json.loads(JsonFormatter("test").format(record))
    assert entry["msg"] == "sent to a***@globex.example"
    assert entry["link"] == "[secret]"
    assert entry["service"] == "test"
