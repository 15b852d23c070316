"""Prometheus metrics of the gateway's own calls (served by the shared `/metrics` route); its
HTTP and Kafka-publish metrics are the kit's (`portal_kit.metrics`)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from portal_kit.metrics import precreate

UPSTREAMS = ("access", "billing-view")
# "error": no answer at all (refused, timed out, reset).
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")

UPSTREAM_REQUESTS = Counter(
    "portal_gateway_upstream_requests_total",
    "Calls to access and billing-view, by answer status class",
    ["upstream", "status_class"],
)
UPSTREAM_SECONDS = Histogram(
    "portal_gateway_upstream_request_duration_seconds",
    "Time to the answer's headers of a call to access or billing-view",
    ["upstream"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
precreate(UPSTREAM_REQUESTS, *((u, c) for u in UPSTREAMS for c in STATUS_CLASSES))


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 200 <= status < 600 else "error"
