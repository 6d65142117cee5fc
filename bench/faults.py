"""Long variants of the fault scenarios in tests/faults (same code, longer faults and more load), on 127.0.0.1:

  outage    the relay's PostgreSQL database refuses connections for --outage seconds under 100 msg/s to 5 receivers
  readonly  relay and API started on a SQLite database in a read-only folder (bind mount as root, else chmod)
  diskfull  SQLite on a 4 MiB tmpfs (root only) filled for --full seconds under 200 msg/s of 4 KiB messages
  stuck     --stuck raw clients that never read, on an endpoint streaming 16 KiB at 200/s for --stuck-seconds

Prints each scenario's figures and PASS/FAIL; exit status 1 when any check failed.
Run: .venv/bin/python bench/faults.py [--only outage,stuck] [--outage 60] [--full 60] [--stuck-seconds 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults.scenarios import (  # noqa: E402
    can_mount,
    database_outage,
    disk_full,
    log_lines,
    start_on_read_only_database,
    stuck_reader,
)

Checks = list[tuple[str, bool]]


def outage(args: argparse.Namespace, tmp: Path) -> Checks:
    r = database_outage(tmp, outage_seconds=args.outage, rate=100.0, receivers=5, catch_up_timeout=20.0)
    print(f"  sent {r.sent} ({r.sent_during_outage} during the outage), received per client "
          f"{[len(x) for x in r.received]}, stored total_messages {r.stored_total_messages} "
          f"({r.stored_after_seconds:.1f} s after recovery), /healthz during {sorted(set(r.healthz_during))}, "
          f"new connection closed {r.new_connection_close_code}, API list during "
          f"{r.api_list_during.status_code if r.api_list_during else None}")
    return [
        ("no message lost", all(x == list(range(r.sent)) for x in r.received)),
        ("/healthz 503 during, 200 after", set(r.healthz_during) == {503} and r.healthz_after == 200),
        ("/api/health 503 during, 200 after", set(r.api_health_during) == {503} and r.api_health_after == 200),
        ("new connection closed 1011", r.new_connection_close_code == 1011),
        ("stats caught up", r.stored_total_messages == r.sent),
        ("relay alive, no traceback", r.relay_alive and "Traceback" not in r.relay_log),
        ("one flush warning", len(log_lines(r.relay_log, "stats flush failed")) == 1),
        ("API answers 503, no traceback", r.api_list_during is not None and r.api_list_during.status_code == 503
         and "Traceback" not in r.api_log),
    ]


def readonly(args: argparse.Namespace, tmp: Path) -> Checks:
    results = {s.name: s for s in start_on_read_only_database(tmp)}
    for s in results.values():
        print(f"  {s.name}: exit {s.returncode} after {s.seconds:.1f} s, {len(s.output.splitlines())} lines, "
              f"first: {s.output.strip().splitlines()[:1]}")
    return [(f"{name} exits non-zero in 30 s, one line, no traceback",
             s.returncode not in (0, None) and s.seconds < 30 and len(s.output.strip().splitlines()) == 1)
            for name, s in results.items()]


def diskfull(args: argparse.Namespace, tmp: Path) -> Checks:
    if not can_mount():
        print("  skipped: mounting a tmpfs needs root")
        return []
    r = disk_full(tmp, full_seconds=args.full, rate=200.0, api_writes=20)
    print(f"  sent {r.sent}, received {r.received}, API writes {sorted(set(r.write_statuses))}, follow-up "
          f"errors {len(r.followup_errors)}, stored total_messages {r.stored_total_messages}, "
          f"write after {r.write_after}, "
          f"API log tracebacks {r.api_log.count('Traceback')}")
    return [
        ("no message lost", r.received == r.sent),
        ("API writes 5xx", all(s >= 500 for s in r.write_statuses)),
        ("stats caught up", r.stored_total_messages == r.sent and r.write_after == 201),
        ("relay: one warning, no traceback", len(log_lines(r.relay_log, "stats flush failed")) == 1
         and "Traceback" not in r.relay_log),
        ("keep-alive survives a failed write", not r.followup_errors),
    ]


def stuck(args: argparse.Namespace, tmp: Path) -> Checks:
    r = stuck_reader(tmp, seconds=args.stuck_seconds, rate=200.0, readers=4, stuck=args.stuck)
    worst = [min(r.rates(i)[:-1]) for i in range(len(r.per_reader))]
    p99 = [sorted(x[1] for x in d)[int(0.99 * len(d))] for d in r.per_reader]
    print(f"  sent {r.sent} in {r.send_seconds:.1f} s, first drop at {r.first_drop_at} s, connections after "
          f"{r.connections_after}, readers' worst second {worst}/s, p99 latency {[f'{x * 1000:.1f} ms' for x in p99]}")
    return [
        ("every reader got everything", all([s for s, _, _ in d] == list(range(r.sent)) for d in r.per_reader)),
        ("stuck clients dropped and cut", r.first_drop_at is not None and r.connections_after == 5),
        ("readers kept >= 80 % of the rate every second", min(worst) >= 160),
        ("p99 latency < 250 ms", max(p99) < 0.25),
    ]


SCENARIOS: dict[str, Callable[[argparse.Namespace, Path], Checks]] = {
    "outage": outage, "readonly": readonly, "diskfull": diskfull, "stuck": stuck}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenario names")
    parser.add_argument("--outage", type=float, default=60.0, help="seconds the database is unreachable")
    parser.add_argument("--full", type=float, default=60.0, help="seconds the disk stays full")
    parser.add_argument("--stuck-seconds", type=float, default=60.0)
    parser.add_argument("--stuck", type=int, default=3, help="clients that never read")
    args = parser.parse_args()
    failed = 0
    for name in args.only.split(","):
        started = time.monotonic()
        print(f"{name}:", flush=True)
        checks = SCENARIOS[name](args, Path(tempfile.mkdtemp(prefix=f"relay-fault-{name}-")))
        for label, ok in checks:
            print(f"  {'PASS' if ok else 'FAIL'} {label}")
            failed += not ok
        print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
