"""Optional mirror of stored readings to InfluxDB 2/3 (``influx:`` in the cloud config; off by default).

The SQL store is the record; InfluxDB only gets a copy for dashboards. So the mirror must never
slow or fail ingest: after the handler committed a batch it calls :meth:`InfluxMirror.offer`, which
only appends the new readings (never duplicates: the store filtered them) to a bounded in-memory
queue and returns. One background thread takes up to ``batch_size`` readings (or what arrived
within ``flush_interval_ms``), writes them as line protocol with influxdb-client's synchronous
``WriteApi`` (POST /api/v2/write, precision ms) and retries 5xx, 429 and lost connections with
exponential back-off (``Retry-After`` honoured). What cannot be mirrored is counted, never retried
for ever: ``failed`` (retries ran out or InfluxDB refused the data), ``dropped`` (queue full:
InfluxDB slower than ingest, or down), ``skipped`` (a non-finite value: a failed read carries NaN,
which line protocol cannot hold). Counts are Prometheus metrics (``watertel_influx_readings``);
the first failure of an outage is logged at warning with the reason, repeats at most once a minute,
recovery at info. The token is read from ``token_file`` and never logged.

Why not influxdb-client's batching mode: its buffer (an Rx subject) is unbounded, so an InfluxDB
outage would grow the ingest worker's memory without limit, and nothing is counted as dropped.

One line per reading (measurement ``reading`` by default; tags sorted, empty unit left out)::

    reading,point=flow,quality=ok,station=ST-0001,unit=m3/h value=12.5 1764432000000
    └ measurement  └ tags: ',' '=' ' ' escaped with '\\'      └ field  └ sample time, ms

A retry after a timeout may send a batch InfluxDB had already taken: it keeps one point per
series and time, so the copy is overwritten, not doubled. Readings of a worker killed between
commit and mirror are not mirrored (the store has them).

Config (deploy/cloud.example.yaml)::

    influx:
      enabled: true
      url: https://influx.example:8086
      org: water
      bucket: watertel
      token_file: secrets/influx-token
      batch_size: 1000
      flush_interval_ms: 1000
      max_retries: 5
      queue_size: 100000

Tests: tests/integration/cloud/store/test_influx_mirror.py (a small HTTP server implementing POST /api/v2/write; against a
real InfluxDB when ``INFLUX_URL`` is set).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

from watertel.cloud import metrics
from watertel.cloud.store.config import InfluxConfig
from watertel.readings import Quality, Reading

log = logging.getLogger("watertel.cloud.influx")
_ESCAPE_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_ESCAPE_TAG = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
REPEAT_WARNING_S = 60.0  # during an outage, one warning a minute with what failed since


def _tag(value: str) -> str:
    escaped = value.translate(_ESCAPE_TAG)
    return escaped + " " if escaped.endswith("\\") else escaped  # a trailing '\' would escape the separator


def _number(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def line(reading: Reading, measurement: str = "reading") -> str | None:
    """One reading in line protocol, or None if its value is not finite (NaN, ±inf)."""
    if not math.isfinite(reading.value):
        return None
    tags = [("point", reading.point), ("quality", Quality(reading.quality).name.lower()),
            ("station", reading.station), ("unit", reading.unit)]
    tag_text = "".join(f",{k}={_tag(v)}" for k, v in tags if v)
    return f"{measurement.translate(_ESCAPE_MEASUREMENT)}{tag_text} value={_number(reading.value)} {int(reading.t_ms)}"


def encode(readings: Sequence[Reading], measurement: str = "reading") -> tuple[bytes, int]:
    """The body of one write (lines joined by newlines) and how many readings were skipped."""
    lines = [text for r in readings if (text := line(r, measurement)) is not None]
    return "\n".join(lines).encode(), len(readings) - len(lines)


class _Outage:
    """Warn once when writes start failing, then at most every ``REPEAT_WARNING_S``; info on recovery."""

    def __init__(self, what: str) -> None:
        self.what, self.since, self.last_warning, self.quiet = what, None, 0.0, 0

    def failed(self, n: int, reason: str) -> None:
        now = time.monotonic()
        if self.since is None or now - self.last_warning >= REPEAT_WARNING_S:
            more = f" ({self.quiet} more since the last warning)" if self.quiet else ""
            log.warning("InfluxDB mirror: %d readings %s: %s%s", n, self.what, reason, more)
            self.since = self.since or now
            self.last_warning, self.quiet = now, 0
        else:
            self.quiet += n
            log.debug("InfluxDB mirror: %d readings %s: %s", n, self.what, reason)

    def ok(self) -> None:
        if self.since is not None:
            log.info("InfluxDB mirror: writing again after %.0f s", time.monotonic() - self.since)
            self.since, self.quiet = None, 0


class _Retryable(Exception):
    """A write worth repeating (5xx, 429, timeout, lost connection); ``after_s``: the server's Retry-After."""

    def __init__(self, reason: str, after_s: float | None = None) -> None:
        super().__init__(reason)
        self.after_s = after_s


def influx_writer(cfg: InfluxConfig, token: str) -> tuple[Callable[[bytes], None], Callable[[], None]]:
    """(write one body, close) through influxdb-client; write raises ``_Retryable`` or a final error."""
    from influxdb_client import InfluxDBClient, WritePrecision  # imported here: start-up cost (~200 ms; the mirror is off by default)
    from influxdb_client.client.write_api import SYNCHRONOUS  # imported here: start-up cost (as above)
    from influxdb_client.rest import ApiException  # imported here: start-up cost (as above)

    client = InfluxDBClient(url=cfg.url, token=token, org=cfg.org, timeout=cfg.timeout_ms)
    api = client.write_api(write_options=SYNCHRONOUS)

    def write(body: bytes) -> None:
        try:
            api.write(cfg.bucket, cfg.org, record=body, write_precision=WritePrecision.MS)
        except ApiException as err:
            reason = f"HTTP {err.status} {(err.body or err.reason or '')!s:.200}".strip()
            if err.status == 429 or (err.status or 0) >= 500:
                after = (err.headers or {}).get("Retry-After")
                raise _Retryable(reason, float(after) if after and after.isdigit() else None) from err
            raise RuntimeError(reason) from err  # 4xx: this data or token will not do better next time
        except Exception as err:  # timeout, refused or reset connection (urllib3)
            raise _Retryable(f"{type(err).__name__}: {err}"[:300]) from err

    def close() -> None:
        api.close()
        client.close()

    return write, close


class InfluxMirror:
    """A bounded queue of readings and the thread that writes them to InfluxDB (see the module doc)."""

    def __init__(self, cfg: InfluxConfig, write: Callable[[bytes], None] | None = None,
                 close: Callable[[], None] | None = None) -> None:
        if write is None:
            write, close = influx_writer(cfg, cfg.token_file.read_text().strip())
        self.cfg, self._write, self._close_writer = cfg, write, close
        self.counts: Counter[str] = Counter()
        self._pending: list[Reading] = []
        self._cond = threading.Condition()
        self._closing = threading.Event()
        self._failing, self._dropping = _Outage("not mirrored"), _Outage("dropped (mirror queue full)")
        self._thread = threading.Thread(target=self._run, name="influx-mirror", daemon=True)
        self._thread.start()

    def offer(self, readings: Sequence[Reading]) -> None:
        """Queue newly stored readings; never blocks on InfluxDB (what does not fit is dropped, counted)."""
        if not readings:
            return
        with self._cond:
            room = max(0, self.cfg.queue_size - len(self._pending))
            self._pending.extend(readings[:room])
            queued = len(self._pending)
            self._cond.notify()  # the writer starts its flush interval, or sends a full batch now
        metrics.INFLUX_QUEUED.set(queued)
        if dropped := len(readings) - min(room, len(readings)):
            self._count("dropped", dropped)
            self._dropping.failed(dropped, f"{queued} readings already waiting (queue_size {self.cfg.queue_size})")

    def queued(self) -> int:
        with self._cond:
            return len(self._pending)

    def close(self, timeout_s: float = 10.0) -> None:
        """Send what is queued within ``timeout_s`` (back-off waits are cut short), then stop."""
        with self._cond:
            self._closing.set()
            self._cond.notify_all()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("InfluxDB mirror: %d readings not sent at stop (InfluxDB too slow)", self.queued())
        elif self._close_writer:
            self._close_writer()

    def _count(self, outcome: str, n: int) -> None:
        self.counts[outcome] += n
        metrics.INFLUX.labels(outcome).inc(n)

    def _take(self) -> list[Reading] | None:
        """Up to batch_size readings, once that many are waiting or flush_interval passed; None: stop."""
        with self._cond:
            while not self._pending and not self._closing.is_set():
                self._cond.wait()
            deadline = time.monotonic() + self.cfg.flush_interval_ms / 1000
            while len(self._pending) < self.cfg.batch_size and not self._closing.is_set():
                if (left := deadline - time.monotonic()) <= 0:
                    break
                self._cond.wait(left)
            if not self._pending:
                return None
            batch = self._pending[:self.cfg.batch_size]
            del self._pending[:self.cfg.batch_size]
            metrics.INFLUX_QUEUED.set(len(self._pending))
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            body, skipped = encode(batch, self.cfg.measurement)
            if skipped:
                self._count("skipped", skipped)
            if body:
                self._send(body, len(batch) - skipped)

    def _send(self, body: bytes, n: int) -> None:
        """Write one batch, retrying with back-off; count it mirrored or failed."""
        delay = self.cfg.retry_interval_ms / 1000
        for attempt in range(self.cfg.max_retries + 1):
            try:
                self._write(body)
            except _Retryable as err:
                last = str(err)
                if attempt == self.cfg.max_retries or self._closing.wait(min(err.after_s or delay,
                                                                              self.cfg.max_retry_delay_ms / 1000)):
                    break  # retries ran out, or stopping: no back-off wait at stop
                delay *= 2
                continue
            except Exception as err:  # refused for good (4xx) or a bug: count and go on
                last = f"{type(err).__name__}: {err}"[:300]
                break
            self._count("mirrored", n)
            self._failing.ok()
            return
        self._count("failed", n)
        self._failing.failed(n, last)
