"""`billing-view run` (the service), `billing-view replay --database NAME [--follow]` (a
rebuild, under the consumer group `billing-view.NAME`) and `billing-view documents` (the
read-model documents some events become, for sizing)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from billing_view.settings import Settings
from portal_kit.clihelp import TRACING, describe_cli
from portal_kit.observability import configure_logging
from portal_kit.serving import serve
from portal_kit.tracing import configure_tracing


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="billing-view")
    describe_cli(parser, "billing-view", Settings, extra=TRACING)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="serve the query API and consume the billing topics")
    replay = sub.add_parser(
        "replay",
        help="rebuild the read model from offset 0 into a new database, committing under the "
        "group billing-view.DATABASE (the group the service then runs with on it); SIGTERM "
        "stops it cleanly, running it again resumes",
    )
    replay.add_argument(
        "--database", required=True, help="target database (empty, or this rebuild's own)"
    )
    replay.add_argument(
        "--follow",
        action="store_true",
        help="once caught up, keep consuming until SIGTERM (then switch the service to it)",
    )
    sub.add_parser(
        "documents",
        help="read upstream state event envelopes (JSON lines) on stdin; print the read-model "
        "documents they build, `{kind, document}` per line (every read is by `_id`: no other "
        "index), touching no server",
    )
    args = parser.parse_args(argv)
    if args.command == "documents":
        from billing_view.errors import InvalidEventError
        from billing_view.projection.documents import build
        from portal_contracts.codec import ContractError

        envelopes: list[bytes] = []
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                build([line.encode()])  # refuse an invalid event with its line number
            except (ContractError, InvalidEventError) as exc:
                print(f"error: line {number}: {exc}", file=sys.stderr)
                raise SystemExit(2) from exc
            envelopes.append(line.encode())
        for described in build(envelopes):
            print(json.dumps(described))
        return
    settings = Settings()
    configure_logging("billing-view", settings.log_level)
    configure_tracing("billing-view")
    if args.command == "run":
        from billing_view.app import create_app

        serve(create_app(settings), settings.http_host, settings.http_port)
        return
    from billing_view.projection.replay import ReplayError

    try:
        stats = asyncio.run(_replay(settings, args.database, args.follow))
    except ReplayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
    print(json.dumps(stats), flush=True)


async def _replay(settings: Settings, database: str, follow: bool) -> dict[str, object]:
    from billing_view.projection.replay import ReplayStats, replay_into

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        # `kubectl delete job` (SIGTERM): finish the batch, commit, exit 0.
        loop.add_signal_handler(signum, stop.set)

    def caught_up(stats: ReplayStats) -> None:
        print(json.dumps({"event": "caught_up", **stats.as_dict()}), flush=True)

    stats = await replay_into(settings, database, follow=follow, stop=stop, on_caught_up=caught_up)
    return {"event": "stopped", **stats.as_dict()}
