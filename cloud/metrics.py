"""Prometheus metrics of the cloud service, served at /metrics (and by `cloud ingest --metrics-port`).

One registry per process: counters move as envelopes are handled; the open alarms are counted
from the store at each scrape, so they are right even after a restart.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("watertel.cloud.metrics")
REGISTRY = CollectorRegistry()
ENVELOPES = Counter("watertel_envelopes", "Envelopes handled by outcome", ["outcome"], registry=REGISTRY)
REFUSED = Counter("watertel_refused_envelopes", "Envelopes refused, by reason", ["reason"], registry=REGISTRY)
READINGS = Counter("watertel_readings_stored", "Readings stored (new, not duplicates)", registry=REGISTRY)
STATUS_IGNORED = Counter("watertel_status_ignored", "Gateway status messages not believed, by reason (unsigned,"
                         " bad_signature, unregistered, stale, …)", ["reason"], registry=REGISTRY)
NOTICES = Counter("watertel_notices", "Notices built for gateways, by kind (refused, accepted; cloud/ingest/notices.py),"
                  " and refusals left untold by the budget (suppressed)", ["kind"], registry=REGISTRY)
READINGS_REFUSED = Counter("watertel_readings_refused", "Readings of stored envelopes not stored, by reason (sample_time)",
                           ["reason"], registry=REGISTRY)
STORE_SECONDS = Histogram("watertel_store_seconds", "Time to store one batch of envelopes (one transaction)",
                          buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5), registry=REGISTRY)
BATCH = Histogram("watertel_ingest_batch_envelopes", "Envelopes per store transaction",
                  buckets=(1, 2, 5, 10, 20, 50, 100), registry=REGISTRY)
NOTIFICATIONS = Counter("watertel_notifications", "Notification deliveries by channel and outcome (sent, failed:"
                        " retried later)", ["channel", "outcome"], registry=REGISTRY)
QUEUED = Gauge("watertel_ingest_queued_messages", "MQTT messages received but not yet handled", registry=REGISTRY)
INFLUX = Counter("watertel_influx_readings", "Readings handed to the InfluxDB mirror, by outcome (mirrored; failed:"
                 " InfluxDB refused or retries ran out; dropped: queue full; skipped: value not finite)",
                 ["outcome"], registry=REGISTRY)
INFLUX_QUEUED = Gauge("watertel_influx_queued_readings", "Readings waiting for the InfluxDB mirror", registry=REGISTRY)


class OpenAlarms:
    """Open alarms by severity and the notification outbox, read from the store when Prometheus scrapes."""

    def __init__(self, store) -> None:
        self.store = store

    def collect(self):
        try:
            by_severity = Tally(a["severity"] for a in self.store.alarms(open_only=True))
            waiting, failing = self.store.outbox_backlog()
        except Exception as err:  # noqa: BLE001 - a store that is away or closed must not fail the whole scrape
            log.warning("metrics: open alarms and notifications left out: the store did not answer (%s)", err)
            return
        family = GaugeMetricFamily("watertel_alarms_open", "Open alarms by severity", labels=["severity"])
        for severity, n in sorted(by_severity.items()):
            family.add_metric([severity], n)
        yield family
        backlog = GaugeMetricFamily("watertel_notifications_waiting", "Notifications not delivered yet (failing: tried"
                                    " and failed at least once; they are retried)", labels=["state"])
        backlog.add_metric(["due"], waiting - failing)
        backlog.add_metric(["failing"], failing)
        yield backlog


_OPEN_ALARMS = OpenAlarms(None)


def watch_store(store) -> None:
    """Count this store's open alarms at each scrape (the latest store opened in this process)."""
    if _OPEN_ALARMS.store is None:
        REGISTRY.register(_OPEN_ALARMS)
    _OPEN_ALARMS.store = store
