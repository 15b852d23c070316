"""`portal-contracts export-schemas` rewrites contracts/schemas from the models."""

from __future__ import annotations

import argparse

from portal_contracts import schemas


def main() -> None:
    parser = argparse.ArgumentParser(prog="portal-contracts")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("export-schemas", help="write contracts/schemas/*.json from the models")
    sub.add_parser("check-schemas", help="exit 1 when the checked-in schemas drift")
    args = parser.parse_args()
    if args.command == "export-schemas":
        for path in schemas.export():
            print(path)
    else:
        stale = schemas.drift()
        if stale:
            raise SystemExit("schemas drift from the models: " + ", ".join(stale))
