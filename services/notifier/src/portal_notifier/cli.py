"""`portal-notifier run` (the service) and `portal-notifier suppression add|remove|list`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient

from portal_kit.observability import mask_email
from portal_kit.serving import serve
from portal_notifier.settings import Settings
from portal_notifier.storage import NotifierStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portal-notifier")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="serve /healthz, /readyz, /metrics and consume events")
    suppression = commands.add_parser("suppression", help="manage the suppression list")
    actions = suppression.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="never email this address")
    add.add_argument("email")
    add.add_argument("--reason", default="manual", help="e.g. bounce, complaint, manual")
    remove = actions.add_parser("remove", help="email this address again")
    remove.add_argument("email")
    actions.add_parser("list", help="print every suppressed address")
    return parser


async def _suppression(settings: Settings, args: argparse.Namespace) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        store = NotifierStore(client, settings.mongodb_database)
        if args.action == "add":
            if "@" not in args.email:
                print(f"not an email address: {args.email!r}", file=sys.stderr)
                return 2
            added = await store.suppress(args.email, args.reason, datetime.now(UTC))
            print(f"{mask_email(args.email)} {'suppressed' if added else 'was already suppressed'}")
        elif args.action == "remove":
            removed = await store.unsuppress(args.email)
            if not removed:
                print(f"{mask_email(args.email)} is not on the suppression list", file=sys.stderr)
                return 1
            print(f"{mask_email(args.email)} removed from the suppression list")
        else:
            # An operator's own terminal: full addresses are what they need to act on.
            for entry in await store.suppressed():
                print(f"{entry['_id']}\t{entry.get('reason', '')}\t{entry.get('added_at', '')}")
        return 0
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    if args.command == "run":
        from portal_notifier.app import create_app

        serve(create_app(settings), settings.http_host, settings.http_port)
        return 0
    return asyncio.run(_suppression(settings, args))


if __name__ == "__main__":
    sys.exit(main())
