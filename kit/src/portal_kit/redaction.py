"""What a log line may not carry: emails, card numbers, secrets — and the ids it must keep.

Free text is scrubbed in a fixed order: decode (percent-encoding, HTML `@`), drop terminal
colour codes, mask emails, set aside the ids an operator chases (Kafka message ids, SES
MessageIds, UUIDs, hex digests, ObjectIds, our `bg_…` ids, ISO timestamps) so that no rule
below can eat them, then redact secrets by key (`token=…`, `Bearer …`), by shape (JWTs, 32+
URL-safe characters) and Luhn-valid card numbers. Structured values are walked: a value whose
key names a secret is redacted whatever it looks like.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote

REDACTED = "[redacted]"

# Local parts may hold any RFC 5322 `atext` (`/@a.ac` is an address).
_EMAIL = re.compile(r"([A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)")
# Characters that rather end a preceding `key=` or quote than belong to the address.
_LOCAL_CUT = "='`{}|"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_HTML_AT = re.compile(r"&#(?:64|x40);|&commat;", re.IGNORECASE)

_HEX = "[0-9a-fA-F]"
_UUID = rf"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"
# Token prefixes of ours and of payment providers: what follows them is a credential.
_TOKEN_PREFIXES = "tok|pak|sk|pk|rk|whsec"  # noqa: S105 - a pattern, not a password
_IDS = re.compile(
    "|".join(
        (
            # SES MessageId: 16 hex, a UUID, 6 hex (`000000` from SES, random from moto).
            rf"(?<![\w-]){_HEX}{{16}}-{_UUID}-{_HEX}{{6}}(?![\w-])",
            # A UUID even at the end of a client or consumer id (`aiokafka-0.12.0-<uuid>`).
            rf"(?<![A-Za-z0-9]){_UUID}(?![A-Za-z0-9])",
            # FastStream's Kafka message id: `<offset>-<timestamp ms>`.
            r"(?<![\w-])\d{1,19}-\d{13}(?![\w-])",
            # ISO-8601 date and optional time.
            r"(?<![\w-])\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w-])",
            # sha256 / sha1 / md5 digests, uuid hex, ObjectIds: lower-case hex of those sizes.
            r"(?<![\w-])(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32}|[0-9a-f]{24})(?![\w-])",
            # Our ids: `bg_…`, `inv_…`, `pm_…`, `key_…` — lower-case prefix, lower-case body.
            # A digit in the body tells an id from a snake_case word (`api_key=` stays a key).
            rf"(?<![\w-])(?!(?:{_TOKEN_PREFIXES})_)[a-z]{{2,8}}_(?=[a-z0-9_]*\d)"
            r"[a-z0-9]+(?:_[a-z0-9]+)*(?![\w-])",
        )
    )
)
# Placeholders for set-aside ids: Unicode private-use characters, never in the rules' classes.
_SLOT = 0xF0000
_SLOTS = re.compile("[\U000f0000-\U000fffff]")

# Key names that hold secrets (a pattern, not a password).
_SECRET_WORDS = (
    r"token|secret|passw(?:or)?d|pwd|authorization|cookie|api[_-]?key|portal[_-]?key"  # noqa: S105
    r"|credential|signature"
)
_SECRET_KEY = re.compile(_SECRET_WORDS, re.IGNORECASE)
# A substring every `_SECRET_WORDS` match contains.
_KEY_HINTS = (
    "token",
    "secret",
    "passw",
    "pwd",
    "authoriz",
    "cookie",
    "key",
    "credential",
    "signature",
)
# Exact key names that hold a secret only by convention (a sign-in code, card security codes).
_SECRET_NAMES = frozenset({"code", "otp", "cvc", "cvv", "pin", "pan", "card_number"})
_KEY_VALUE = re.compile(
    # From the secret word on (`session_token=` matches at `token=`): a leading `[\w-]*`
    # would rescan every word of the line.
    rf"(?P<key>(?:{_SECRET_WORDS})[\w-]*[\"']?\s*[=:]\s*[\"']?)"
    r"(?P<value>(?:(?:bearer|basic|token)\s+)?[^\s&\"',;]+)",
    re.IGNORECASE,
)
# Credentials after an auth scheme (RFC 7235 token68), not English: "bearer of the news",
# "basic plan" stay.
_SCHEME = re.compile(
    r"\b(?P<scheme>bearer)\s+[A-Za-z0-9._~+/-]{8,}=*"
    r"|\b(?P<basic>basic)\s+(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}",
    re.IGNORECASE,
)
# What a string under 13 characters needs to carry to be redacted: an email, an encoding, a
# colour code, a `key=value`.
_DIGIT = re.compile(r"\d")
_SHORT_RISK = re.compile(r"[@%&\x1b=:\U000f0000-\U000fffff]")
_JWT = re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]*")
# Token-like: 32+ URL-safe characters holding both a letter and a digit.
_LONG_SECRET = re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{32,}(?![\w-])")
# Digit groups joined by single spaces or dashes: a card written `4111 1111 1111 1111`.
# Only runs of 13+ digits are looked at: shorter ones cannot hold a card.
_DIGIT_RUN = re.compile(r"(?<!\d)(?=(?:\d[ -]?){13})\d+(?:[ -]\d+)*")


def mask_email(email: str) -> str:
    """`jane.doe@company.com` → `j***@company.com`: enough to support a user, not to leak."""

    def mask(match: re.Match[str]) -> str:
        local, domain = match.group(1), match.group(2)
        cut = max(local.rfind(char) for char in _LOCAL_CUT) + 1
        return f"{local[:cut]}{local[cut : cut + 1]}***@{domain}"

    return _EMAIL.sub(mask, email)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char)
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def is_card_number(digits: str) -> bool:
    """13 to 19 Luhn-valid digits. A bare 13-digit number is only a card when it starts with 4
    (the one scheme issuing 13 digits): epoch milliseconds are 13 digits too."""
    if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
        return False
    return len(digits) != 13 or digits[0] == "4"


def _card_spans(run: str) -> list[tuple[int, int]]:
    """Spans of `run` (digit groups and separators) that spell a card number. Windows start
    and end on group boundaries: separated groups are how cards are written, and a window
    cutting a group in two would find a Luhn-valid slice in almost any long number."""
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
    spans = []
    for first in range(len(groups)):
        digits = ""
        for last in range(first, len(groups)):
            digits += run[groups[last][0] : groups[last][1]]
            if len(digits) > 19:
                break  # bounded: a run of many short numbers stays linear
            if is_card_number(digits):
                spans.append((groups[first][0], groups[last][1]))
    return spans


def _redact_cards(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        run = match.group(0)
        covered = [False] * len(run)
        for start, end in _card_spans(run):
            covered[start:end] = [True] * (end - start)
        out, index = [], 0
        while index < len(run):
            if covered[index]:
                while index < len(run) and covered[index]:
                    index += 1
                out.append("[card]")
            else:
                out.append(run[index])
                index += 1
        return "".join(out)

    return _DIGIT_RUN.sub(replace, text)


def _decoded(text: str) -> str:
    """Percent-encoding (twice-encoded too) and HTML `@` decoded, so that `jane%40x.com` is
    seen as the email it is."""
    for _ in range(3):
        if not _PERCENT.search(text):
            break
        text = unquote(text, errors="replace")
    return _HTML_AT.sub("@", text)


def scrub(text: str) -> str:
    """Last line of defence for free text: see the module docstring for the order."""
    if len(text) < 13 and not _SHORT_RISK.search(text):
        return text  # too short for a card, a token or a credential after a scheme
    text = _SLOTS.sub("?", _ANSI.sub("", _decoded(text)))
    if "@" in text:
        text = mask_email(text)
    # Every id set aside, card and token-shaped secret holds a digit: text without one skips
    # those passes (most log messages).
    digits = _DIGIT.search(text) is not None
    kept: list[str] = []

    def set_aside(match: re.Match[str]) -> str:
        kept.append(match.group(0))
        return chr(_SLOT + len(kept) - 1)

    if digits:
        text = _IDS.sub(set_aside, text)
    lowered = text.lower()
    # Case-insensitive alternations are slow to try at every position: a substring test in C
    # first skips them on the lines that hold none of their words.
    if any(hint in lowered for hint in _KEY_HINTS):
        text = _KEY_VALUE.sub(lambda m: m.group("key") + REDACTED, text)
    if "bearer" in lowered or "basic" in lowered:
        text = _SCHEME.sub(lambda m: f"{m.group('scheme') or m.group('basic')} {REDACTED}", text)
    if "eyj" in lowered:
        text = _JWT.sub("[secret]", text)
    if digits:
        text = _redact_cards(_LONG_SECRET.sub("[secret]", text))
    return _SLOTS.sub(lambda m: kept[ord(m.group(0)) - _SLOT], text) if kept else text


def is_secret_key(key: object) -> bool:
    name = str(key).lower().replace("-", "_")
    return name in _SECRET_NAMES or bool(_SECRET_KEY.search(name))


def redact(value: object) -> object:
    """A JSON-ready copy of `value`: containers walked, strings scrubbed, values under secret
    keys replaced, card numbers held as integers redacted, anything else as its scrubbed text."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return "[card]" if is_card_number(str(abs(value))) else value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bytes | bytearray):
        return scrub(bytes(value).decode(errors="replace"))
    if isinstance(value, Mapping):
        return {
            str(k): REDACTED if is_secret_key(k) and v is not None else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact(item) for item in value]
    return scrub(str(value))
