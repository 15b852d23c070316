"""Prometheus metrics of the projection (served on /metrics by the ops routes). Its consumer
lag is the kit's `portal_consumer_lag`, sampled from the broker."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

APPLIED = Counter("portal_billing_view_events_applied_total", "Events that changed the read model")
STALE = Counter(
    "portal_billing_view_events_stale_total",
    "State events skipped because the read model already held that version or a newer one",
)
APPLY_SECONDS = Histogram(
    "portal_billing_view_batch_apply_seconds",
    "Time to apply one polled batch to the read model",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENT_AGE = Histogram(
    "portal_billing_view_event_age_seconds",
    "From the event's occurred_at to its application in the read model",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
