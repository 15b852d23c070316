"""`portal-localstack install | up`: the local servers, as one foreground command."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from portal_kit.clihelp import describe_cli
from portal_localstack import configdoc, gotools
from portal_localstack.paths import STACK_VARIABLES
from portal_localstack.process import ServerDiedError
from portal_localstack.stack import LocalStack, Ports, install


def _up(fresh: bool) -> int:
    stack = LocalStack("dev", Ports.from_env(), fresh=fresh)
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.monotonic()
    endpoints = stack.start()
    print(f"local stack ready in {time.monotonic() - started:.1f}s", flush=True)
    for key, value in endpoints.as_env().items():
        print(f"  {key}={value}", flush=True)
    print("Ctrl-C stops it.", flush=True)
    try:
        while not stopping:
            stack.check_alive()
            time.sleep(0.5)
    except ServerDiedError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        stack.stop()
        return 1
    stack.stop()
    print("local stack stopped", flush=True)
    return 0


def _install_promtool() -> None:
    """Built here rather than inside a test: the first build takes minutes, longer than one
    test may run. Without Go the alert rule tests skip and say why."""
    try:
        print(f"promtool: {gotools.ensure(gotools.PROMTOOL)}", flush=True)
    except gotools.GoToolError as exc:
        print(f"warning: {exc}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(prog="portal-localstack")
    describe_cli(parser, "portal-localstack", extra=STACK_VARIABLES)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "install", help="fetch the Kafka and mongo-java-server jars, build promtool, into .cache/"
    )
    up = sub.add_parser("up", help="run Kafka, MongoDB (mongo-java-server) and moto until Ctrl-C")
    up.add_argument("--fresh", action="store_true", help="start from empty data directories")
    doc = sub.add_parser("config-doc", help="print (or --write) the README's config reference")
    doc.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.command == "install":
        install()
        _install_promtool()
    elif args.command == "config-doc":
        if args.write:
            configdoc.write()
        else:
            print(configdoc.render())
    else:
        raise SystemExit(_up(args.fresh))
