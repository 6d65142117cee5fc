"""Scale-out bench: one relay node versus two nodes over Redis under the same load, and cross-node latency.

    .venv/bin/python bench/cluster.py [--repeats 3] [--redis-url redis://127.0.0.1:6379/0]

Fan-out (1 sender, 100 receivers) and rooms (500 endpoints x 2 clients ping-ponging) run against one node,
then against two nodes sharing one SQLite database and Redis with the clients spread over both (the
sender on node A; in rooms, one client of each pair on each node, so every round trip crosses Redis).
Latency: a client on node A sends timestamped messages at a steady rate, a client of the same endpoint on
node A (same node) or node B (cross node) records the delay. Traffic to 127.0.0.1 only; every loop bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from itertools import count
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import (
    Target,
    fanout,
    open_client,
    raise_fd_limit,
    ready,
    rooms,
    seed,
    start_relay_ws,
    total_ram,
)


class Spread:
    """Looks like a Target to the scenarios, but each new client goes to the next node in turn."""

    def __init__(self, nodes: list[Target]) -> None:
        self.nodes, self.name, self._turn = nodes, f"relay_ws x{len(nodes)}", count()
        self.ids = nodes[0].ids

    def url(self, index: int) -> str:
        return self.nodes[next(self._turn) % len(self.nodes)].url(index)


async def latency(sender_target: Target, receiver_target: Target, rate: float, seconds: float) -> dict[str, float]:
    a = await open_client(sender_target.url(0), False)
    b = await open_client(receiver_target.url(0), False)
    await ready(a, False)
    await ready(b, False)
    await asyncio.sleep(0.5)
    total = int(rate * seconds)
    delays: list[float] = []

    async def receive() -> None:
        while len(delays) < total:
            frame = orjson.loads(await asyncio.wait_for(b.recv(), 10))
            if frame.get("type") == "message":
                delays.append(time.perf_counter() - frame["data"])

    receiving = asyncio.create_task(receive())
    started = time.perf_counter()
    for n in range(total):
        await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        await a.send(orjson.dumps({"type": "t", "data": time.perf_counter()}).decode())
    await asyncio.wait_for(receiving, 30)
    await a.close()
    await b.close()
    ordered = sorted(delays)
    return {"p50_ms": 1000 * ordered[len(ordered) // 2], "p99_ms": 1000 * ordered[int(len(ordered) * 0.99) - 1],
            "max_ms": 1000 * ordered[-1], "messages": float(len(ordered))}


async def run(args: argparse.Namespace) -> list[str]:
    raise_fd_limit()
    tmp = Path(tempfile.mkdtemp(prefix="relay-cluster-bench-"))
    url = f"sqlite:///{tmp / 'cluster.db'}"
    ids = seed(url, tmp / "data", 500, "json")
    tag = str(os.getpid())
    redis_env = {"RELAY_REDIS_URL": args.redis_url}
    single = start_relay_ws(tmp, 500, "json", "-single")
    node_a = start_relay_ws(tmp, 0, "json", "-a", url=url, ids=ids,
                            extra_env={**redis_env, "RELAY_NODE_ID": f"bench-a-{tag}"})
    node_b = start_relay_ws(tmp, 0, "json", "-b", url=url, ids=ids,
                            extra_env={**redis_env, "RELAY_NODE_ID": f"bench-b-{tag}"})
    results: dict[str, list[float]] = {}
    try:
        for _ in range(args.repeats):
            for name, target in (("one node", single), ("two nodes", Spread([node_a, node_b]))):
                fan = await fanout(target, 100, args.messages, 64)  # type: ignore[arg-type]
                results.setdefault(f"fan-out {name}", []).append(fan["deliveries_per_s"])
                room = await rooms(target, 500, args.rounds)  # type: ignore[arg-type]
                results.setdefault(f"rooms {name}", []).append(room["round_trips_per_s"])
        same = await latency(node_a, node_a, args.rate, args.seconds)
        cross = await latency(node_a, node_b, args.rate, args.seconds)
    finally:
        for target in (single, node_a, node_b):
            target.stop()
    median = {k: statistics.median(v) for k, v in results.items()}
    lines = [
        f"Command: `.venv/bin/python bench/cluster.py --repeats {args.repeats}` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",
        f"Machine: {os.cpu_count()} CPUs, {total_ram()} RAM, Python {platform.python_version()}; "
        "nodes share one SQLite file and the local Redis; load generator in the same machine.",
        "",
        "| scenario | one node | two nodes | two / one |",
        "|---|---|---|---|",
        f"| fan-out 1x100, {args.messages} msgs (deliveries/s) | {median['fan-out one node']:,.0f} | "
        f"{median['fan-out two nodes']:,.0f} | {median['fan-out two nodes'] / median['fan-out one node']:.2f} |",
        f"| rooms 500x2, {args.rounds} rounds (round trips/s) | {median['rooms one node']:,.0f} | "
        f"{median['rooms two nodes']:,.0f} | {median['rooms two nodes'] / median['rooms one node']:.2f} |",
        "",
        f"Latency at {args.rate:.0f} msg/s for {args.seconds:.0f} s (send to receive, json mode):",
        "",
        "| path | p50 | p99 | max |",
        "|---|---|---|---|",
        f"| same node | {same['p50_ms']:.2f} ms | {same['p99_ms']:.2f} ms | {same['max_ms']:.2f} ms |",
        f"| cross node (via Redis) | {cross['p50_ms']:.2f} ms | {cross['p99_ms']:.2f} ms | {cross['max_ms']:.2f} ms |",
        "",
        "Medians of the repeats: " + "; ".join(f"{k}: {', '.join(f'{x:,.0f}' for x in v)}" for k, v in results.items()),
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    lines = asyncio.run(run(args))
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
