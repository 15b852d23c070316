"""The rendered alert rules as Prometheus itself reads them: `promtool check rules` and the
unit tests of deploy/k8s/components/monitoring/tests/ (series in, alerts out, namespace
isolation). promtool is built from the Go module proxy into .cache/go/ on first use."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from portal_localstack.gotools import PROMTOOL, GoToolError, ensure
from tests.deploy.conftest import K8S, OVERLAYS

UNIT_TESTS = K8S / "components" / "monitoring" / "tests"
# `portal-localstack install` (make test) builds promtool beforehand; a first build inside
# the session (pytest run alone on a fresh clone) takes minutes under load.
pytestmark = pytest.mark.timeout(1800)


@pytest.fixture(scope="module")
def promtool() -> Path:
    try:
        return ensure(PROMTOOL)
    except GoToolError as exc:
        pytest.skip(f"promtool could not be built from the Go module proxy: {exc}")


def run(promtool: Path, *args: str, cwd: Path) -> str:
    result = subprocess.run(
        [str(promtool), *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def rule_files(
    rendered: dict[str, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Each overlay's PrometheusRule spec as a plain rules file, beside the unit tests."""
    workdir = tmp_path_factory.mktemp("rules")
    for overlay in OVERLAYS:
        (rule,) = [d for d in rendered[overlay] if d["kind"] == "PrometheusRule"]
        (workdir / f"{overlay}.rules.yaml").write_text(yaml.safe_dump(rule["spec"]))
        shutil.copy(UNIT_TESTS / f"{overlay}.yaml", workdir / f"{overlay}.yaml")
    return workdir


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rules_are_valid_prometheus_rules(
    promtool: Path, rule_files: Path, overlay: str
) -> None:
    run(promtool, "check", "rules", f"{overlay}.rules.yaml", cwd=rule_files)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_rules_fire_on_their_own_namespace_only(
    promtool: Path, rule_files: Path, overlay: str
) -> None:
    out = run(promtool, "test", "rules", f"{overlay}.yaml", cwd=rule_files)
    assert "SUCCESS" in out
