"""`--version` and the environment variables a command reads, for every command-line tool.

Each CLI reads its configuration from the environment (a pydantic-settings model); its
`--help` ends with the variables it reads, generated from that model's fields, so a person
starting a service by hand sees what to set without reading the source.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version

from pydantic_settings import BaseSettings

# Read by the OpenTelemetry SDK when a service serves (portal_kit.tracing), not by a model.
TRACING = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_SERVICE_NAME",
    "OTEL_SDK_DISABLED",
    "(and the SDK's other OTEL_* variables)",
)


def distribution_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown"


def environment_variables(settings: type[BaseSettings]) -> list[str]:
    """The variable of each field: its validation alias if it has one, else its name with
    the model's prefix, upper case (pydantic-settings matches without regard to case)."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = []
    for name, info in settings.model_fields.items():
        alias = info.validation_alias
        names.append(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def describe_cli(
    parser: argparse.ArgumentParser,
    distribution: str,
    *settings: type[BaseSettings],
    extra: Iterable[str] = (),
) -> argparse.ArgumentParser:
    """Add `--version` (the installed distribution's) and an epilog listing the environment
    variables of each settings model and any `extra` ones the command reads itself."""
    parser.add_argument(
        "--version",
        action="version",
        version=f"%(prog)s {distribution_version(distribution)}",
    )
    variables = [name for model in settings for name in environment_variables(model)]
    variables += [name for name in extra if name not in variables]
    listed = "\n".join(f"  {name}" for name in variables) if variables else "  (none)"
    parser.epilog = f"environment variables read:\n{listed}"
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return parser
