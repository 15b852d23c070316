"""The README's configuration reference, generated from each service's Settings class.

Meaning comes from the field's `description` or, failing that, the comment lines right
above the field in the source; `tests/localstack/test_configdoc.py` fails when the README
and the Settings classes drift (`portal-localstack config-doc --write` refreshes it).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from portal_localstack.paths import repo_root

SERVICES = (
    ("gateway", "portal_gateway.settings"),
    ("access", "portal_access.settings"),
    ("billing-view", "billing_view.settings"),
    ("notifier", "portal_notifier.settings"),
    ("billing-simulator", "billing_simulator.settings"),
)
# Where one name means different things in two services.
SERVICE_MEANINGS = {
    ("billing-view", "retry_base_seconds"): "First back-off between attempts at a failing "
    "message (doubles each attempt, up to `MAX_ATTEMPTS`).",
    ("notifier", "retry_base_seconds"): "First back-off after a throttled or 5xx SES call "
    "(exponential with jitter).",
    ("notifier", "retry_cap_seconds"): "Longest single back-off between SES attempts.",
    ("notifier", "retry_max_attempts"): "SES attempts before an email is given up as failed.",
    ("notifier", "retry_window_seconds"): "Longest time an email may keep retrying (a "
    "sign-in link older than this is useless anyway).",
    ("notifier", "retry_poll_seconds"): "How often parked retries are looked at.",
    ("notifier", "ses_connect_timeout_seconds"): "Connect timeout of one SES call.",
    ("notifier", "ses_read_timeout_seconds"): "Read timeout of one SES call.",
    ("notifier", "neutral_logo_url"): "Logo shown when a sign-in arrives before the entity's "
    "branding did; none by default.",
}
START = "<!-- config:start -->"
END = "<!-- config:end -->"
SECRET_WORDS = ("token", "key", "secret", "password")
# Meanings of the settings every service shares, where the class itself says nothing.
SHARED_MEANINGS = {
    "kafka_bootstrap": "Kafka bootstrap servers (`host:port,…`).",
    "kafka_sasl_username": "SCRAM-SHA-512 user of this service's KafkaUser (SASL_SSL only).",
    "kafka_sasl_password": "Its password, from the Secret Strimzi generates (SASL_SSL only).",
    "mongodb_uri": "MongoDB connection string (mongo-java-server locally).",
    "mongodb_database": "This service's own database; no other service reads it.",
    "log_level": "Level of the JSON logs on stdout (`DEBUG`, `INFO`, `WARNING`, …).",
    "http_host": "Interface the HTTP server binds (`0.0.0.0` in containers).",
    "http_port": "Port of the HTTP server (`/healthz`, `/readyz`, `/metrics` and the API).",
    "environment": "`local` or `production`; production refuses every dev-only default.",
    "internal_api_token": "Bearer token of the service-to-service APIs (shared by gateway, "
    "access and billing-view).",
    "seal_keys": "Comma-separated Fernet keys sealing the sign-in link and code in Kafka, "
    "newest first; shared by access and the notifier only.",
    "portal_public_url": "Public base URL of the gateway; portal, verification and preview "
    "links are built on it.",
    "access_url": "Base URL of the access service's internal API.",
    "billing_view_url": "Base URL of billing-view's internal API.",
    "aws_endpoint_url_s3": "S3 endpoint override (moto locally); unset in production. Never "
    "the generic `AWS_ENDPOINT_URL`, which would also redirect workload identity's STS call.",
    "aws_endpoint_url_sesv2": "SES endpoint override (moto locally; the gateway's dev mailbox "
    "reads it there); unset in production.",
    "aws_region": "AWS region of SES and S3.",
    "csrf_secret": "Secret of the CSRF tokens on every form and mutating API call.",
    "dev_mailbox_enabled": "Serve `/dev/mailbox` (emails moto received); refused in production.",
    "default_locale": "Locale for dates and money when the browser asks for none we support.",
    "kafka_security_protocol": "`PLAINTEXT` (local stack) or `SASL_SSL` (Strimzi KafkaUser).",
    "kafka_ca_file": "PEM bundle of the Kafka cluster's CA; empty means the system trust store.",
    "topic_prefix": "Prepended to every topic and consumer group name (tests isolate with it).",
    "signin_window_email_seconds": "Window of `SIGNIN_LIMIT_PER_EMAIL`.",
    "signin_limit_per_ip": "Sign-in requests one client IP may make per window.",
    "signin_window_ip_seconds": "Window of `SIGNIN_LIMIT_PER_IP`.",
    "signin_limit_per_portal": "Sign-in requests one portal link may take per window.",
    "signin_window_portal_seconds": "Window of `SIGNIN_LIMIT_PER_PORTAL`.",
    "relay_poll_seconds": "How often the outbox relay looks for unsent events without a wake-up.",
    "batch_timeout_ms": "How long a poll waits to fill a batch.",
    "ses_sender": "Default From address of portal emails (a verified SES identity).",
    "ses_configuration_set": "SES configuration set for delivery/bounce events; none by default.",
    "documents_bucket": "S3 bucket of the invoice PDFs the simulator uploads.",
    "logos_bucket": "S3 bucket of the entity logos the simulator uploads (public-read).",
}


def _comments(cls: type[Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        try:
            lines = inspect.getsource(klass).splitlines()
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith("#"):
                pending.append(stripped.lstrip("# ").strip())
                continue
            match = re.match(r"([a-z_][a-z0-9_]*)\s*:", stripped)
            if match and pending:
                found[match.group(1)] = " ".join(pending)
            pending = []
    return found


def _default(name: str, info: FieldInfo) -> str:
    if info.default is PydanticUndefined:
        return "(required)"
    value = info.default
    if any(word in name for word in SECRET_WORDS) and isinstance(value, str) and value:
        return "dev-only value (refused in production)"
    if value is None:
        return "—"
    text = str(getattr(value, "value", value))
    return f"`{text}`" if text else '`""`'


def render() -> str:
    parts = [START]
    for service, module in SERVICES:
        settings = importlib.import_module(module).Settings
        comments = _comments(settings)
        parts += [f"\n#### {service}\n", "| variable | default | meaning |", "|---|---|---|"]
        for name, info in settings.model_fields.items():
            meaning = (
                info.description
                or comments.get(name)
                or SERVICE_MEANINGS.get((service, name))
                or SHARED_MEANINGS.get(name, "")
            )
            meaning = meaning.replace("|", "\\|")
            alias = info.validation_alias
            variable = alias if isinstance(alias, str) else name.upper()
            parts.append(f"| `{variable}` | {_default(name, info)} | {meaning} |")
    parts.append(END)
    return "\n".join(parts)


def readme_path() -> Path:
    return repo_root() / "README.md"


def current() -> str:
    text = readme_path().read_text()
    start, end = text.find(START), text.find(END)
    return text[start : end + len(END)] if start >= 0 and end >= 0 else ""


def write() -> None:
    text = readme_path().read_text()
    start, end = text.find(START), text.find(END)
    readme_path().write_text(text[:start] + render() + text[end + len(END) :])
