"""Who owns which KafkaTopic: the portal's manifests only the portal's topics.

`billing.*` belongs to the upstream billing system (`billing.invoices`, kept forever, is the
source every read-model rebuild replays). Declared in the portal's base, `kubectl delete -k`
of an overlay would delete them, data included. They live in an opt-in component whose
topics the Topic Operator does not manage, so deleting its resources leaves the topics be.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml

from portal_contracts.topics import TOPICS, Topic

from .conftest import K8S, OVERLAYS
from .test_manifests import custom_schema, objects

COMPONENT = K8S / "components" / "upstream-topics"
UPSTREAM = {name for name in TOPICS if name.startswith("billing.")}


def topic_names(docs: list[dict[str, Any]]) -> set[str]:
    return {str(t["spec"]["topicName"]) for t in objects(docs, "KafkaTopic")}


def test_the_base_declares_no_upstream_topic(kustomize: Path) -> None:
    result = subprocess.run(
        [str(kustomize), "build", str(K8S / "base")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    names = topic_names(docs)
    assert names, "the portal's own topics"
    assert not {n for n in names if n.startswith("billing.")}
    assert "dlq.billing-simulator" not in names  # the simulator never runs in a cluster


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_overlay_opts_in_to_upstream_topics(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    assert not topic_names(rendered[overlay]) & UPSTREAM


def test_the_component_declares_every_upstream_topic_unmanaged(
    kustomize: Path, tmp_path: Path
) -> None:
    """Built as an overlay that opts in would build it, then held to Strimzi's schema."""
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "namespace": "portal",
                "components": [os.path.relpath(COMPONENT, tmp_path)],
            }
        )
    )
    result = subprocess.run(
        [str(kustomize), "build", "--load-restrictor", "LoadRestrictionsNone", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert {d["kind"] for d in docs} == {"KafkaTopic"}
    assert topic_names(docs) == UPSTREAM
    assert Topic.INVOICES in topic_names(docs)
    schema = jsonschema.Draft202012Validator(custom_schema("kafka.strimzi.io/v1", "KafkaTopic"))
    for doc in docs:
        schema.validate(doc)
        # The Topic Operator's own switch: an unmanaged KafkaTopic's deletion keeps the topic.
        assert doc["metadata"]["annotations"]["strimzi.io/managed"] == "false"
        spec = TOPICS[doc["spec"]["topicName"]]
        assert doc["spec"]["partitions"] == spec.partitions
    invoices = next(d for d in docs if d["spec"]["topicName"] == Topic.INVOICES)
    assert invoices["spec"]["config"]["retention.ms"] == -1
