"""`portal-notifier run` (the service), `portal-notifier suppression add|remove|list` and
`portal-notifier delivery status EVENT_ID...` (operators, the benchmark)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from portal_kit.clihelp import TRACING, describe_cli
from portal_kit.errors import NotFoundError, PortalError
from portal_kit.observability import mask_email
from portal_kit.serving import serve
from portal_notifier.db import mongo_client
from portal_notifier.delivery.repository import DeliveryRepository
from portal_notifier.settings import Settings
from portal_notifier.suppressions.repository import SuppressionRepository
from portal_notifier.suppressions.service import SuppressionService


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portal-notifier")
    describe_cli(parser, "portal-notifier", Settings, extra=TRACING)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="serve /healthz, /readyz, /metrics and consume events")
    suppression = commands.add_parser("suppression", help="manage the suppression list")
    actions = suppression.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="never email this address")
    add.add_argument("email")
    add.add_argument("--reason", default="manual", help="e.g. bounce, complaint, manual")
    add.add_argument(
        "--days", type=float, default=None, help="lapse after this many days (default: never)"
    )
    remove = actions.add_parser("remove", help="email this address again")
    remove.add_argument("email")
    actions.add_parser("list", help="print every suppressed address")
    delivery = commands.add_parser("delivery", help="look up sign-in email deliveries")
    lookups = delivery.add_subparsers(dest="action", required=True)
    status = lookups.add_parser(
        "status", help="one JSON line per known event id: state, attempts, sent_at, reason"
    )
    status.add_argument("--tenant", required=True, help="the events' tenant id")
    status.add_argument("event_ids", nargs="+", metavar="EVENT_ID")
    return parser


async def _suppression(settings: Settings, args: argparse.Namespace) -> int:
    client = mongo_client(settings.mongodb_uri)
    try:
        service = SuppressionService(SuppressionRepository(client[settings.mongodb_database]))
        if args.action == "add":
            added = await service.suppress(args.email, args.reason, args.days)
            print(f"{mask_email(args.email)} {'suppressed' if added else 'was already suppressed'}")
        elif args.action == "remove":
            await service.unsuppress(args.email)
            print(f"{mask_email(args.email)} removed from the suppression list")
        else:
            # An operator's own terminal: full addresses are what they need to act on.
            for entry in await service.suppressed():
                added_at = "" if entry.added_at is None else entry.added_at
                until = "" if entry.expires_at is None else entry.expires_at
                print(f"{entry.address}\t{entry.reason}\t{added_at}\t{until}")
        return 0
    except PortalError as exc:
        print(exc.message, file=sys.stderr)
        return 1 if isinstance(exc, NotFoundError) else 2
    finally:
        await client.close()


async def _delivery_status(settings: Settings, tenant_id: str, event_ids: list[str]) -> int:
    client = mongo_client(settings.mongodb_uri)
    try:
        repository = DeliveryRepository(client[settings.mongodb_database])
        for status in await repository.statuses(tenant_id, event_ids):
            line = {
                "event_id": status.event_id,
                "state": status.state.value,
                "attempts": status.attempts,
                "sent_at": status.sent_at.isoformat() if status.sent_at else None,
                "reason": status.reason,
                "last_error": status.last_error,
            }
            print(json.dumps(line))
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
    if args.command == "delivery":
        return asyncio.run(_delivery_status(settings, args.tenant, args.event_ids))
    return asyncio.run(_suppression(settings, args))


if __name__ == "__main__":
    sys.exit(main())
