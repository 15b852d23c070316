"""Read-model and Kafka sizing from measured document sizes (feeds deploy/README.md).

Each billing-view document is built by billing-view itself: the contracts' example events go
through its public CLI (`billing-view documents`: the live consumer's decode and state write,
no server needed) and what it prints is measured with `bson.encode`; the sizes are then
multiplied by the per-bill-group counts of the design's target shape (DESIGN.md, "Scale":
1M bill groups, 50M invoices). Index sizes are estimated from the key widths of each index.
Nothing here is a timing claim.

    python deploy/sizing.py            # print the tables
    python deploy/sizing.py --readme   # refresh them in deploy/README.md (CI checks they match)
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bson

from portal_contracts.codec import encode, make_event
from portal_contracts.examples import EXAMPLES
from portal_contracts.registry import EventType, latest
from portal_contracts.topics import TOPICS, Topic

BILL_GROUP_COUNTS = (10_000, 100_000, 1_000_000)
# Per bill group, from the design's target (50M invoices over 1M bill groups); the others
# are what a typical B2B customer holds.
PER_BILL_GROUP = {
    EventType.BILL_GROUP_STATE: 1.0,
    EventType.INVOICE_STATE: 50.0,
    EventType.SUBSCRIPTION_STATE: 3.0,
    EventType.PAYMENT_METHOD_STATE: 2.0,
    # 10k tenants with a handful of entities each, spread over 1M bill groups.
    EventType.ENTITY_STATE: 0.03,
}
# The payload field that names each state event's aggregate (the event's aggregate_id).
AGGREGATE_ID_FIELD = {
    EventType.BILL_GROUP_STATE: "bill_group_id",
    EventType.INVOICE_STATE: "invoice_id",
    EventType.SUBSCRIPTION_STATE: "subscription_id",
    EventType.PAYMENT_METHOD_STATE: "payment_method_id",
    EventType.ENTITY_STATE: "entity_id",
}
# WiredTiger compresses documents (snappy) roughly this well on JSON-like billing data;
# indexes use prefix compression. Conservative ratios, so the figures err on the large side.
DOC_COMPRESSION = 0.5
# A B-tree entry per index: the key values plus ~16 bytes of record id and overhead.
INDEX_ENTRY_OVERHEAD = 16


@dataclass(frozen=True)
class Measured:
    event_type: EventType
    collection: str
    document_bytes: int
    index_entry_bytes: int
    event_bytes: int


def _example_event(event_type: EventType, aggregate_id: str | None = None) -> Any:
    payload = latest(event_type).model.model_validate(EXAMPLES[(event_type, 1)])
    if aggregate_id is None:
        aggregate_id = str(getattr(payload, AGGREGATE_ID_FIELD[event_type]))
    return make_event(
        payload, tenant_id="tenant_0001", aggregate_id=aggregate_id, aggregate_version=7
    )


def _billing_view() -> str:
    beside = Path(sys.executable).parent / "billing-view"
    found = str(beside) if beside.exists() else shutil.which("billing-view")
    if found is None:
        raise SystemExit("billing-view is not installed (uv sync)")
    return found


@functools.cache
def _described() -> dict[EventType, dict[str, Any]]:
    """What billing-view stores for each example event: `{collection, document, indexes}`."""
    types = list(PER_BILL_GROUP)
    lines = b"".join(encode(_example_event(t)) + b"\n" for t in types)
    done = subprocess.run(  # noqa: S603 - our own installed entry point, fixed arguments
        [_billing_view(), "documents"], input=lines, capture_output=True, check=True
    )
    described = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return dict(zip(types, described, strict=True))


def _document(event_type: EventType) -> tuple[str, dict[str, Any]]:
    described = _described()[event_type]
    doc = {**described["document"], "updated_at": dt.datetime.now(dt.UTC)}
    return described["collection"], doc


def _field(doc: dict[str, Any], dotted: str) -> Any:
    """An index key's value: index keys name nested fields (`current.status`)."""
    value: Any = doc
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _index_keys(event_type: EventType) -> list[list[str]]:
    """Key fields of each index billing-view creates on the document's collection (+ `_id`)."""
    keys: list[list[str]] = _described()[event_type]["indexes"]
    return keys


def measure(event_type: EventType) -> Measured:
    collection, doc = _document(event_type)
    entry = 0
    for fields in _index_keys(event_type):
        entry += len(bson.encode({f: _field(doc, f) for f in fields})) + INDEX_ENTRY_OVERHEAD
    event = _example_event(event_type, aggregate_id="x")
    return Measured(
        event_type,
        collection,
        len(bson.encode(doc)),
        entry,
        len(event.model_dump_json().encode()),
    )


def _mib(n: float) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GiB"
    return f"{n / 1024**2:.1f} MiB"


def table() -> str:
    rows = [measure(t) for t in PER_BILL_GROUP]
    lines = [
        "| document (collection) | BSON bytes | index bytes | per bill group | "
        + " | ".join(f"{n:,} bill groups" for n in BILL_GROUP_COUNTS)
        + " |",
        "|---|---:|---:|---:|" + "---:|" * len(BILL_GROUP_COUNTS),
    ]
    totals = [0.0 for _ in BILL_GROUP_COUNTS]
    for row in rows:
        ratio = PER_BILL_GROUP[row.event_type]
        cells = []
        for i, count in enumerate(BILL_GROUP_COUNTS):
            stored = count * ratio * (row.document_bytes * DOC_COMPRESSION + row.index_entry_bytes)
            totals[i] += stored
            cells.append(_mib(stored))
        lines.append(
            f"| {row.event_type.value} ({row.collection}) | {row.document_bytes:,} "
            f"| {row.index_entry_bytes:,} | {ratio:g} | " + " | ".join(cells) + " |"
        )
    lines.append(
        "| **total on disk, one replica** | | | | "
        + " | ".join(f"**{_mib(t)}**" for t in totals)
        + " |"
    )
    return "\n".join(lines)


def kafka_table() -> str:
    """Bytes one full copy of each state topic holds (latest version per aggregate)."""
    lines = [
        "| topic | partitions | event bytes (JSON) | "
        + " | ".join(f"{n:,} bill groups" for n in BILL_GROUP_COUNTS)
        + " |",
        "|---|---:|---:|" + "---:|" * len(BILL_GROUP_COUNTS),
    ]
    for event_type, ratio in PER_BILL_GROUP.items():
        topic = latest(event_type).topic
        row = measure(event_type)
        sizes = [_mib(n * ratio * row.event_bytes) for n in BILL_GROUP_COUNTS]
        partitions = TOPICS[Topic(topic)].partitions
        lines.append(
            f"| {topic} | {partitions} | {row.event_bytes:,} | " + " | ".join(sizes) + " |"
        )
    return "\n".join(lines)


README = Path(__file__).resolve().parent / "README.md"
BEGIN = "<!-- sizing:begin -->"
END = "<!-- sizing:end -->"


def tables() -> str:
    note = (
        "One copy of the state topics (replicated 3 times; each update of an invoice adds\n"
        "another event, so multiply `billing.invoices` by the versions an invoice goes through):"
    )
    return f"{table()}\n\n{note}\n\n{kafka_table()}"


def readme_section(text: str) -> str:
    start = text.index(BEGIN) + len(BEGIN)
    return text[start : text.index(END)].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="rewrite the README's tables")
    args = parser.parse_args()
    if not args.readme:
        print(tables())
        return
    text = README.read_text()
    start = text.index(BEGIN) + len(BEGIN)
    README.write_text(text[:start] + "\n" + tables() + "\n" + text[text.index(END) :])


if __name__ == "__main__":
    main()
