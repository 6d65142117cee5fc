"""This node's numbers: plain counters bumped on the hot path, flushed to the database in batches from a
worker thread, and read by Prometheus at scrape time (no lock or label lookup per message)."""

from __future__ import annotations

import asyncio
import bisect
import logging
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from relay_core.db import session_scope
from relay_core.services.activity import RECENT_MESSAGES
from relay_core.services.relay_flush import EndpointDelta, RecentMessage, StatsBatch, flush_stats
from relay_core.services.relay_records import heartbeat

log = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0
"""How often pending changes are written (SPEC: at least once a second while anything changes). Flushes
start on a fixed one-second beat, so a slow flush does not stretch the period; under load each flush costs
per busy endpoint, so a shorter period would spend more of the node's CPU on the database for little gain
(a change still lands within 1 s plus the flush, inside the SPEC's 2 s while the CPU has room; see FLUSH_NICE)."""
HEARTBEAT_INTERVAL_SECONDS = 5.0
"""An idle node still writes its heartbeat this often (stale after 20 s, see services.stats)."""
FLUSH_NICE = 10
"""The flush thread's CPU priority, as a nice increment (Linux only). The flush costs CPU per stored message;
when the node's CPU is saturated, relaying goes first and the flush catches up: counters stay exact (deltas
add up) and the history still keeps each endpoint's 50 newest, but they reach the database later. Measured
on 2 cores in bench/load.py's rooms scenario: +10 to 17 % round trips/s; flushes under that load took up
to 1.4 s instead of 0.7 s. When the CPU has room, the priority makes no difference."""
DELIVERY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""Upper bounds, in seconds, of the relay_delivery_seconds histogram."""


@dataclass(slots=True)
class EndpointCounters:
    """One endpoint's numbers on this node; `pending` is what the next flush writes."""

    pk: uuid.UUID
    current: int = 0
    pending: EndpointDelta = field(default_factory=EndpointDelta)
    dirty: bool = False
    recent: deque[RecentMessage] = field(default_factory=lambda: deque(maxlen=RECENT_MESSAGES))


class NodeStats:
    """Counters for the database (per endpoint) and for /metrics (per node)."""

    def __init__(self, *, database_url: str, node_id: str) -> None:
        self._url = database_url
        self.node_id = node_id
        self._endpoints: dict[uuid.UUID, EndpointCounters] = {}
        self._token_used: dict[int, int] = {}
        self._presence: dict[tuple[uuid.UUID, str], int] = {}
        self._presence_dirty: set[tuple[uuid.UUID, str]] = set()
        self._device_seen: dict[tuple[uuid.UUID, str], int] = {}
        self._retry: StatsBatch | None = None
        self._last_write = 0.0
        self._flush_lock = asyncio.Lock()
        self._db_failing = False
        self._closed = False
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="relay-flush",
                                          initializer=_lower_priority)
        # Prometheus counters (read by MetricsCollector at scrape time).
        self.connections = 0
        self.received = 0
        self.delivered = 0
        self.bytes_received = 0
        self.bytes_delivered = 0
        self.dropped: dict[str, int] = {}
        self.refused_by_code: dict[int, int] = {}
        self.delivery_buckets = [0] * (len(DELIVERY_BUCKETS) + 1)
        self.delivery_sum = 0.0
        self.db_writes = 0

    def endpoint(self, pk: uuid.UUID) -> EndpointCounters:
        counters = self._endpoints.get(pk)
        if counters is None:
            counters = self._endpoints[pk] = EndpointCounters(pk=pk)
        return counters

    # -- connection life -------------------------------------------------------------------------

    def connection_opened(self, counters: EndpointCounters, *, token_id: int | None, now_ms: int) -> None:
        counters.current += 1
        counters.pending.connections += 1
        counters.pending.last_active_ms = now_ms
        counters.dirty = True
        self.connections += 1
        if token_id is not None:
            self._token_used[token_id] = now_ms

    def connection_closed(self, counters: EndpointCounters) -> None:
        counters.current -= 1
        counters.dirty = True
        self.connections -= 1

    def connection_refused(self, close_code: int) -> None:
        """A connection refused at the door or closed for a state change, by close code."""
        self.refused_by_code[close_code] = self.refused_by_code.get(close_code, 0) + 1

    def device_joined(self, pk: uuid.UUID, device_id: str, now_ms: int) -> None:
        key = (pk, device_id)
        self._presence[key] = self._presence.get(key, 0) + 1
        self._presence_dirty.add(key)
        self._device_seen[key] = now_ms

    def device_left(self, pk: uuid.UUID, device_id: str, now_ms: int) -> None:
        key = (pk, device_id)
        self._presence[key] = self._presence.get(key, 0) - 1
        self._presence_dirty.add(key)
        self._device_seen[key] = now_ms

    # -- hot path ----------------------------------------------------------------------------------

    def message_accepted(
        self, counters: EndpointCounters, *, size: int, now_ms: int, connection_id: str, device_id: str | None,
        text: str | None,
    ) -> None:
        """Count an accepted message and keep it among the endpoint's newest (binary: text is None)."""
        pending = counters.pending
        pending.messages += 1
        pending.bytes += size
        pending.last_active_ms = now_ms
        counters.dirty = True
        self.received += 1
        self.bytes_received += size
        counters.recent.append((now_ms, connection_id, device_id, size, text))

    def message_dropped(self, counters: EndpointCounters | None, reason: str) -> None:
        """A message refused from its sender (rate, forbidden: counted in dropped_messages) or a delivery
        skipped for a slow receiver (counters None: only in /metrics)."""
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        if counters is not None:
            counters.pending.dropped += 1
            counters.dirty = True

    def delivered_to(self, receivers: int, size: int, seconds: float) -> None:
        self.delivered += receivers
        self.bytes_delivered += receivers * size
        self.delivery_buckets[bisect.bisect_left(DELIVERY_BUCKETS, seconds)] += 1
        self.delivery_sum += seconds

    # -- flushing ------------------------------------------------------------------------------------

    def _take_batch(self) -> StatsBatch:
        batch = StatsBatch()
        for pk, counters in list(self._endpoints.items()):
            if counters.dirty:
                pending = counters.pending
                pending.current = counters.current
                batch.endpoints[pk] = pending
                counters.pending = EndpointDelta()
                counters.dirty = False
                if counters.recent:
                    batch.messages[pk] = list(counters.recent)
                    counters.recent.clear()
            elif counters.current == 0:
                del self._endpoints[pk]  # nothing pending, nobody connected: forget it
        batch.token_last_used_ms, self._token_used = self._token_used, {}
        batch.presence = {key: self._presence.get(key, 0) for key in self._presence_dirty}
        for key, count in batch.presence.items():
            if count <= 0:
                self._presence.pop(key, None)
        self._presence_dirty = set()
        batch.device_seen_ms, self._device_seen = self._device_seen, {}
        return batch

    def _merge_retry(self, batch: StatsBatch) -> StatsBatch:
        """Put a failed batch in front of the newer one so nothing counted is lost while the DB is down."""
        old = self._retry
        self._retry = None
        if old is None:
            return batch
        for pk, delta in batch.endpoints.items():
            if pk in old.endpoints:
                old.endpoints[pk].merge(delta)
            else:
                old.endpoints[pk] = delta
        for pk, recent in batch.messages.items():
            old.messages[pk] = [*old.messages.get(pk, ()), *recent][-RECENT_MESSAGES:]
        old.token_last_used_ms.update(batch.token_last_used_ms)
        old.presence.update(batch.presence)
        old.device_seen_ms.update(batch.device_seen_ms)
        return old

    def _write(self, batch: StatsBatch) -> None:
        with session_scope(self._url, write=True) as session:
            if batch.is_empty():
                heartbeat(session=session, node_id=self.node_id)
            else:
                flush_stats(session=session, node_id=self.node_id, batch=batch)

    async def flush(self, *, force: bool = False) -> bool:
        """Write what changed (or the heartbeat when due) in the flush thread. False if the DB failed
        (or the stats were closed)."""
        async with self._flush_lock:
            if self._closed:
                return False
            batch = self._merge_retry(self._take_batch())
            now = time.monotonic()
            if batch.is_empty() and not force and now - self._last_write < HEARTBEAT_INTERVAL_SECONDS:
                return True
            try:
                await asyncio.get_running_loop().run_in_executor(self._writer, self._write, batch)
            except SQLAlchemyError as exc:
                self._retry = batch
                if not self._db_failing:
                    log.warning("stats flush failed, will retry: %s", exc.__class__.__name__)
                self._db_failing = True
                return False
            if self._db_failing:
                log.info("stats flush recovered")
            self._db_failing = False
            self._last_write = now
            self.db_writes += 1
            return True

    async def run_flusher(self) -> None:
        """Flush on a fixed FLUSH_INTERVAL_SECONDS beat until cancelled (at once when a flush overran)."""
        loop = asyncio.get_running_loop()
        beat = loop.time()
        while True:
            beat = max(beat + FLUSH_INTERVAL_SECONDS, loop.time())
            await asyncio.sleep(beat - loop.time())
            await self.flush()


    def close(self) -> None:
        """Stop the flush thread (after the final flush); later flushes report failure."""
        self._closed = True
        self._writer.shutdown(wait=True)


def _lower_priority() -> None:
    """Runs in the flush thread: lower its own priority by FLUSH_NICE. Linux only, where a thread id names
    one thread to setpriority (elsewhere it could name another process). Never fails the thread."""
    if sys.platform != "linux":
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + FLUSH_NICE))
    except Exception as exc:  # an executor whose initializer raised refuses every later flush
        log.warning("flush thread priority unchanged: %s", exc)


class MetricsCollector(Collector):
    """Builds the Prometheus families from NodeStats when /metrics is scraped."""

    def __init__(self, stats: NodeStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self._stats
        yield GaugeMetricFamily("relay_connections", "Open WebSocket connections on this node", value=s.connections)
        yield CounterMetricFamily("relay_messages_received", "Messages accepted from clients", value=s.received)
        yield CounterMetricFamily("relay_messages_delivered", "Messages written to receivers", value=s.delivered)
        yield CounterMetricFamily("relay_bytes_received", "Bytes of accepted client messages",
                                  value=s.bytes_received)
        yield CounterMetricFamily("relay_bytes_delivered", "Bytes written to receivers", value=s.bytes_delivered)
        yield CounterMetricFamily("relay_db_writes", "Batched database transactions (stats, messages, heartbeat)",
                                  value=s.db_writes)
        dropped = CounterMetricFamily("relay_messages_dropped", "Messages dropped, by reason", labels=["reason"])
        for reason, count in sorted(s.dropped.items()):
            dropped.add_metric([reason], count)
        yield dropped
        refused = CounterMetricFamily("relay_connections_refused", "Connections refused or closed by the relay, "
                                      "by close code", labels=["code"])
        for code, count in sorted(s.refused_by_code.items()):
            refused.add_metric([str(code)], count)
        yield refused
        cumulative: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip([*map(str, DELIVERY_BUCKETS), "+Inf"], s.delivery_buckets, strict=True):
            running += count
            cumulative.append((bound, running))
        yield HistogramMetricFamily("relay_delivery_seconds", "From receiving a message to its last write",
                                    buckets=cumulative, sum_value=s.delivery_sum)


def metrics_registry(stats: NodeStats) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(MetricsCollector(stats))
    return registry
