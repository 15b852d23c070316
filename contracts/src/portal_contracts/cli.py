"""`portal-contracts export-schemas` rewrites contracts/schemas and contracts/asyncapi.json
from the models and the topic registry; `check-schemas` fails when either drifts."""

from __future__ import annotations

import argparse
from importlib.metadata import version

from portal_contracts import asyncapi, schemas


def main() -> None:
    # The contracts package depends on pydantic alone, so not on the kit's `describe_cli`.
    parser = argparse.ArgumentParser(
        prog="portal-contracts",
        epilog="environment variables read:\n  (none)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {version('portal-contracts')}"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "export-schemas",
        help="write contracts/schemas/*.json and contracts/asyncapi.json from the contracts",
    )
    sub.add_parser("check-schemas", help="exit 1 when the checked-in schemas or AsyncAPI drift")
    args = parser.parse_args()
    if args.command == "export-schemas":
        for path in schemas.export():
            print(path)
        print(asyncapi.export())
    else:
        stale = schemas.drift()
        if asyncapi.drifted():
            stale.append(asyncapi.DOCUMENT.name)
        if stale:
            raise SystemExit("schemas drift from the models: " + ", ".join(stale))
