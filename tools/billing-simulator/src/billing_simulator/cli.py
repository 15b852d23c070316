"""`billing-simulator seed | stream | respond | publish-invoice`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from typing import Any

from billing_simulator import scenario
from billing_simulator.publish import Publisher, publish_new_invoice, upload
from billing_simulator.settings import Settings
from portal_kit.clihelp import describe_cli
from portal_kit.observability import configure_logging

SCENARIOS = {"demo": scenario.demo}


async def seed(
    settings: Settings, name: str, *, tenant_id: str = scenario.TENANT, label: str = ""
) -> dict[str, Any]:
    built = SCENARIOS[name](
        settings.aws_endpoint_url,
        settings.documents_bucket,
        settings.logos_bucket,
        tenant_id=tenant_id,
        label=label,
    )
    # Documents before events: an invoice never points at a PDF that is not there yet.
    uploaded = await asyncio.to_thread(upload, settings, built.assets)
    async with Publisher(settings) as publisher:
        await publisher.publish(built.events)
    return {**built.summary(), "uploaded": uploaded}


async def stream(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    from billing_simulator.stream import stream as generate

    events = list(
        generate(
            args.rate,
            args.seconds,
            bill_groups=args.bill_groups,
            duplicates=args.duplicates,
            reorder=args.reorder,
            seed=args.seed,
            tenant=args.tenant,
        )
    )
    started = time.monotonic()
    async with Publisher(settings) as publisher:
        pending = []
        for i, event in enumerate(events):
            # Pace by the clock rather than sleeping per event: the rate holds on average.
            due = started + i / args.rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(await publisher.send(event))
        await asyncio.gather(*pending)
    elapsed = time.monotonic() - started
    return {"published": len(events), "seconds": round(elapsed, 2), "tenant_id": args.tenant}


async def publish_invoice(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    return await publish_new_invoice(
        settings, args.bill_group, args.seq, tenant_id=args.tenant, currency=args.currency
    )


async def respond(settings: Settings) -> None:
    from billing_simulator.respond import respond as run

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="billing-simulator")
    describe_cli(parser, "billing-simulator", Settings)
    sub = parser.add_subparsers(dest="command", required=True)
    p_seed = sub.add_parser("seed", help="publish a named scenario; prints its ids as JSON")
    p_seed.add_argument("--scenario", choices=sorted(SCENARIOS), default="demo")
    p_seed.add_argument("--tenant", default=scenario.TENANT, help="the same ids, another tenant")
    p_seed.add_argument("--label", default="", help="prefix for its names, e.g. the tenant's")
    p_stream = sub.add_parser("stream", help="publish synthetic state events at a given rate")
    p_stream.add_argument("--rate", type=float, default=100.0, help="events per second")
    p_stream.add_argument("--seconds", type=float, default=10.0)
    p_stream.add_argument("--duplicates", type=float, default=0.0, help="fraction resent")
    p_stream.add_argument("--reorder", type=float, default=0.0, help="fraction swapped")
    p_stream.add_argument("--bill-groups", type=int, default=1000)
    p_stream.add_argument("--tenant", default="stream")
    p_stream.add_argument("--seed", type=int, default=7)
    sub.add_parser("respond", help="answer portal.customer-changes like the upstream would")
    p_inv = sub.add_parser("publish-invoice", help="publish one new open invoice (with PDF)")
    p_inv.add_argument("--bill-group", required=True)
    p_inv.add_argument("--seq", type=int, required=True)
    p_inv.add_argument("--tenant", default=scenario.TENANT)
    p_inv.add_argument("--currency", default="EUR")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging("billing-simulator", settings.log_level)
    result: dict[str, Any] | None
    if args.command == "seed":
        result = asyncio.run(seed(settings, args.scenario, tenant_id=args.tenant, label=args.label))
    elif args.command == "stream":
        result = asyncio.run(stream(settings, args))
    elif args.command == "publish-invoice":
        result = asyncio.run(publish_invoice(settings, args))
    else:
        asyncio.run(respond(settings))
        result = None
    if result is not None:
        print(json.dumps(result, indent=2))
