"""`portal-access staff-secret create` and `portal-access staff-link` (issue 9).

The billing platform holds each tenant's staff-link secret and signs links itself; these
commands create that secret and stand in for the platform in local development and demos.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from portal_access.db import Mongo, mongo_client
from portal_access.settings import Settings
from portal_access.staff_links import domain as staff_links
from portal_access.staff_links.repository import StaffLinkRepository
from portal_contracts.envelope import utc_now

COMMANDS = ("staff-secret", "staff-link")


def add_commands(commands: Any) -> None:
    secret = commands.add_parser("staff-secret", help="per-tenant staff-link signing secrets")
    actions = secret.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="add a new secret (newest signs) and print it once")
    create.add_argument("--tenant", required=True)

    link = commands.add_parser("staff-link", help="print a signed staff console link")
    link.add_argument("--tenant", required=True)
    scope = link.add_mutually_exclusive_group(required=True)
    scope.add_argument("--bill-group")
    scope.add_argument("--account")
    link.add_argument("--staff", required=True, help="the staff member's email (audited)")
    link.add_argument("--minutes", type=int, default=30)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    client = mongo_client(settings)
    try:
        store = StaffLinkRepository(Mongo(client, settings.mongodb_database))
        if args.command == "staff-secret":
            secret = staff_links.new_secret()
            await store.add_secret(args.tenant, secret, utc_now())
            print(f"new staff-link secret for tenant {args.tenant}", file=sys.stderr)
            print("give it to the billing platform now: it is shown only once", file=sys.stderr)
            print(secret)
            return 0
        secrets = await store.secrets_of(args.tenant)
        if not secrets:
            if settings.environment != "local":
                print(f"tenant {args.tenant} has no staff-link secret", file=sys.stderr)
                return 1
            # Local development: make the first secret on demand so demos need one command.
            secrets = [staff_links.new_secret()]
            await store.add_secret(args.tenant, secrets[0], utc_now())
        scope = staff_links.Scope.BILL_GROUP if args.bill_group else staff_links.Scope.ACCOUNT
        try:
            params = staff_links.issue(
                tenant_id=args.tenant,
                scope=scope,
                scope_id=args.bill_group or args.account,
                staff_email=args.staff,
                now=int(time.time()),
                minutes=args.minutes,
                secret=secrets[0],
            )
        except ValueError as exc:
            print(f"cannot sign this link: {exc}", file=sys.stderr)
            return 2
        # The link alone on stdout, so scripts (portal-dev) can take it.
        print(staff_links.link(settings.portal_public_url, params))
        return 0
    finally:
        await client.close()


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_run(args, settings))
