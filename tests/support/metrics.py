"""Reading Prometheus samples the way a scraper does: from the exposition text, parsed."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families


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
