"""`portal-access run` serves the app; `upgrade` moves documents of the earlier layout
(`upgrade.py`, once, before the first replica starts); `api-key create|revoke|list` manage
admin API keys;
`staff-secret create` and `staff-link` are the staff console's (issue 9,
see staff_links/cli.py); `backup` and `restore` dump and restore the access database
(backup/cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable

from portal_access.api_keys.repository import ApiKeyRepository
from portal_access.api_keys.service import CallerService
from portal_access.backup import cli as backup_cli
from portal_access.db import Mongo, mongo_client
from portal_access.settings import Settings
from portal_access.staff_links import cli as staff_cli
from portal_kit.clihelp import TRACING, describe_cli
from portal_kit.serving import serve


async def _with_callers(settings: Settings, work: Callable[[CallerService], Awaitable[int]]) -> int:
    client = mongo_client(settings)
    try:
        keys = ApiKeyRepository(Mongo(client, settings.mongodb_database))
        await keys.ensure_indexes()
        return await work(CallerService(keys, settings.internal_api_token))
    finally:
        await client.close()


async def _upgrade(settings: Settings) -> int:
    from portal_access.upgrade import upgrade

    client = mongo_client(settings)
    try:
        moved = await upgrade(Mongo(client, settings.mongodb_database))
    finally:
        await client.close()
    print(f"rekeyed {moved} portal(s) by (tenant, bill group)", file=sys.stderr)
    return 0


def _api_key(args: argparse.Namespace, settings: Settings) -> int:
    async def create(callers: CallerService) -> int:
        key_id, key = await callers.create_key(args.tenant, args.name)
        print(f"created API key {key_id} ({args.name}) for tenant {args.tenant}", file=sys.stderr)
        print("store it now: it is shown only once", file=sys.stderr)
        # The key alone on the last stdout line, so scripts can take it.
        print(key)
        return 0

    async def revoke(callers: CallerService) -> int:
        if await callers.revoke_key(args.tenant, args.key_id):
            print(f"revoked {args.key_id}", file=sys.stderr)
            return 0
        print(f"no active key {args.key_id} for tenant {args.tenant}", file=sys.stderr)
        return 1

    async def listing(callers: CallerService) -> int:
        for key in await callers.keys_of(args.tenant):
            shown = {
                "_id": key.key_id,
                "tenant_id": key.tenant_id,
                "name": key.name,
                "created_at": key.created_at,
                "revoked_at": key.revoked_at,
            }
            print(json.dumps(shown, default=str))
        return 0

    work = {"create": create, "revoke": revoke, "list": listing}[args.action]
    return asyncio.run(_with_callers(settings, work))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portal-access")
    describe_cli(parser, "portal-access", Settings, extra=TRACING)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="serve the HTTP API, the consumer and the outbox relay")
    commands.add_parser("upgrade", help="move documents of the earlier layout (run once)")
    keys = commands.add_parser("api-key", help="admin API keys (tenant-scoped)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", required=True)
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("--tenant", required=True)
    revoke.add_argument("key_id")
    listing = actions.add_parser("list", help="list a tenant's keys (never the keys themselves)")
    listing.add_argument("--tenant", required=True)
    commands.add_parser(
        "admin-openapi", help="print the admin API's OpenAPI document (the gateway serves it)"
    )
    staff_cli.add_commands(commands)
    backup_cli.add_commands(commands)
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "run":
        from portal_access.app import create_app

        serve(create_app(settings), settings.http_host, settings.http_port)
        return 0
    if args.command == "upgrade":
        return asyncio.run(_upgrade(settings))
    if args.command == "admin-openapi":
        from portal_access.app import create_app
        from portal_access.openapi import admin_openapi

        print(json.dumps(admin_openapi(create_app(settings)), indent=2, sort_keys=True))
        return 0
    if args.command in staff_cli.COMMANDS:
        return staff_cli.run(args, settings)
    if args.command in backup_cli.COMMANDS:
        return backup_cli.run(args, settings)
    return _api_key(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
