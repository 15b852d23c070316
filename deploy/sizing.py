"""Read-model and Kafka sizing from measured document sizes (feeds deploy/README.md).

Each billing-view document is built by billing-view itself: one bill group's states in the
design's target shape (DESIGN.md, "Scale": 1M bill groups, 50M invoices; made from the
contracts' example events) go through its public CLI (`billing-view documents`: the live
consumer's decode and version-gated upserts, applied in memory, no server needed) and what
it prints is measured with `bson.encode`; the sizes are then multiplied by the documents per
bill group. The only index is `_id` (every read is by `_id`); its entries are estimated from
the key widths. Nothing here is a timing claim.

    python deploy/sizing.py            # print the tables
    python deploy/sizing.py --readme   # refresh them in deploy/README.md (CI checks they match)
"""

from __future__ import annotations

import argparse
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


# The documents of one bill group's read model, per bill group: its portal view (with the
# index entries of its 50 invoices, its subscriptions and payment methods), its invoices, the
# account's list (one bill group per account), the entity (shared, 0.03 per bill group).
DOCUMENTS_PER_BILL_GROUP = {"portal_view": 1.0, "invoice": 50.0, "account": 1.0, "entity": 0.03}


@dataclass(frozen=True)
class Measured:
    kind: str
    document_bytes: int
    index_entry_bytes: int


def _example_event(event_type: EventType, aggregate_id: str | None = None, **fields: Any) -> Any:
    example = {**EXAMPLES[(event_type, 1)], **fields}
    id_field = AGGREGATE_ID_FIELD[event_type]
    if aggregate_id is not None:
        example[id_field] = aggregate_id
    payload = latest(event_type).model.model_validate(example)
    return make_event(
        payload,
        tenant_id="tenant_0001",
        aggregate_id=str(getattr(payload, id_field)),
        aggregate_version=7,
    )


def _billing_view() -> str:
    beside = Path(sys.executable).parent / "billing-view"
    found = str(beside) if beside.exists() else shutil.which("billing-view")
    if found is None:
        raise SystemExit("billing-view is not installed (uv sync)")
    return found


def _bill_group_events() -> list[Any]:
    """One bill group's upstream states in the target shape (PER_BILL_GROUP), ids distinct."""
    bill_group = _example_event(EventType.BILL_GROUP_STATE)
    bg = bill_group.payload.bill_group_id
    events = [_example_event(EventType.ENTITY_STATE), bill_group]
    for event_type in (
        EventType.INVOICE_STATE,
        EventType.SUBSCRIPTION_STATE,
        EventType.PAYMENT_METHOD_STATE,
    ):
        prefix = AGGREGATE_ID_FIELD[event_type].removesuffix("_id")
        events += [
            _example_event(event_type, f"{prefix}_{i:04d}", bill_group_id=bg)
            for i in range(int(PER_BILL_GROUP[event_type]))
        ]
    return events


@functools.cache
def _documents() -> dict[str, list[dict[str, Any]]]:
    """What billing-view builds from one bill group's states (`billing-view documents`)."""
    lines = b"".join(encode(e) + b"\n" for e in _bill_group_events())
    done = subprocess.run(  # noqa: S603 - our own installed entry point, fixed arguments
        [_billing_view(), "documents"], input=lines, capture_output=True, check=True
    )
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for line in done.stdout.splitlines():
        if line.strip():
            described = json.loads(line)
            by_kind.setdefault(described["kind"], []).append(described["document"])
    return by_kind


def measure(kind: str) -> Measured:
    """Mean BSON bytes of the kind's documents; the only index is `_id` (every read is by
    `_id`): its entry is the key plus ~16 bytes of record id and overhead."""
    docs = _documents()[kind]
    document = sum(len(bson.encode(d)) for d in docs) // len(docs)
    entry = sum(len(bson.encode({"_id": d["_id"]})) for d in docs) // len(docs)
    return Measured(kind, document, entry + INDEX_ENTRY_OVERHEAD)


def event_bytes(event_type: EventType) -> int:
    return len(_example_event(event_type, aggregate_id="x").model_dump_json().encode())


def _mib(n: float) -> str:
    if n >= 1024**3:
        return f"{n / 1024**3:.1f} GiB"
    return f"{n / 1024**2:.1f} MiB"


def table() -> str:
    rows = [measure(kind) for kind in DOCUMENTS_PER_BILL_GROUP]
    lines = [
        "| document (`read_model`) | BSON bytes | `_id` index bytes | per bill group | "
        + " | ".join(f"{n:,} bill groups" for n in BILL_GROUP_COUNTS)
        + " |",
        "|---|---:|---:|---:|" + "---:|" * len(BILL_GROUP_COUNTS),
    ]
    totals = [0.0 for _ in BILL_GROUP_COUNTS]
    for row in rows:
        ratio = DOCUMENTS_PER_BILL_GROUP[row.kind]
        cells = []
        for i, count in enumerate(BILL_GROUP_COUNTS):
            stored = count * ratio * (row.document_bytes * DOC_COMPRESSION + row.index_entry_bytes)
            totals[i] += stored
            cells.append(_mib(stored))
        lines.append(
            f"| {row.kind} | {row.document_bytes:,} "
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
        size = event_bytes(event_type)
        sizes = [_mib(n * ratio * size) for n in BILL_GROUP_COUNTS]
        partitions = TOPICS[Topic(topic)].partitions
        lines.append(f"| {topic} | {partitions} | {size:,} | " + " | ".join(sizes) + " |")
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
