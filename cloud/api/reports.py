"""Rates and reports over HTTP: a report computed on request, and the stored scheduled ones.

The same figures as `watertel report rates` (one code path, cloud/quality), so the console, the
CLI and a downloaded file never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.responses import FileResponse

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.api.deps import Principal
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.export import render, to_json
from watertel.cloud.quality.period import PeriodError, parse_period
from watertel.cloud.quality.report import build_report
from watertel.cloud.quality.schedule import listing, report_path
from watertel.cloud.registry import Registry
from watertel.cloud.store.sql import SqlStore
from watertel.errors import OperatorError

MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class ReportsSetup:
    """What the rates routes need beyond the store: the station registry, the rules, the report folder."""

    registry: Registry | None
    rates: RatesConfig
    root: Path  # <data_dir>/reports
    alarms: AlarmsConfig | None = None  # tiers of the over-permit list


def reports_router(store: SqlStore, setup: ReportsSetup, user: Callable) -> APIRouter:
    """``/api/rates`` and ``/api/reports`` for any reader (``user``), within the reader's regions."""
    registry, cfg, root = setup.registry, setup.rates, setup.root
    router = APIRouter(prefix="/api", tags=["rates"])
    reader = Depends(user)

    @router.get("/rates")
    def rates_report(period: str, region: str | None = None,
                     format: Literal["json", "csv", "xlsx"] = "json", who: Principal = reader):
        """The four rates per station and region for a period (YYYY-MM-DD, YYYY-MM, YYYY-Qn, FROM..TO)."""
        if registry is None:
            raise HTTPException(409, "no station registry: set registry_file in the cloud config")
        region = _in_scope(who, registry, region)
        try:
            report = build_report(store, registry, parse_period(period, cfg.tz), cfg, region, alarms=setup.alarms)
        except PeriodError as err:
            raise HTTPException(422, str(err)) from None
        except OperatorError as err:  # an unknown region
            raise HTTPException(404, str(err)) from None
        if format == "json":
            return to_json(report)
        return Response(render(report, format), media_type=MEDIA[format], headers=_attachment(f"rates-{report.period.label}.{format}"))

    @router.get("/reports")
    def stored(who: Principal = reader) -> list[dict]:
        """The scheduled reports on disk: kind (daily, monthly, quarterly), period and formats."""
        _whole_fleet(who)
        return listing(root)

    @router.get("/reports/{kind}/{name}")
    def download(kind: str, name: str, who: Principal = reader) -> FileResponse:
        _whole_fleet(who)
        label, _, fmt = name.rpartition(".")
        try:
            path = report_path(root, kind, label, fmt)
        except ValueError as err:
            raise HTTPException(404, str(err)) from None
        if not path.is_file():
            raise HTTPException(404, f"report {kind}/{name} has not been written")
        return FileResponse(path, media_type=MEDIA[fmt], headers=_attachment(f"rates-{kind}-{name}"))

    return router


def _in_scope(who: Principal, registry: Registry, region: str | None) -> str | None:
    """The region to report on: the one asked for if the user may see it, else the user's own."""
    if region is not None and region not in registry.names:
        raise HTTPException(404, f"region {region!r} is not in the registry")
    if not who.regions:
        return region
    if region is None:
        if len(who.regions) == 1:
            return next(iter(who.regions))
        raise HTTPException(403, f"choose a region: you see {', '.join(sorted(who.regions))}")
    if not who.sees(registry.ancestry(region)):
        raise HTTPException(403, f"region {region!r} is outside your regions")
    return region


def _whole_fleet(who: Principal) -> None:
    """Stored reports cover every region: only users without a region scope get them."""
    if who.regions:
        raise HTTPException(403, "stored reports cover every region; ask /api/rates for your region instead")


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
