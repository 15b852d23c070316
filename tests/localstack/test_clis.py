"""Every console script of the workspace answers `--version` with its distribution's version,
and its `--help` lists the environment variables it reads (from its settings model)."""

from __future__ import annotations

import importlib
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from billing_simulator.settings import Settings as SimulatorSettings
from billing_view.settings import Settings as BillingViewSettings
from portal_access.settings import Settings as AccessSettings
from portal_gateway.settings import Settings as GatewaySettings
from portal_gateway.settings import StaffSettings
from portal_kit.clihelp import environment_variables
from portal_kit.settings import CommonSettings
from portal_notifier.settings import Settings as NotifierSettings

REPO = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, tuple[type[BaseSettings], ...]] = {
    "portal-access": (AccessSettings,),
    "billing-view": (BillingViewSettings,),
    "portal-notifier": (NotifierSettings,),
    "portal-gateway": (GatewaySettings, StaffSettings),
    "billing-simulator": (SimulatorSettings,),
    "portal-dlq": (CommonSettings,),
    "portal-topics": (CommonSettings,),
}
# What the local stack's commands read themselves (no settings model).
LOCAL = {
    "portal-dev": ("GATEWAY_PORT", "LOCAL_KAFKA_PORT", "PORTAL_CACHE_DIR"),
    "portal-localstack": ("LOCAL_KAFKA_PORT", "LOCAL_MONGODB_PORT", "PORTAL_CACHE_DIR"),
}


def console_scripts() -> list[tuple[str, str, str]]:
    """(script, "module:function", distribution) of every workspace member."""
    found = []
    for pyproject in sorted(REPO.glob("**/pyproject.toml")):
        if ".cache" in pyproject.parts or ".venv" in pyproject.parts:
            continue
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        for script, target in project.get("scripts", {}).items():
            found.append((script, target, project["name"]))
    return found


SCRIPTS = console_scripts()


def run(target: str, script: str, args: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    module, _, function = target.partition(":")
    main = getattr(importlib.import_module(module), function)
    # Some mains take argv, some read sys.argv: give both the same.
    monkeypatch.setattr(sys, "argv", [script, *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    code = exit_info.value.code
    return code if isinstance(code, int) else 1


def test_the_workspace_has_the_expected_scripts() -> None:
    names = {script for script, _, _ in SCRIPTS}
    assert names >= {*SETTINGS, *LOCAL, "portal-contracts"}


@pytest.mark.parametrize(("script", "target", "distribution"), SCRIPTS)
def test_version(
    script: str,
    target: str,
    distribution: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(target, script, ["--version"], monkeypatch) == 0
    assert capsys.readouterr().out.strip() == f"{script} {version(distribution)}"


@pytest.mark.parametrize(("script", "target", "distribution"), SCRIPTS)
def test_help_lists_the_environment_variables_read(
    script: str,
    target: str,
    distribution: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(target, script, ["--help"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert "environment variables read:" in out
    listed = set(out.split("environment variables read:", 1)[1].split())
    expected = {name for model in SETTINGS.get(script, ()) for name in environment_variables(model)}
    expected |= set(LOCAL.get(script, ()))
    assert expected <= listed, f"{script} --help misses {sorted(expected - listed)}"
    if script in SETTINGS:
        assert {"KAFKA_BOOTSTRAP", "MONGODB_URI", "LOG_LEVEL"} <= listed


def test_environment_variables_use_aliases_and_upper_case() -> None:
    names = environment_variables(SimulatorSettings)
    assert "AWS_ENDPOINT_URL_S3" in names
    assert "KAFKA_BOOTSTRAP" in names
