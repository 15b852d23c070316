"""Prometheus metrics of the notifier (served by the shared `/metrics` route)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from portal_kit.metrics import precreate
from portal_notifier.delivery.domain import Reason

SENT = Counter("portal_notifier_emails_sent_total", "Emails SES accepted")
RETRIED = Counter(
    "portal_notifier_send_retries_total", "Sends parked for a retry after a transient fault"
)
FAILED = Counter(
    "portal_notifier_emails_failed_total", "Emails given up on and reported", ["reason"]
)
precreate(FAILED, *((reason.value,) for reason in Reason))
SUPPRESSED = Counter(
    "portal_notifier_emails_suppressed_total", "Emails not sent: recipient is suppressed"
)
DUPLICATES = Counter(
    "portal_notifier_duplicate_events_total", "Redelivered events acknowledged without sending"
)
SEND_SECONDS = Histogram(
    "portal_notifier_ses_send_seconds",
    "Duration of one SES send_email call",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DELIVERY_SECONDS = Histogram(
    "portal_notifier_delivery_seconds",
    "From the sign-in event's occurred_at to SES accepting the email",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
