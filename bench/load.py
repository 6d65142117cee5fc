"""Load generator: runs the same scenarios against relay_ws and the bare reference relay, on 127.0.0.1 only,
and prints a Markdown report with relay_ws / reference ratios measured in the same run.

Scenarios (every loop is bounded in count and in time):
  fanout  1 sender -> 100 receivers on one endpoint; deliveries per second
  rooms   500 endpoints x 2 clients ping-ponging; round trips per second
  idle    1,000 / 5,000 / 10,000 idle connections; server memory per connection
  churn   connect + close in batches; connections per second
  loss    paced fan-out at half the measured maximum rate: every receiver must get every message, in order
  db      relay_ws database transactions per second at two message rates

Both relays are driven by the same client code. Throughput scenarios run --repeats times with the order of the
relays rotated each time, and the median is reported (the machine is small and shared). Idle scenarios start
fresh server processes so that memory freed by an earlier scenario does not hide the cost of new connections.
Each line also gives the CPU the server and the load generator used (percent of one core over the scenario),
so a saturated client is visible.

Run: .venv/bin/python bench/load.py [--quick] [--repeats 3] [--output FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import orjson
import websockets
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from relay_core.bootstrap import prepare_database  # noqa: E402
from relay_core.db import session_scope  # noqa: E402
from relay_core.services.endpoints import create_endpoint  # noqa: E402
from relay_core.services.users import create_user  # noqa: E402
from relay_core.settings import Settings  # noqa: E402

HOST = "127.0.0.1"
SCENARIO_TIMEOUT = 180.0


def raise_fd_limit() -> int:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def total_ram() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "?"


class Target:
    """A relay under test: its process, its URL maker and (for relay_ws) its metrics."""

    def __init__(self, name: str, process: subprocess.Popen[bytes], port: int, ids: list[str]) -> None:
        self.name, self.process, self.port, self.ids = name, process, port, ids

    def url(self, index: int) -> str:
        return f"ws://{HOST}:{self.port}/ws/{self.ids[index]}"

    def metric(self, name: str) -> float:
        for line in httpx.get(f"http://{HOST}:{self.port}/metrics", timeout=5).text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def wait_port(port: int, process: subprocess.Popen[bytes], path: str | None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("relay exited early")
        with contextlib.suppress(OSError, httpx.HTTPError):
            if path is None:
                import socket
                socket.create_connection((HOST, port), timeout=1).close()
                return
            if httpx.get(f"http://{HOST}:{port}{path}", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} did not open")


def seed(url: str, data_dir: Path, count: int, mode: str) -> list[str]:
    settings = Settings(database_url=url, data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
    prepare_database(settings, bootstrap=False)
    with session_scope(url, write=True) as session:
        owner = create_user(session=session, username=f"bench_{mode}", email=f"bench_{mode}@example.com",
                            password="bench-password-1", is_admin=True)
        return [create_endpoint(session=session, owner=owner, settings=settings, forwarding_mode=mode).endpoint_id
                for _ in range(count)]


def start_relay_ws(tmp: Path, endpoints: int, mode: str, tag: str = "", *, url: str | None = None,
                   ids: list[str] | None = None, extra_env: dict[str, str] | None = None) -> Target:
    """A relay_ws process on a free port; a new SQLite database seeded with `endpoints` unless `url`/`ids`
    name an existing one (several nodes on one database)."""
    url = url or f"sqlite:///{tmp / f'bench-{mode}{tag}.db'}"
    ids = ids if ids is not None else seed(url, tmp / "data", endpoints, mode)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update(RELAY_DATABASE_URL=url, RELAY_DATA_DIR=str(tmp / "data"), RELAY_WS_PORT=str(port),
               RELAY_RATE_LIMIT_PER_CONNECTION="1000000", RELAY_MAX_CONNECTIONS_PER_ENDPOINT="20000",
               RELAY_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT), **(extra_env or {}))
    process = subprocess.Popen([sys.executable, "-m", "relay_ws"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=(tmp / f"relay-{mode}{tag}.log").open("wb"))
    wait_port(port, process, "/healthz")
    return Target(f"relay_ws ({mode})", process, port, ids)


def start_reference(endpoints: int) -> Target:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "reference_relay.py"), "--port", str(port)],
                               cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_port(port, process, None)
    return Target("reference", process, port, [f"ep{i:08d}" for i in range(endpoints)])


async def open_client(url: str, reference: bool) -> ClientConnection:
    ws = await connect(url, compression=None, open_timeout=30, ping_interval=None, max_queue=None)
    if not reference:
        await ws.send('{"type":"ping"}')  # the pong proves relay_ws registered the client
    return ws


async def ready(ws: ClientConnection, is_reference: bool) -> None:
    if is_reference:
        await asyncio.sleep(0.001)  # the reference has no pong; its handler registers right after the handshake
        return
    while True:  # json mode sends CONNECTED first: read up to the pong, so no frame is left to skew a count
        frame = await asyncio.wait_for(ws.recv(), 10)
        if isinstance(frame, str) and frame.startswith('{"type":"pong"'):
            return


async def fanout(target: Target, receivers: int, messages: int, size: int) -> dict[str, float]:
    reference = target.name == "reference"
    sender = await open_client(target.url(0), reference)
    clients = [await open_client(target.url(0), reference) for _ in range(receivers)]
    for ws in [sender, *clients]:
        await ready(ws, reference)
    payload = "x" * size
    await asyncio.sleep(0.3)

    async def drain(ws: ClientConnection) -> None:
        for _ in range(messages):
            await ws.recv()

    started = time.perf_counter()
    draining = asyncio.gather(*(drain(ws) for ws in clients))
    for _ in range(messages):
        await sender.send(payload)
    await asyncio.wait_for(draining, SCENARIO_TIMEOUT)
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in [sender, *clients]))
    return {"deliveries_per_s": receivers * messages / elapsed, "seconds": elapsed}


async def rooms(target: Target, count: int, rounds: int) -> dict[str, float]:
    reference = target.name == "reference"
    pairs = []
    for i in range(count):
        a, b = await open_client(target.url(i), reference), await open_client(target.url(i), reference)
        await ready(a, reference)
        await ready(b, reference)
        pairs.append((a, b))

    async def play(a: ClientConnection, b: ClientConnection) -> None:
        for n in range(rounds):
            await a.send(f"ping {n}")
            await b.recv()
            await b.send(f"pong {n}")
            await a.recv()

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(play(a, b) for a, b in pairs)), SCENARIO_TIMEOUT)
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for pair in pairs for ws in pair))
    return {"round_trips_per_s": count * rounds / elapsed, "seconds": elapsed}


async def idle(target: Target, count: int) -> dict[str, float]:
    before = rss_kib(target.process.pid)
    clients: list[ClientConnection] = []
    started = time.perf_counter()
    for start in range(0, count, 200):
        batch = await asyncio.wait_for(asyncio.gather(*(
            connect(target.url(i % len(target.ids)), compression=None, open_timeout=60, ping_interval=None)
            for i in range(start, min(count, start + 200)))), SCENARIO_TIMEOUT)
        clients.extend(batch)
    connect_s = time.perf_counter() - started
    await asyncio.sleep(1.5)
    after = rss_kib(target.process.pid)
    open_now = sum(1 for ws in clients if ws.close_code is None)
    held = target.metric("relay_connections") if target.name != "reference" else float(open_now)
    for start in range(0, len(clients), 500):
        await asyncio.gather(*(ws.close() for ws in clients[start:start + 500]), return_exceptions=True)
    return {"kib_per_connection": (after - before) / count, "connect_s": connect_s, "held": min(held, open_now)}


async def churn(target: Target, total: int, batch: int) -> dict[str, float]:
    started = time.perf_counter()
    done = 0
    while done < total:
        clients = await asyncio.wait_for(asyncio.gather(*(
            connect(target.url(i % len(target.ids)), compression=None, open_timeout=30, ping_interval=None)
            for i in range(batch))), SCENARIO_TIMEOUT)
        await asyncio.gather(*(ws.close() for ws in clients))
        done += batch
    return {"connections_per_s": total / (time.perf_counter() - started)}


async def db_writes(target: Target, rate: int, seconds: float) -> dict[str, float]:
    a, b = await open_client(target.url(0), False), await open_client(target.url(0), False)
    await ready(a, False)
    await ready(b, False)
    before = target.metric("relay_db_writes_total")
    started = time.perf_counter()
    sent = 0
    while (now := time.perf_counter() - started) < seconds:
        due = int(now * rate)
        while sent < due:
            await a.send(f"m{sent}")
            sent += 1
        await asyncio.sleep(0.005)
    await asyncio.sleep(1.0)
    writes = target.metric("relay_db_writes_total") - before
    await asyncio.gather(a.close(), b.close())
    return {"messages_per_s": sent / seconds, "db_writes_per_s": writes / (seconds + 1.0)}


async def paced_fanout(target: Target, receivers: int, rate: float, seconds: float) -> dict[str, float]:
    """1 sender -> receivers at `rate` messages/s for `seconds`; counts what every receiver got, in order."""
    reference = target.name == "reference"
    sender = await open_client(target.url(0), reference)
    clients = [await open_client(target.url(0), reference) for _ in range(receivers)]
    for ws in [sender, *clients]:
        await ready(ws, reference)
    await asyncio.sleep(0.3)
    total = max(1, int(rate * seconds))
    got = [0] * receivers
    out_of_order = 0

    async def drain(index: int, ws: ClientConnection) -> None:
        nonlocal out_of_order
        with contextlib.suppress(TimeoutError):
            while got[index] < total:
                message = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(message, str) and message.startswith("{"):  # json mode wraps the text
                    message = orjson.loads(message)["data"]
                if message != f"n{got[index]:09d}":
                    out_of_order += 1
                got[index] += 1

    draining = asyncio.gather(*(drain(i, ws) for i, ws in enumerate(clients)))
    started = time.perf_counter()
    for n in range(total):
        delay = started + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await sender.send(f"n{n:09d}")
    sent_s = time.perf_counter() - started
    await asyncio.wait_for(draining, SCENARIO_TIMEOUT)
    await asyncio.gather(*(ws.close() for ws in [sender, *clients]))
    expected = total * receivers
    return {"offered_msgs_per_s": total / sent_s, "expected": expected, "lost": expected - sum(got),
            "out_of_order": out_of_order}


Run = Callable[[Target], Awaitable[dict[str, float]]]


async def measure(name: str, targets: list[Target], run: Run, report: list[str], key: str, figure: str,
                  repeats: int) -> dict[str, float]:
    """Run the scenario `repeats` times per target, rotating the order; report medians and CPU use."""
    values: dict[str, list[float]] = {t.name: [] for t in targets}
    server_cpu: dict[str, list[float]] = {t.name: [] for t in targets}
    client_cpu: dict[str, list[float]] = {t.name: [] for t in targets}
    for round_ in range(repeats):
        for target in targets[round_ % len(targets):] + targets[:round_ % len(targets)]:
            cpu0, own0, wall0 = cpu_seconds(target.process.pid), own_cpu_seconds(), time.perf_counter()
            result = await run(target)
            wall = time.perf_counter() - wall0
            server_cpu[target.name].append(100 * (cpu_seconds(target.process.pid) - cpu0) / wall)
            client_cpu[target.name].append(100 * (own_cpu_seconds() - own0) / wall)
            values[target.name].append(result[key])
            await asyncio.sleep(0.5)
    medians = {n: statistics.median(v) for n, v in values.items()}
    ref = medians.get("reference")
    cells = " · ".join(f"{n}: {m:,.0f}" if m >= 100 else f"{n}: {m:,.2f}" for n, m in medians.items())
    runs = " · ".join(f"{n}: " + "/".join(f"{v:,.0f}" if v >= 100 else f"{v:.2f}" for v in vs)
                      for n, vs in values.items())
    ratios = " · ".join(f"{n.split(' ')[-1].strip('()')}/ref {m / ref:.2f}" for n, m in medians.items()
                        if ref and n != "reference")
    cpu = " · ".join(f"{n}: server {statistics.median(server_cpu[n]):.0f} %, client "
                     f"{statistics.median(client_cpu[n]):.0f} %" for n in medians)
    line = f"| {name} | {figure} | {cells} | {ratios or '—'} | {runs} | {cpu} |"
    print(line, flush=True)
    report.append(line)
    return medians


async def idle_fresh(tmp: Path, count: int, report: list[str]) -> None:
    """Idle connections against fresh processes of both relays (relay_ws direct mode, 500 endpoints)."""
    results: dict[str, dict[str, float]] = {}
    for name in ("relay_ws (direct)", "reference"):
        target = (start_relay_ws(tmp, 500, "direct", tag=f"-idle{count}") if name != "reference"
                  else start_reference(500))
        try:
            await asyncio.sleep(1.0)
            results[name] = await idle(target, count)
        finally:
            target.stop()
    ours, ref = results["relay_ws (direct)"], results["reference"]
    line = (f"| idle {count:,} connections | server RSS KiB / connection (held) | "
            f"relay_ws (direct): {ours['kib_per_connection']:.1f} ({ours['held']:,.0f} held) · "
            f"reference: {ref['kib_per_connection']:.1f} ({ref['held']:,.0f} held) | "
            f"direct/ref {ours['kib_per_connection'] / ref['kib_per_connection']:.2f} | "
            f"connect: {ours['connect_s']:.1f} s / {ref['connect_s']:.1f} s | — |")
    print(line, flush=True)
    report.append(line)


async def main(args: argparse.Namespace) -> None:
    hard = raise_fd_limit()  # the relays started below inherit the raised limit
    tmp = Path(tempfile.mkdtemp(prefix="relay-bench-"))
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    try:
        import uvloop  # noqa: F401
        loop = "uvloop"
    except ImportError:
        loop = "asyncio (no uvloop)"
    report = [f"- machine: nproc={os.cpu_count()}, CPU {cpu}, RAM {total_ram()}, Python {platform.python_version()}, "
              f"websockets {websockets.__version__}, event loop {loop} (load generator and both relays), "
              f"RLIMIT_NOFILE raised to {hard} (inherited by the relays)",
              f"- repeats per throughput scenario: {args.repeats} (order rotated; medians shown)", "",
              "| scenario | figure | median | ratio | every run | CPU (median, % of one core) |",
              "|---|---|---|---|---|---|"]
    quick = args.quick
    repeats = args.repeats
    direct = start_relay_ws(tmp, 500, "direct")
    json_ = start_relay_ws(tmp, 1, "json")
    reference = start_reference(500)
    try:
        messages = 200 if quick else 1000
        fan = await measure(f"fanout 1x100, {messages} msgs of 100 B", [direct, json_, reference],
                            lambda t: fanout(t, 100, messages, 100), report, "deliveries_per_s", "deliveries/s",
                            repeats)
        rounds = 10 if quick else 40
        await measure(f"rooms 500x2 ping-pong, {rounds} rounds", [direct, reference],
                      lambda t: rooms(t, 500, rounds), report, "round_trips_per_s", "round trips/s", repeats)
        await measure("churn 1,000 connect+close (batches of 50)", [direct, reference],
                      lambda t: churn(t, 1000, 50), report, "connections_per_s", "connections/s", repeats)
        seconds = 3.0 if quick else 10.0
        for target in (direct, json_, reference):
            rate = fan[target.name] / 100 / 2  # half of this relay's measured maximum, in messages/s
            result = await paced_fanout(target, 100, rate, seconds)
            line = (f"| zero loss at half the max rate: {target.name}, 1x100 for {seconds:.0f} s | lost / expected "
                    f"deliveries | {result['lost']:,.0f} / {result['expected']:,.0f} at "
                    f"{result['offered_msgs_per_s']:,.0f} msg/s (out of order: {result['out_of_order']:.0f}) | "
                    f"{'PASS' if result['lost'] == 0 and result['out_of_order'] == 0 else 'FAIL'} | — | — |")
            print(line, flush=True)
            report.append(line)
        for rate in (100, 2000):
            result = await db_writes(json_, rate, 5.0 if quick else 10.0)
            line = (f"| db writes at {result['messages_per_s']:,.0f} msg/s | DB transactions/s | "
                    f"relay_ws (json): {result['db_writes_per_s']:.2f} | — | — | — |")
            print(line, flush=True)
            report.append(line)
    finally:
        for target in (direct, json_, reference):
            target.stop()
    # a relay whose flush failed did less work than it should have: its figures would flatter it
    problems = [line for log in sorted(tmp.glob("relay-*.log")) for line in log.read_text().splitlines()
                if "WARNING" in line or "ERROR" in line]
    line = (f"| relay logs clean (no failed flush, no error) | warning or error lines | {len(problems)} | "
            f"{'PASS' if not problems else 'FAIL: ' + problems[0][:120]} | — | — |")
    print(line, flush=True)
    report.append(line)
    for count in ([1000, 5000] if quick else [1000, 5000, 10000]):
        await idle_fresh(tmp, count, report)
    print("\n".join(report))
    if args.output:
        Path(args.output).write_text("\n".join(report) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts (idle up to 5,000)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per throughput scenario (median shown)")
    parser.add_argument("--output", help="also write the report table to this file")
    options = parser.parse_args()
    try:
        import uvloop
        uvloop.run(main(options))
    except ImportError:
        asyncio.run(main(options))
