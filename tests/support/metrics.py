"""Reading Prometheus samples the way a scraper does: from the exposition text, parsed."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.waiting import eventually


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """(sample name, labels) -> value of every sample in a /metrics answer."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    """The sample `name{labels}` (exactly those labels), None when the series does not exist."""
    return samples(text).get((name, frozenset(labels.items())))


def scraped(name: str, **labels: str) -> float | None:
    """`value` of this process's default registry, as `/metrics` serves it."""
    return value(generate_latest().decode(), name, **labels)


async def served_metrics(client: AsyncTestClient[Any], *, service: str, group: str) -> str:
    """A running service's /metrics once its consumer lag was sampled from the broker, after
    checking what every service serves: its own `/healthz` request counted by route template
    and its `portal_build_info`."""

    async def lag_sampled() -> bool:
        text = (await client.get("/metrics")).text
        stamp = "portal_consumer_lag_sampled_timestamp_seconds"
        return value(text, stamp, group=group) is not None

    assert (await client.get("/healthz")).status_code == 200
    await eventually(lag_sampled, what=f"{service}'s consumer lag sampled from the broker")
    text = (await client.get("/metrics")).text
    healthz = value(
        text,
        "portal_http_requests_total",
        service=service,
        method="GET",
        route="/healthz",
        status_code="200",
    )
    assert healthz is not None
    assert healthz >= 1
    infos = [line for line in text.splitlines() if line.startswith("portal_build_info{")]
    assert any(f'service="{service}"' in line and line.endswith(" 1.0") for line in infos)
    return text
