"""Gateway overview page under concurrent load, next to a bare Litestar page of the same size.

    .venv/bin/python bench/gateway_overview.py [--seconds 15] [--connections 32]

Starts the whole portal with `portal-dev` (local stack, four services, demo seed) on free
ports, signs a customer in through the emailed link, then drives two targets with `wrk`
(a separate process on loopback, `apt-get install -y wrk`), one after the other:

1. `GET /portal` on `portal-gateway run`: session validation at access, the overview from
   billing-view, Jinja rendering, security headers, metrics;
2. baseline: a bare Litestar app (same uvicorn, one process) returning a constant HTML body
   of the same byte size as the rendered overview;
3. the "physical limit": a bare Litestar app (same uvicorn, one process) that reads the
   bill group's portal view document with ONE `find_one({_id})` on billing-view's database
   and renders, with Jinja (autoescape), a template made of the gateway's own rendered
   overview with the bill group's name as its variable (same bytes): what one page costs
   with nothing but the one read and a render;
4. billing-view's overview page query (`…/pages/overview`) called directly, so the gateway's
   figures can be read against the dependency it sits on.

Prints requests/s and p50/p99 latency of each and the gateway/baseline ratios, and the
single-request latency of each upstream call the page makes (where the time goes).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.portal import sign_in  # noqa: E402
from tests.support.services import DevPortal  # noqa: E402


def baseline_server(port: int, size: int) -> None:
    import uvicorn
    from litestar import Litestar, MediaType, get

    body = ("<!doctype html><html><body>" + "x" * size)[:size]

    @get("/baseline", media_type=MediaType.HTML, sync_to_thread=False)
    def page() -> str:
        return body

    uvicorn.run(
        Litestar([page]), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def limit_server(port: int, uri: str, database: str, key: str, template_file: str) -> None:
    import json

    import uvicorn
    from jinja2 import Environment
    from litestar import Litestar, MediaType, get
    from pymongo import AsyncMongoClient

    template = Environment(autoescape=True).from_string(Path(template_file).read_text())
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    col = client[database]["read_model"]

    @get("/limit", media_type=MediaType.HTML)
    async def page() -> str:
        doc = await col.find_one({"_id": key}, {"bg": 1})
        assert doc is not None
        return template.render(name=json.loads(doc["bg"]["s"])["name"])

    uvicorn.run(
        Litestar([page]), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


def jinja_template(html: str, name: str) -> str:
    """The rendered page as a template whose one variable is the bill group's name."""
    escaped = html.replace(name.replace("&", "&amp;"), name)
    parts = escaped.split(name)
    raw = ["{% raw %}" + part + "{% endraw %}" for part in parts]
    return "{{ name }}".join(raw)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, header: str | None, seconds: int, connections: int) -> dict[str, float]:
    command = [
        "wrk",
        "-t2",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "30s",
        "--latency",
        url,
    ]
    if header:
        command[1:1] = ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": _ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),  # type: ignore[union-attr]
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def overview_url(ready: dict[str, Any], client: httpx.Client) -> str:
    session = client.get("/api/portal/v1/session").json()
    return (
        f"http://127.0.0.1:{ready['service_ports']['billing_view']}/internal/v1/tenants/"
        f"{session['tenant_id']}/bill-groups/{session['bill_group_id']}/pages/overview"
    )


def upstream_latencies(ready: dict[str, Any], client: httpx.Client) -> dict[str, float]:
    """Where one overview request spends its time, measured call by call without load."""
    token = client.cookies.get("portal_session")
    auth = {"Authorization": f"Bearer {ready['internal_api_token']}"}
    ports = ready["service_ports"]
    view = overview_url(ready, client)
    validate = f"http://127.0.0.1:{ports['access']}/internal/v1/sessions/validate"
    calls: dict[str, Callable[[httpx.Client], httpx.Response]] = {
        "access POST sessions/validate": lambda h: h.post(
            validate, json={"session_token": token}, headers=auth
        ),
        "billing-view GET pages/overview": lambda h: h.get(view, headers=auth),
        "gateway GET /portal (session cached + page + render)": lambda h: client.get("/portal"),
    }
    result: dict[str, float] = {}
    with httpx.Client(timeout=30) as http:
        for name, call in calls.items():
            samples = []
            for _ in range(30):
                started = time.perf_counter()
                call(http).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            result[name] = statistics.median(samples)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    portal = DevPortal(f"bench-gateway-{os.getpid()}")
    baseline: subprocess.Popen[bytes] | None = None
    limit: subprocess.Popen[bytes] | None = None
    try:
        ready = portal.start()
        bg = next(b for b in ready["bill_groups"] if b["contract_status"] == "active")
        seeded = next(
            s for s in ready["seeded"]["bill_groups"] if s["bill_group_id"] == bg["bill_group_id"]
        )
        address = f"bench@{seeded['customer_domain']}"
        client = sign_in(
            ready["gateway_url"], bg["portal_url"], address, ready["endpoints"]["AWS_ENDPOINT_URL"]
        )
        overview = client.get("/portal")
        assert overview.status_code == 200
        size = len(overview.content)
        cookie = "Cookie: " + "; ".join(f"{k}={v}" for k, v in client.cookies.items())

        port = free_port()
        baseline = subprocess.Popen(
            [sys.executable, __file__, "--baseline-server", str(port), str(size)]
        )
        base_url = f"http://127.0.0.1:{port}/baseline"
        for _ in range(100):
            try:
                if len(httpx.get(base_url, timeout=1).content) == size:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

        session = client.get("/api/portal/v1/session").json()
        name = client.get("/api/portal/v1/overview").json()["bill_group"]["name"]
        template_file = Path(portal.base) / "limit-template.html"
        template_file.write_text(jinja_template(overview.text, name))
        limit_port = free_port()
        key = f"{session['tenant_id']}|b|{session['bill_group_id']}"
        limit = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--limit-server",
                str(limit_port),
                ready["endpoints"]["MONGODB_URI"],
                "billing_view",
                key,
                str(template_file),
            ]
        )
        limit_url = f"http://127.0.0.1:{limit_port}/limit"
        for _ in range(100):
            try:
                if httpx.get(limit_url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        limit_size = len(httpx.get(limit_url, timeout=5).content)

        upstream = upstream_latencies(ready, client)

        # A short warm-up of each so that connection pools and caches are in steady state.
        wrk(f"{ready['gateway_url']}/portal", cookie, 3, args.connections)
        wrk(base_url, None, 3, args.connections)
        wrk(limit_url, None, 3, args.connections)
        gateway = wrk(f"{ready['gateway_url']}/portal", cookie, args.seconds, args.connections)
        bare = wrk(base_url, None, args.seconds, args.connections)
        physical = wrk(limit_url, None, args.seconds, args.connections)
        # The page's slowest dependency on its own, same load: the ceiling the gateway sits on.
        view = wrk(
            overview_url(ready, client),
            f"Authorization: Bearer {ready['internal_api_token']}",
            args.seconds,
            args.connections,
        )

        print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, {platform.processor()}")
        print(
            f"load: wrk -t2 -c{args.connections} -d{args.seconds}s on loopback; "
            f"page size {size} bytes (gateway, bare), {limit_size} (physical limit)"
        )
        print(f"{'target':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
        for name, result in (
            ("gateway GET /portal", gateway),
            ("bare Litestar page", bare),
            ("physical limit (1 read+render)", physical),
            ("billing-view pages/overview", view),
        ):
            print(
                f"{name:<28}{result['rps']:>10.1f}{result['p50_ms']:>10.2f}"
                f"{result['p99_ms']:>10.2f}{result['non_2xx']:>10.0f}"
            )
        print(
            f"ratio gateway/baseline: throughput {gateway['rps'] / bare['rps']:.3f}x, "
            f"p50 {gateway['p50_ms'] / bare['p50_ms']:.1f}x, "
            f"p99 {gateway['p99_ms'] / bare['p99_ms']:.1f}x"
        )
        print(
            f"ratio gateway/physical limit: throughput {gateway['rps'] / physical['rps']:.3f}x, "
            f"p50 {gateway['p50_ms'] / physical['p50_ms']:.1f}x"
        )
        print(
            f"ratio gateway/billing-view overview: throughput {gateway['rps'] / view['rps']:.2f}x"
        )
        print("single requests, one at a time (median of 30):")
        for name, ms in upstream.items():
            print(f"  {name:<40}{ms:>8.1f} ms")
        client.close()
    finally:
        for server in (baseline, limit):
            if server is not None:
                server.terminate()
                server.wait(10)
        portal.stop()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline-server":
        baseline_server(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) == 7 and sys.argv[1] == "--limit-server":
        limit_server(int(sys.argv[2]), *sys.argv[3:])
    else:
        main()
