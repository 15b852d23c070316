"""`portal-access run` serves the app; `api-key create|revoke|list` manage admin API keys;
`staff-secret create` and `staff-link` are the staff console's (issue 9, see staff_cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient

from portal_access import auth, staff_cli
from portal_access.settings import Settings
from portal_access.storage import Storage
from portal_kit.serving import serve


async def _with_storage(settings: Settings, work: Callable[[Storage], Awaitable[int]]) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_uri, tz_aware=True)
    try:
        storage = Storage(client, settings.mongodb_database)
        await storage.ensure_indexes()
        return await work(storage)
    finally:
        await client.close()


def _api_key(args: argparse.Namespace, settings: Settings) -> int:
    async def create(storage: Storage) -> int:
        key_id, key = await auth.create_api_key(storage, args.tenant, args.name)
        print(f"created API key {key_id} ({args.name}) for tenant {args.tenant}", file=sys.stderr)
        print("store it now: it is shown only once", file=sys.stderr)
        # The key alone on the last stdout line, so scripts can take it.
        print(key)
        return 0

    async def revoke(storage: Storage) -> int:
        if await auth.revoke_api_key(storage, args.tenant, args.key_id):
            print(f"revoked {args.key_id}", file=sys.stderr)
            return 0
        print(f"no active key {args.key_id} for tenant {args.tenant}", file=sys.stderr)
        return 1

    async def listing(storage: Storage) -> int:
        for key in await auth.list_api_keys(storage, args.tenant):
            print(json.dumps(key, default=str))
        return 0

    work = {"create": create, "revoke": revoke, "list": listing}[args.action]
    return asyncio.run(_with_storage(settings, work))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="portal-access")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="serve the HTTP API, the consumer and the outbox relay")
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
    staff_cli.add_commands(commands)
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "run":
        from portal_access.app import create_app

        serve(create_app(settings), settings.http_host, settings.http_port)
        return 0
    if args.command in staff_cli.COMMANDS:
        return staff_cli.run(args, settings)
    return _api_key(args, settings)


if __name__ == "__main__":
    raise SystemExit(main())
