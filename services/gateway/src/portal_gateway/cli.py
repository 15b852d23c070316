"""`portal-gateway run`: serve the public portal (the container entry point)."""

from __future__ import annotations

import argparse

from portal_gateway.app import create_app
from portal_gateway.settings import Settings, StaffSettings
from portal_kit.clihelp import TRACING, describe_cli
from portal_kit.observability import configure_logging
from portal_kit.serving import serve
from portal_kit.tracing import configure_tracing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="portal-gateway")
    describe_cli(parser, "portal-gateway", Settings, StaffSettings, extra=TRACING)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="serve the portal on HTTP_HOST:HTTP_PORT")
    args = parser.parse_args(argv)
    if args.command == "run":
        settings = Settings()
        configure_tracing("gateway")
        app = create_app(settings)
        configure_logging("gateway", settings.log_level)
        serve(
            app,
            settings.http_host,
            settings.http_port,
            trusted_proxies=settings.trusted_proxy_networks,
        )
