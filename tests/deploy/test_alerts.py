"""The alerts: one rendered PrometheusRule per overlay, each watching only its own namespace,
SLO burn-rate alerts, and a runbook section in deploy/README.md for every alert."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.deploy.conftest import DEPLOY, K8S, OVERLAYS, load_script

MONITORING = K8S / "components" / "monitoring"
# Words of PromQL that are not metric names: functions are followed by "(" and dropped apart.
KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "bool"})


@pytest.fixture(scope="module")
def render() -> ModuleType:
    return load_script(MONITORING / "render.py", "portal_deploy_alert_rules")


def rules_of(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def alerts_of(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rules_of(docs) if "alert" in r]


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric, matchers) of every vector selector of an expression; matchers "" if bare."""
    text = re.sub(r'"[^"]*"', '""', expr)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    found: list[tuple[str, str]] = []
    for match in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\{[^}]*\})?\s*(\()?", text):
        name, braces, call = match.groups()
        if call or name in KEYWORDS:
            continue
        found.append((name, braces or ""))
    return found


def namespace_matchers(expr: str) -> list[str]:
    """The namespace matcher of each selector (None if it has none), read from the raw text."""
    out: list[str] = []
    for block in re.findall(r"\{[^}]*\}", expr):
        matched = re.search(r'\bnamespace\s*(=~?|!=)\s*"([^"]*)"', block)
        out.append(f"{matched.group(1)}{matched.group(2)}" if matched else "")
    return out


def test_checked_in_rules_equal_a_fresh_render(render: ModuleType) -> None:
    for path, text in render.rendered().items():
        assert Path(path).read_text() == text, f"{path} is stale: run {MONITORING}/render.py"


def test_the_selector_parser_sees_bare_and_matched_selectors() -> None:
    expr = 'sum by (ns) (rate(a_total{x="1"}[5m])) / b > 1 and on (pod) c{namespace="p"}'
    assert selectors(expr) == [("a_total", '{x=""}'), ("b", ""), ("c", '{namespace=""}')]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_selector_matches_only_the_overlays_namespace(
    rendered: dict[str, list[dict[str, Any]]], overlay: str, render: ModuleType
) -> None:
    namespace = render.overlay_namespace(overlay)
    (rule,) = [d for d in rendered[overlay] if d["kind"] == "PrometheusRule"]
    assert rule["metadata"]["namespace"] == namespace
    for entry in rules_of(rendered[overlay]):
        name = entry.get("alert") or entry["record"]
        found = selectors(entry["expr"])
        assert found, name
        bare = [metric for metric, braces in found if not braces]
        assert not bare, f"{name}: selectors without a namespace matcher: {bare}"
        assert set(namespace_matchers(entry["expr"])) == {f"={namespace}"}, name


def test_dev_and_prod_watch_different_namespaces(render: ModuleType) -> None:
    assert render.overlay_namespace("dev") != render.overlay_namespace("prod")


def runbook_anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_alert_links_a_runbook_section_that_exists(
    rendered: dict[str, list[dict[str, Any]]], overlay: str, render: ModuleType
) -> None:
    anchors = runbook_anchors((DEPLOY / "README.md").read_text())
    for alert in alerts_of(rendered[overlay]):
        url = alert.get("annotations", {}).get("runbook_url", "")
        base, _, anchor = url.partition("#")
        assert base == render.RUNBOOKS, f"{alert['alert']}: runbook_url {url!r}"
        assert base.endswith("/deploy/README.md")
        assert anchor in anchors, f"{alert['alert']}: no section #{anchor} in deploy/README.md"
        assert alert["labels"]["severity"] in {"critical", "warning"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_pods_down_restarting_oom_killed_and_slo_burn_rates_alert(
    rendered: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    by_name = {a["alert"]: a["expr"] for a in alerts_of(rendered[overlay])}
    assert re.search(r"^up\{.*\} == 0$", by_name["PortalTargetDown"])
    assert "kube_pod_container_status_restarts_total" in by_name["PortalContainerRestarting"]
    assert 'reason="OOMKilled"' in by_name["PortalContainerOOMKilled"]
    for slo in ("PortalAvailabilityBudgetBurn", "PortalSigninEmailLatencyBudgetBurn"):
        # The workbook's pairs: 14.4x and 6x page, 3x and 1x open a ticket.
        assert "14.4 *" in by_name[f"{slo}Fast"]
        assert "6.0 *" in by_name[f"{slo}Fast"]
        assert "3.0 *" in by_name[f"{slo}Slow"]
        assert "1.0 *" in by_name[f"{slo}Slow"]
