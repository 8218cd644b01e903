"""Scheduled rates reports: yesterday, last month and last quarter, written once each, kept as files.

Regulators expect the daily, monthly and quarterly figures to exist without anyone asking, and
to stay as they were issued: a report is written when its period has ended plus ``delay_minutes``
(so data that arrives within the timeliness window is in), and never rewritten. A service that
was down at the time writes it on start. Files live in ``<data_dir>/reports/<kind>/<label>.<fmt>``
and are written to a temporary name and renamed, so a download never sees half a file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watertel.cloud.files import write_atomic
from watertel.cloud.permits.tiers import PermitRules
from watertel.cloud.quality.config import FORMATS, RatesConfig, ReportsConfig
from watertel.cloud.quality.export import render
from watertel.cloud.quality.period import parse_period
from watertel.cloud.quality.report import build_report
from watertel.cloud.registry import Registry
from watertel.cloud.store import SqlStore

log = logging.getLogger("watertel.reports")
KINDS = ("daily", "monthly", "quarterly")
LABEL = re.compile(r"^\d{4}-(\d{2}-\d{2}|\d{2}|Q[1-4])$")


@dataclass(frozen=True)
class Due:
    kind: str
    label: str


def due(now: dt.datetime, delay: dt.timedelta) -> list[Due]:
    """The latest day, month and quarter that ended at least ``delay`` before ``now`` (local time)."""
    ref = (now - delay).date()
    day = ref - dt.timedelta(days=1)
    last_month = ref.replace(day=1) - dt.timedelta(days=1)
    quarter_start = dt.date(ref.year, 3 * ((ref.month - 1) // 3) + 1, 1)
    last_quarter = quarter_start - dt.timedelta(days=1)
    return [Due("daily", day.isoformat()), Due("monthly", f"{last_month:%Y-%m}"),
            Due("quarterly", f"{last_quarter.year}-Q{(last_quarter.month - 1) // 3 + 1}")]


def report_path(root: Path, kind: str, label: str, fmt: str) -> Path:
    """Where a stored report lives; refuses names that are not a kind, a period label and a format."""
    if kind not in KINDS or fmt not in FORMATS or not LABEL.match(label):
        raise ValueError(f"no such report: {kind}/{label}.{fmt}")
    return root / kind / f"{label}.{fmt}"


def listing(root: Path) -> list[dict]:
    """Stored reports, newest period first within each kind."""
    out = []
    for kind in KINDS:
        labels: dict[str, list[str]] = {}
        for path in (root / kind).glob("*.*") if (root / kind).is_dir() else []:
            if path.suffix[1:] in FORMATS and LABEL.match(path.stem):
                labels.setdefault(path.stem, []).append(path.suffix[1:])
        out += [{"kind": kind, "period": label, "formats": sorted(fmts)}
                for label, fmts in sorted(labels.items(), reverse=True)]
    return out


def write_due(root: Path, open_store: Callable[[], SqlStore], registry: Registry, rates: RatesConfig,
              cfg: ReportsConfig, now: dt.datetime | None = None, alarms: PermitRules | None = None) -> list[Path]:
    """Write every due report not yet on disk; returns what was written.

    The store is opened here, on its own connection, so a quarter's worth of reads runs beside
    ingest instead of inside its transactions.
    """
    now = now or dt.datetime.now(rates.tz)
    written = []
    for item in due(now.astimezone(rates.tz), dt.timedelta(minutes=cfg.delay_minutes)):
        paths = {fmt: report_path(root, item.kind, item.label, fmt) for fmt in cfg.formats}
        if all(p.exists() for p in paths.values()):
            continue
        store = open_store()
        try:
            report = build_report(store, registry, parse_period(item.label, rates.tz), rates, alarms=alarms)
        finally:
            store.close()
        for fmt, path in paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, render(report, fmt), backup=False)
            written.append(path)
        log.info("report %s %s written (%s)", item.kind, item.label, ", ".join(paths))
    return written


async def run_schedule(root: Path, open_store: Callable[[], SqlStore], registry: Registry, rates: RatesConfig,
                       cfg: ReportsConfig, alarms: PermitRules | None = None) -> None:
    """Write due reports now and then every ``check_every_s``; a failure is logged and retried."""
    while True:
        try:
            await asyncio.to_thread(write_due, root, open_store, registry, rates, cfg, None, alarms)
        except Exception:  # a busy store or a full disk: try again next round
            log.exception("scheduled reports failed; retrying in %g s", cfg.check_every_s)
        await asyncio.sleep(cfg.check_every_s)
