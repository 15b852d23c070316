"""Log redaction, property-tested: real id formats survive verbatim wherever they sit in a log
record; emails, card numbers and secrets never reach the line, in any position or encoding."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, quote_plus

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from portal_kit.observability import JsonFormatter, mask_email, scrub

Placement = Callable[[object], logging.LogRecord]


def in_message(value: object) -> logging.LogRecord:
    return logging.makeLogRecord({"msg": f"handled {value} and moved on", "levelname": "INFO"})


def in_args(value: object) -> logging.LogRecord:
    return logging.makeLogRecord({"msg": "handled %s and moved on", "args": (value,)})


def in_dict_args(value: object) -> logging.LogRecord:
    # LogRecord itself turns a lone mapping argument into the mapping `%(name)s` formats from.
    return logging.LogRecord(
        "t", logging.INFO, __file__, 1, "handled %(item)s", ({"item": value},), None
    )


def in_nested_extra(value: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"msg": "handled"})
    record.context = {"batch": [{"item": value}, ("before", value)], "first": value}
    return record


def in_extra(value: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"msg": "handled"})
    record.item = value
    return record


def in_exception(value: object) -> logging.LogRecord:
    try:
        raise ValueError(f"could not handle {value}")
    except ValueError:
        return logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})


PLACEMENTS: list[Placement] = [
    in_message,
    in_args,
    in_dict_args,
    in_nested_extra,
    in_extra,
    in_exception,
]
placements = st.sampled_from(PLACEMENTS)


def line(record: logging.LogRecord) -> str:
    return JsonFormatter("test").format(record)


def strings_of(value: Any) -> list[str]:
    """Every string of a parsed log line, at any depth."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings_of(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings_of(item)]
    return []


def hexes(size: int) -> st.SearchStrategy[str]:
    return st.text("0123456789abcdef", min_size=size, max_size=size)


# FastStream's Kafka message id: `<offset>-<timestamp ms>`.
kafka_message_ids = st.builds(
    lambda offset, ms: f"{offset}-{ms}",
    st.integers(0, 10**15),
    st.integers(10**12, 10**13 - 1),
)
uuids = st.uuids().map(str)
# SES MessageIds: 16 hex (a timestamp-like prefix, `0102019a…` for SESv2), a UUID, and a
# 6-hex suffix (`000000` from SES itself, random from moto).
ses_message_ids = st.builds(
    lambda head, uuid, tail: f"{head}-{uuid}-{tail}",
    st.sampled_from(["0100", "0101", "0102"]).flatmap(lambda p: hexes(12).map(lambda h: p + h)),
    uuids,
    st.one_of(st.just("000000"), hexes(6)),
)
sha256s = st.binary(max_size=64).map(lambda b: hashlib.sha256(b).hexdigest())
object_ids = hexes(24)
own_ids = st.builds(
    lambda prefix, body: f"{prefix}_{body}",
    st.sampled_from(["bg", "inv", "pm", "sub", "ent", "key", "sgn", "chg", "acc"]),
    st.one_of(hexes(24), st.uuids().map(lambda u: u.hex), st.integers(0, 10**6).map(str)),
)
iso_timestamps = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))]),
).map(lambda d: d.isoformat())
epoch_millis = st.integers(10**12, 4 * 10**12 - 1).map(str)
amounts = st.one_of(
    st.integers(0, 10**9).map(str),
    st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False).map(str),
)
ids = st.one_of(
    kafka_message_ids,
    ses_message_ids,
    uuids,
    sha256s,
    object_ids,
    own_ids,
    iso_timestamps,
    epoch_millis,
    amounts,
)


@settings(max_examples=400)
@given(ids, placements)
def test_ids_survive_verbatim_in_any_position(value: str, place: Placement) -> None:
    parsed = json.loads(line(place(value)))
    assert any(value in text for text in strings_of(parsed)), parsed


@given(st.lists(ids, min_size=2, max_size=5))
def test_ids_side_by_side_all_survive(values: list[str]) -> None:
    cleaned = scrub(", ".join(values))
    assert cleaned.split(", ") == values


def luhn_complete(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return body + str((10 - total % 10) % 10)


# Issuer prefixes and the lengths each issues: Visa, Mastercard, Amex, Discover, JCB, Diners.
BRANDS = [
    ("4", (13, 16, 19)),
    ("51", (16,)),
    ("55", (16,)),
    ("2221", (16,)),
    ("34", (15,)),
    ("37", (15,)),
    ("6011", (16, 17, 18, 19)),
    ("35", (16, 17, 18, 19)),
    ("36", (14,)),
]


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    prefix, lengths = draw(st.sampled_from(BRANDS))
    length = draw(st.sampled_from(lengths))
    rest = draw(st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length))
    return luhn_complete((prefix + rest)[: length - 1])


def formatted(number: str, separator: str) -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


@settings(max_examples=300)
@given(card_numbers(), st.sampled_from(["", " ", "-"]), placements)
def test_card_numbers_never_reach_the_line(number: str, sep: str, place: Placement) -> None:
    written = formatted(number, sep) if sep else number
    text = line(place(written))
    assert number not in text
    assert written not in text
    assert "[card]" in text


@given(card_numbers())
def test_a_card_number_held_as_an_integer_is_redacted(number: str) -> None:
    text = line(in_nested_extra(int(number)))
    assert number not in text


emails = st.one_of(
    st.emails(),
    st.builds(
        lambda local, domain: f"{local}@{domain}",
        st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,20}", fullmatch=True),
        st.sampled_from(["globex.example", "Mail.Example.COM", "a-b.co.uk"]),
    ),
)


def encodings(email: str) -> list[str]:
    return [
        email,
        quote(email, safe=""),
        quote_plus(email),
        quote(email, safe="").lower(),
        email.replace("@", "%40"),
        email.replace("@", "%2540"),
        email.replace("@", "&#64;"),
        email.upper(),
    ]


@settings(max_examples=300)
@given(emails, st.integers(0, 7), placements)
def test_emails_never_reach_the_line_in_any_encoding(
    email: str, encoding: int, place: Placement
) -> None:
    # A local part of mask characters (`*@a.ad`, `j***@x.io`) reads the same masked: what
    # is left of it in the line is the mask, not the address.
    assume(email.lower() not in mask_email(email).lower())
    written = encodings(email)[encoding]
    text = line(place(written)).lower()
    for form in {email, quote(email, safe=""), quote_plus(email), written}:
        assert form.lower() not in text


secrets_ = st.binary(min_size=24, max_size=48).map(
    lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("=")
)
# Short and shapeless: only the key name tells these apart from ordinary words.
short_secrets = st.text("abcdefXYZ0123456789", min_size=4, max_size=12).map(lambda s: f"s3cr{s}")
TEXT_KEYS = ["token", "session_token", "secret", "password", "Authorization", "cookie", "api_key"]
sensitive_keys = st.sampled_from([*TEXT_KEYS, "X-Api-Key", "portal_key", "code"])


@given(sensitive_keys, short_secrets)
def test_values_under_sensitive_keys_are_redacted_at_any_depth(key: str, value: str) -> None:
    record = logging.makeLogRecord({"msg": "called"})
    record.request = {"headers": [{key: value}], "query": {key: value}}
    setattr(record, key.lower().replace("-", "_"), value)
    text = line(record)
    assert value not in text


@given(st.sampled_from([*TEXT_KEYS, "X-Api-Key"]), short_secrets, st.sampled_from(["=", ": "]))
def test_key_value_pairs_in_free_text_are_redacted(key: str, value: str, sep: str) -> None:
    text = line(in_message(f"GET /x?a=1&{key}{sep}{value}&b=2"))
    assert value not in text
    assert "a=1" in text


@given(secrets_, placements)
def test_token_shaped_secrets_never_reach_the_line(token: str, place: Placement) -> None:
    if not any(c.isdigit() for c in token) or not any(c.isalpha() for c in token):
        return  # letters-only or digits-only at 192+ bits: astronomically unlikely
    for written in (token, f"Bearer {token}", f"/p/{token}/verify/{token}", quote(token)):
        assert token not in line(place(written))


def test_a_bearer_header_keeps_its_scheme_only() -> None:
    assert scrub("authorization: Bearer abc.def") == "authorization: [redacted]"
    assert scrub("sent Bearer abcdef123") == "sent Bearer [redacted]"


def test_uvicorn_colour_copy_and_ansi_codes_are_dropped() -> None:
    record = logging.makeLogRecord({"msg": "\x1b[32mINFO\x1b[0m started", "levelname": "INFO"})
    record.color_message = "\x1b[1m%s\x1b[0m started"
    entry = json.loads(line(record))
    assert "color_message" not in entry
    assert entry["msg"] == "INFO started"


def test_the_ids_the_issue_names_survive() -> None:
    """The reported losses: a Kafka message id read as a card, a consumer id and an SES
    MessageId (the id needed to chase a bounce) read as secrets."""
    kafka = "1234567-1764163544123"
    consumer = "aiokafka-0.12.0-5b3f0f4e-2a8c-4d8e-9a51-6c1f2e3d4b5a"
    ses = "0102019ab1c2d3e4-5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c-000000"
    text = f"message_id={kafka} member={consumer} ses_message_id={ses}"
    assert scrub(text) == text


def test_nested_and_encoded_emails_and_cards_are_caught() -> None:
    record = logging.makeLogRecord({"msg": "bounce for %s", "args": ("jane.doe%40globex.example",)})
    record.delivery = {"to": ["jane.doe@globex.example"], "card": {"number": "4111-1111-1111-1111"}}
    text = line(record)
    assert "jane.doe" not in text
    assert "4111" not in text
    assert "j***@globex.example" in text


def test_english_is_not_mistaken_for_credentials() -> None:
    text = "basic plan chosen; bearer of the news; status code: 500; 1 2 3 4 5 6 7 8 9 10"
    assert scrub(text) == text
    assert scrub("Authorization: Basic dXNlcjpwYXNz") == "Authorization: [redacted]"
    assert scrub("sent Basic dXNlcjpwYXNzd29yZA==") == "sent Basic [redacted]"


def test_a_dict_logged_as_the_message_has_its_secrets_redacted() -> None:
    entry = json.loads(line(logging.makeLogRecord({"msg": {"password": "hunter2", "n": 1}})))
    assert "hunter2" not in entry["msg"]
    assert "'n': 1" in entry["msg"]
