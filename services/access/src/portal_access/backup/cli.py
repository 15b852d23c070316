"""`portal-access backup --out DIR` and `portal-access restore --from DIR [--drop]`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from portal_access.backup.models import CollectionCopied
from portal_access.backup.repository import DatabaseRepository
from portal_access.backup.service import BackupService
from portal_access.db import Mongo, mongo_client
from portal_access.settings import Settings
from portal_kit.errors import PortalError

COMMANDS = ("backup", "restore")


def add_commands(commands: Any) -> None:
    backup = commands.add_parser(
        "backup", help="dump every collection of the access database (mongodump's layout)"
    )
    backup.add_argument("--out", type=Path, required=True, help="the dump goes to OUT/<database>/")
    restore = commands.add_parser(
        "restore", help="restore a dump: per collection its indexes, then its documents"
    )
    restore.add_argument("--from", dest="source", type=Path, required=True, metavar="DIR")
    restore.add_argument(
        "--from-database", help="the dumped database's name (default: MONGODB_DATABASE)"
    )
    restore.add_argument(
        "--drop",
        action="store_true",
        help="drop the database first (required when it holds documents)",
    )


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    client = mongo_client(settings)
    try:
        backups = BackupService(DatabaseRepository(Mongo(client, settings.mongodb_database)))
        try:
            if args.command == "backup":
                done = await backups.dump(args.out)
            else:
                done = await backups.restore(args.source, source=args.from_database, drop=args.drop)
        except PortalError as exc:
            print(f"{args.command}: {exc.message}", file=sys.stderr)
            return 1
    finally:
        await client.close()
    _report(args.command, settings.mongodb_database, done)
    return 0


def _report(command: str, database: str, done: list[CollectionCopied]) -> None:
    for collection in done:
        print(
            f"{database}.{collection.name}: {collection.documents} document(s), "
            f"{collection.indexes} index(es)"
        )
    total = sum(c.documents for c in done)
    print(f"{command}: {len(done)} collection(s), {total} document(s)", file=sys.stderr)


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))
