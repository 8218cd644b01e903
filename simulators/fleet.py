"""`watertel sim fleet`: N whole gateways from one asyncio process, with seeded faults and an oracle.

Each gateway reports one station (points ``flow`` m³/h and ``total`` m³, a totaliser integrating
the flow) once per interval, in real time, as the edge agent does: an SM2-signed envelope with
its own key, sequence number and SM3 chain, published QoS 1 on ``<prefix>/<gateway>/up``.
Gateways sample at their own phase inside the interval (spread evenly), so 4,000 of them make a
steady stream rather than one burst per interval. Per slot and gateway, from a seeded stream:

* drop (``--drop P``): the reading is never taken or sealed (a power cut): no envelope, no gap in
  the chain, nothing received;
* late (``--late P``): sealed at its sample time and published ``--late-by`` seconds after it;
* reorder (``--reorder P``): held and published right after the gateway's next envelope;
* duplicate (``--duplicate P``): the same bytes published again within two intervals.

Envelopes are sealed in one worker thread (libcrypto signs outside the GIL) and spread over a few
MQTT connections (``--connections``), each gateway always on the same one, so its order on the
wire is the order the fleet chose. The fleet does not play the gateways' presence (status) topic.
A broken connection ends the run with exit status 1: a publish whose PUBACK was lost would make
the oracle uncertain. The oracle (fleet_oracle.py) counts a slot as received when a copy was
acknowledged by the broker, on time when that copy was published within the on-time window.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import math
import os
import random
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiomqtt

from watertel.simulators.fleet_oracle import GatewayLog, oracle
from watertel.simulators.publisher import Publisher
from watertel.simulators.fleet_setup import (POINTS, Window, gateway_id, make_keys, plan_window, prepare_dir, station_id,
                                    write_cloud_config, write_registry)
from watertel.envelope import ChainState, seal
from watertel.errors import OperatorError
from watertel.ports import free_port
from watertel.readings import Reading

MAX_BATCH = 1000  # samples sealed per scheduler round: acknowledgements keep flowing when behind


@dataclass(frozen=True)
class FleetOptions:
    gateways: int
    interval_s: int
    broker: str
    duration_s: float
    out: Path
    seed: int = 0
    drop: float = 0.0
    late: float = 0.0
    late_by_s: float | None = None  # default: twice the on-time window
    duplicate: float = 0.0
    reorder: float = 0.0
    on_time_intervals: float = 12.0
    lead_s: float = 2.0
    connections: int = 4
    topic_prefix: str = "watertel"
    timezone: str = "Asia/Shanghai"
    progress_s: float = 5.0

    @property
    def on_time_s(self) -> float:
        return self.on_time_intervals * self.interval_s

    @property
    def late_s(self) -> float:
        return self.late_by_s if self.late_by_s is not None else 2 * self.on_time_s

    @property
    def guard_s(self) -> float:
        """How far from the window edge every delay must stay: room for the cloud's ingest delay."""
        return max(1.0, min(5.0, self.on_time_s / 4))

    def check(self) -> None:
        """Refuse options that cannot give a trustworthy oracle, naming the option and value."""
        for name in ("drop", "late", "duplicate", "reorder"):
            if not 0 <= getattr(self, name) <= 1:
                raise OperatorError(f"--{name} is a probability 0..1 (got {getattr(self, name)})")
        if self.gateways < 1 or self.interval_s < 1 or self.duration_s <= 0 or self.connections < 1:
            raise OperatorError("--gateways, --interval (whole seconds), --duration and --connections must be > 0")
        if self.on_time_intervals < 2:
            raise OperatorError(f"--on-time-intervals must be >= 2 (reordered envelopes wait an interval; got {self.on_time_intervals})")
        if self.late_s < self.on_time_s + 2 * self.guard_s:
            raise OperatorError(f"--late-by {self.late_s:g} s is too close to the on-time window of {self.on_time_s:g} s:"
                                f" use at least {self.on_time_s + 2 * self.guard_s:g} s so ingest delay cannot flip a verdict")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise OperatorError(f"--timezone: unknown time zone {self.timezone!r} (use an IANA name such as Asia/Shanghai)") from None
        parts = urlsplit(self.broker)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise OperatorError(f"--broker must be mqtt://HOST[:PORT] (got {self.broker!r}; the fleet speaks plain MQTT)")


class _Gateway:
    __slots__ = ("index", "id", "key_id", "station", "key", "chain", "rng", "total", "topic", "conn", "log")

    def __init__(self, index: int, key, opts: FleetOptions, slots: int) -> None:
        self.index, self.id, self.station, self.key = index, gateway_id(index), station_id(index), key
        self.key_id, self.chain = f"{self.id}-k1", ChainState()
        self.rng = random.Random(f"{opts.seed}:{index}")  # one stream per gateway: timing never changes it
        self.total = 10_000.0 + 1000 * self.rng.random()
        self.topic = f"{opts.topic_prefix}/{self.id}/up"
        self.conn = 0  # which of the publisher's connections: always the same one, so its order holds
        self.log = GatewayLog([None] * slots, [None] * slots)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Fleet:
    def __init__(self, opts: FleetOptions, keys: list, window: Window, publisher: Publisher) -> None:
        self.opts, self.window, self.pub = opts, window, publisher
        self.gws = [_Gateway(i, key, opts, window.slots) for i, key in enumerate(keys)]
        self.phase = [i * window.interval_ms // len(keys) for i in range(len(keys))]
        self.heap: list[tuple[int, int, str, _Gateway, int, bytes]] = []
        self.order = itertools.count()  # ties in the heap: first held, first out
        self.sealer = ThreadPoolExecutor(1, thread_name_prefix="fleet-seal")  # one: chains stay in order
        self.counts = dict.fromkeys(("sampled", "sealed", "published", "acked", "dropped", "late", "duplicated",
                                     "reordered", "failed"), 0)
        self.lags: list[int] = []  # ms behind schedule of each publish made on time
        self.sampling_done: tuple[int, int, float] | None = None  # (ms, publishes, CPU s) when the last slot was sampled
        self.cpu_at_start: float | None = None  # CPU seconds used when the first slot was sampled

    # --- scheduling ----------------------------------------------------------------------------
    async def run(self) -> None:
        w, n, slot, idx = self.window, len(self.gws), 0, 0
        while slot < w.slots or self.heap or self.pub.pending:
            if self.pub.error:
                raise OperatorError(f"lost the broker ({self.pub.error}); the oracle would be uncertain, run again")
            now, due = _now_ms(), []
            while slot < w.slots and len(due) < MAX_BATCH and w.start_ms + slot * w.interval_ms + self.phase[idx] <= now:
                due.append((self.gws[idx], slot))
                idx, slot = (0, slot + 1) if idx + 1 == n else (idx + 1, slot)
            if due:
                self.cpu_at_start = _cpu_s() if self.cpu_at_start is None else self.cpu_at_start
                await self._sample(due)
                if slot == w.slots and self.sampling_done is None:
                    self.sampling_done = (_now_ms(), self.counts["published"], _cpu_s())
            while self.heap and self.heap[0][0] <= _now_ms():
                when, _, kind, gw, k, data = heapq.heappop(self.heap)
                self._publish(gw, k, data, when if kind == "send" else None)
            if due and len(due) == MAX_BATCH:
                continue
            upcoming = [w.start_ms + slot * w.interval_ms + self.phase[idx]] if slot < w.slots else []
            upcoming += [self.heap[0][0]] if self.heap else []
            wait = min(upcoming, default=_now_ms() + 50) - _now_ms()
            await asyncio.sleep(min(max(wait, 0), 50) / 1000)  # at most 50 ms: acknowledgements may be all that is left

    async def _sample(self, due: list[tuple[_Gateway, int]]) -> None:
        o, w = self.opts, self.window
        batch = []
        for gw, k in due:
            u_drop, u_late, u_reorder, u_dup, u_when, u_noise = (gw.rng.random() for _ in range(6))
            t = w.start_ms + k * w.interval_ms + self.phase[gw.index]
            flow = 100 + 30 * math.sin(t / 600_000 * 2 * math.pi + gw.index) + 4 * (u_noise - 0.5)
            gw.total += flow * w.interval_ms / 3_600_000  # the meter counts whether or not we report
            self.counts["sampled"] += 1
            if u_drop < o.drop:
                gw.log.dropped += 1
                self.counts["dropped"] += 1
                continue
            readings = [Reading(gw.station, POINTS[0][0], t, round(flow, 3), POINTS[0][1]),
                        Reading(gw.station, POINTS[1][0], t, round(gw.total, 3), POINTS[1][1])]
            batch.append((gw, k, t, readings, u_late < o.late, u_reorder < o.reorder, u_dup < o.duplicate, u_when))
        if not batch:
            return
        sealed = await asyncio.get_running_loop().run_in_executor(self.sealer, self._seal_all, batch)
        self.counts["sealed"] += len(sealed)
        for (gw, k, t, _, late, reorder, dup, u_when), data in zip(batch, sealed):
            gw.log.sample_ms[k] = t
            if late:
                when = t + int(o.late_s * 1000)
                self._hold(when, "send", gw, k, data)
                gw.log.late += 1
                self.counts["late"] += 1
            elif reorder:  # due with the gateway's next sample, which this round publishes first
                when = t + w.interval_ms
                self._hold(when, "send", gw, k, data)
                gw.log.reordered += 1
                self.counts["reordered"] += 1
            else:
                when = t
                self._publish(gw, k, data, t)
            if dup:
                self._hold(when + int(u_when * 2 * w.interval_ms), "dup", gw, k, data)
                gw.log.duplicated += 1
                self.counts["duplicated"] += 1

    @staticmethod
    def _seal_all(batch: list) -> list[bytes]:
        out = []
        for gw, _, t, readings, *_ in batch:
            data, gw.chain = seal(readings, gw.key, gw.id, gw.key_id, gw.chain, t)
            out.append(data)
        return out

    def _hold(self, when: int, kind: str, gw: _Gateway, k: int, data: bytes) -> None:
        heapq.heappush(self.heap, (when, next(self.order), kind, gw, k, data))

    # --- publishing ----------------------------------------------------------------------------
    def _publish(self, gw: _Gateway, k: int, data: bytes, scheduled_ms: int | None) -> None:
        """Start a QoS 1 publish; ``scheduled_ms``: when it was meant to go (for the lag figures)."""
        issued = _now_ms()
        if scheduled_ms is not None:
            self.lags.append(issued - scheduled_ms)
        self.counts["published"] += 1
        self.pub.publish(gw.topic, data, gw.conn, on_ack=lambda: self._acked(gw, k, issued))

    def _acked(self, gw: _Gateway, k: int, issued: int) -> None:
        self.counts["acked"] += 1
        first = gw.log.received_ms[k]
        if first is None or issued < first:
            gw.log.received_ms[k] = issued

    async def progress(self, began: float) -> None:
        cpu0 = _cpu_s()
        while True:
            await asyncio.sleep(self.opts.progress_s)
            c, lag = self.counts, sorted(self.lags[-2000:])
            p99 = lag[int(len(lag) * 0.99)] if lag else 0
            print(f"  fleet {time.monotonic() - began:5.0f}s  published {c['published']}  acked {c['acked']}"
                  f"  dropped {c['dropped']}  late {c['late']}  duplicated {c['duplicated']}  reordered {c['reordered']}"
                  f"  lag p99 {p99} ms  cpu {100 * (_cpu_s() - cpu0) / (time.monotonic() - began):.0f}%",
                  file=sys.stderr, flush=True)

    def oracle(self) -> dict:
        o, w = self.opts, self.window
        return oracle([(gw.id, gw.station, gw.log) for gw in self.gws], w.start_ms, w.interval_ms, w.slots, w.tz,
                      o.on_time_s, o.late_s, [p for p, _ in POINTS], o.guard_s)


def _percentile(values: list[int], q: float) -> int | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else None


async def _play(opts: FleetOptions, keys: list) -> dict:
    parts = urlsplit(opts.broker)
    host, port = parts.hostname, parts.port or 1883
    async with Publisher(opts.broker, min(opts.connections, opts.gateways), "watertel-fleet") as publisher:
        window = plan_window(_now_ms(), opts.lead_s, opts.interval_s, opts.duration_s, opts.timezone)
        write_registry(opts.out, opts.gateways, window)
        write_cloud_config(opts.out, opts.gateways, host, port, opts.topic_prefix, opts.timezone, opts.on_time_s,
                           free_port())
        fleet = Fleet(opts, keys, window, publisher)
        for gw in fleet.gws:
            gw.conn = gw.index % publisher.n
        print(f"  fleet: {opts.gateways} gateways every {opts.interval_s} s, first sample at {window.iso(window.start_ms)},"
              f" last slot ends {window.iso(window.end_ms)}; configs in {opts.out}", file=sys.stderr, flush=True)
        began, cpu0 = time.monotonic(), _cpu_s()
        ticker = asyncio.create_task(fleet.progress(began))
        try:
            await fleet.run()
        finally:
            fleet.counts["failed"] = publisher.counts["failed"]
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            fleet.sealer.shutdown(wait=True)
        wall, cpu = time.monotonic() - began, _cpu_s() - cpu0
    doc = fleet.oracle()
    path = opts.out / "oracle.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    span_s = max(1e-3, (window.end_ms - window.start_ms) / 1000)
    done_ms, published, cpu_done = fleet.sampling_done or (_now_ms(), fleet.counts["published"], _cpu_s())
    sampling_s = max(1e-3, (done_ms - window.start_ms) / 1000)
    c = fleet.counts
    return {"gateways": opts.gateways, "interval_s": opts.interval_s, "slots": window.slots, **c,
            "target_per_s": round(opts.gateways / opts.interval_s, 1),
            "sampled_per_s": round(c["sampled"] / span_s, 1),
            "published_per_s": round(published / sampling_s, 1),
            "lag_ms_p50": _percentile(fleet.lags, 0.5), "lag_ms_p99": _percentile(fleet.lags, 0.99),
            "lag_ms_max": max(fleet.lags, default=None), "wall_s": round(wall, 1),
            "cpu_percent": round(100 * cpu / wall, 1),
            "cpu_percent_sampling": round(100 * (cpu_done - (fleet.cpu_at_start or cpu_done)) / sampling_s, 1), "oracle": str(path), "period": doc["period"],
            "overall": doc["overall"], "close_calls": doc["margins"]["close_calls"]}


def run_fleet(opts: FleetOptions) -> int:
    """Prepare DIR, play the fleet, write oracle.json; one JSON summary line on stdout."""
    opts.check()
    out = opts.out.resolve()
    opts = FleetOptions(**{**opts.__dict__, "out": out})
    prepare_dir(out)
    started = time.monotonic()
    keys, new = make_keys(out, opts.gateways)
    keygen_s = time.monotonic() - started
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # libcrypto's first use of a key costs a signature more
        list(pool.map(lambda key: key.sign(b"warm-up"), keys, chunksize=64))
    print(f"  fleet: {opts.gateways} key pairs ({new} new) in {keygen_s:.1f} s, warmed up in"
          f" {time.monotonic() - started - keygen_s:.1f} s", file=sys.stderr, flush=True)
    try:
        summary = asyncio.run(_play(opts, keys))
    except aiomqtt.MqttError as err:
        raise OperatorError(f"cannot reach the broker at {opts.broker}: {err}") from err
    print(json.dumps({**summary, "keygen_s": round(keygen_s, 1), "new_keys": new}), flush=True)
    return 0
