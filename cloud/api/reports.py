"""Rates and reports over HTTP: a report computed on request, and the stored scheduled ones.

The same figures as `watertel report rates` (one code path, cloud/quality), so the console, the
CLI and a downloaded file never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.api.deps import Principal, Reader, StoreDep
from watertel.cloud.api.errors import Problem, not_enabled
from watertel.cloud.api.schemas import refusals
from watertel.cloud.api.schemas.reports import RatesReportPublic, StoredReport
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.export import render, to_json
from watertel.cloud.quality.period import PeriodError, parse_period
from watertel.cloud.quality.report import build_report
from watertel.cloud.quality.schedule import listing, report_path
from watertel.cloud.registry import Registry
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


async def get_reports_setup(request: Request) -> ReportsSetup | None:
    """The rates and reports settings (None: the API serves no reports, and has no such routes)."""
    return request.app.state.reports


ReportsDep = Annotated[ReportsSetup, Depends(get_reports_setup)]  # its routes are included only with one
router = APIRouter(prefix="/api", tags=["rates"], responses=refusals(401, 403))
FILES = {"text/csv": {"schema": {"type": "string"}}, MEDIA["xlsx"]: {"schema": {"type": "string", "format": "binary"}}}


@router.get("/rates", response_model=RatesReportPublic, response_model_exclude_unset=True,
            responses={200: {"content": FILES, "description": "the report as JSON, CSV or XLSX (``format``)"},
                       **refusals(404, 409, 422)})
def rates_report(period: str, who: Reader, store: StoreDep, setup: ReportsDep, region: str | None = None,
                 format: Literal["json", "csv", "xlsx"] = "json") -> RatesReportPublic | Response:
    """Completeness, upload rate, timeliness and abnormal rate of a period (YYYY-MM-DD, YYYY-MM, YYYY-Qn, FROM..TO)."""
    registry = setup.registry
    if registry is None:
        raise not_enabled("registry", "registry_file", "no station registry: set registry_file in the cloud config",
                          read_only=False)
    region = _in_scope(who, registry, region)
    try:
        report = build_report(store, registry, parse_period(period, setup.rates.tz), setup.rates, region,
                              alarms=setup.alarms)
    except PeriodError as err:
        raise Problem(422, "period.invalid", str(err), period=period) from None
    except OperatorError as err:  # an unknown region
        raise Problem(404, "region.unknown", str(err), region=region) from None
    if format == "json":
        return RatesReportPublic.model_validate(to_json(report))
    return Response(render(report, format), media_type=MEDIA[format], headers=_attachment(f"rates-{report.period.label}.{format}"))


@router.get("/reports")
def stored(who: Reader, setup: ReportsDep) -> list[StoredReport]:
    """The scheduled reports on disk: kind (daily, monthly, quarterly), period and formats."""
    _whole_fleet(who)
    return [StoredReport.model_validate(r) for r in listing(setup.root)]


@router.get("/reports/{kind}/{name}", response_class=FileResponse, responses={
    200: {"model": RatesReportPublic, "content": FILES, "description": "the stored report, as written"},
    **refusals(404)})
def download(kind: str, name: str, who: Reader, setup: ReportsDep) -> FileResponse:
    _whole_fleet(who)
    label, _, fmt = name.rpartition(".")
    try:
        path = report_path(setup.root, kind, label, fmt)
    except ValueError as err:
        raise Problem(404, "report.unknown", str(err), kind=kind, name=name) from None
    if not path.is_file():
        raise Problem(404, "report.unknown", f"report {kind}/{name} has not been written", kind=kind, name=name)
    return FileResponse(path, media_type=MEDIA[fmt], headers=_attachment(f"rates-{kind}-{name}"))


def _in_scope(who: Principal, registry: Registry, region: str | None) -> str | None:
    """The region to report on: the one asked for if the user may see it, else the user's own."""
    if region is not None and region not in registry.names:
        raise Problem(404, "region.unknown", f"region {region!r} is not in the registry", region=region)
    if not who.regions:
        return region
    if region is None:
        if len(who.regions) == 1:
            return next(iter(who.regions))
        raise Problem(403, "region.choose", f"choose a region: you see {', '.join(sorted(who.regions))}",
                      regions=sorted(who.regions))
    if not who.sees(registry.ancestry(region)):
        raise Problem(403, "region.outside", f"region {region!r} is outside your regions", region=region)
    return region


def _whole_fleet(who: Principal) -> None:
    """Stored reports cover every region: only users without a region scope get them."""
    if who.regions:
        raise Problem(403, "reports.scope", "stored reports cover every region; ask /api/rates for your region instead")


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}
