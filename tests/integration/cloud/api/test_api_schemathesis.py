"""Schemathesis against the API's own OpenAPI schema (issues 9 and 19): no request it can build from
the schema makes the server answer 5xx, and every answer is one the schema describes: a documented
status code, a documented media type, a body that fits the response model of that status, and
the documented headers in their documented form.

The app is the one `watertel cloud api` builds (rates and reports, fleet, a registry file with
gateways, work orders), served by a real uvicorn on a free loopback port over a real SQLite store
holding a little of everything (readings, an open alarm); schemathesis calls every operation as an
admin with a bearer token (no CSRF header needed), a bounded number of examples each.

Left out, with the reason:
- ``GET /api/events``: a server-sent event stream never ends by itself, so no call returns
  (tests/integration/cloud/api/test_api_live.py covers it);
- ``POST /api/logout``: it would end the admin session every other call uses.
"""

from __future__ import annotations

import datetime as dt
import time
import urllib.parse
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (content_type_conformance, not_a_server_error, response_headers_conformance,
                                 response_schema_conformance, status_code_conformance)
from schemathesis.core.failures import FailureGroup  # a BaseExceptionGroup: several failures of one operation

from watertel.cloud.alarms.config import AlarmsConfig
from watertel.cloud.api.app import create_app
from watertel.cloud.api.gateway_status import FleetSetup
from watertel.cloud.api.reports import ReportsSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.gateway_status import GatewayStatus
from watertel.cloud.quality.config import RatesConfig
from watertel.cloud.quality.export import render
from watertel.cloud.quality.period import parse_period
from watertel.cloud.quality.report import build_report
from watertel.cloud.quality.rollups import refresh
from watertel.cloud.registry import load_registry
from watertel.cloud.store.sqlite import SqliteStore
from watertel.cloud.users import UserEntry
from watertel.readings import Quality, Reading

from tests.support.api import PASSWORD, REGISTRY, Client, gateways, put, serve

TODAY = dt.datetime.now(RatesConfig().tz).date()
YESTERDAY = (TODAY - dt.timedelta(days=1)).isoformat()
EXAMPLES = 25  # per operation: ~45 operations stay well under three minutes
EXCLUDED = {"/api/events": "an SSE stream never ends by itself", "/api/logout": "would end the admin session"}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@pytest.fixture
def served(tmp_path, hashes):
    """The whole API over a store with readings (and their hour rollups), an open alarm, a stored
    report and a gateway's status; yields (base URL, admin token).

    One per test: a server kept for the module would keep the thread-pool workers a test's
    requests started (a file answer closes its file in one while the next request arrives),
    which the leftover check (``no_leftovers``, tests/support/checks.py) rightly reports."""
    root: Path = tmp_path
    (root / "registry.yaml").write_text(REGISTRY, encoding="utf-8")
    registry = load_registry(root / "registry.yaml")
    store = SqliteStore(root / "watertel.db")
    now = int(time.time() * 1000) // 300_000 * 300_000
    for i in range(24):
        t = now - (24 - i) * 300_000
        put(store, Reading("ST-XH", "flow", t, 10.0 + i, "m3/h", Quality.OK),
            Reading("ST-XH", "total", t, 1000.0 + i, "m3", Quality.OK),
            Reading("ST-NB", "total", t, 500.0 + i, "m3", Quality.OK))
    store.raise_alarm("ST-XH", "flow", "high", "orange", "flow above 30 m3/h", now)
    refresh(store, registry.stations, RatesConfig())  # the hour rollups behind /api/series?step=
    yesterday = parse_period(YESTERDAY, RatesConfig().tz)
    (root / "reports" / "daily").mkdir(parents=True)
    for fmt in ("json", "csv"):  # a stored report, as the scheduler writes them
        report = build_report(store, registry, yesterday, RatesConfig(), alarms=AlarmsConfig())
        (root / "reports" / "daily" / f"{YESTERDAY}.{fmt}").write_bytes(render(report, fmt))
    GatewayStatus(root / "fleet").record("gw-hz", {"state": "online", "version": "1.2.3", "t_ms": now - 500,
                                                "clock": {"offset_ms": 12, "synchronised": True},
                                                "buffer": {"unsealed": 3, "batches_pending": 1, "bytes": 2048},
                                                "conditions": {"buffer_full": True}}, now)
    users = [UserEntry(username="admin", password_hash=hashes["argon2"], role="admin")]
    app = create_app(store, ApiConfig(users=users),
                     ReportsSetup(registry, RatesConfig(), root / "reports", AlarmsConfig()),
                     fleet=FleetSetup(root / "fleet", {"gw-hz": ["ST-XH", "ST-BJ"], "gw-nb": ["ST-NB"]}),
                     registry_file=root / "registry.yaml", gateways=gateways(root))
    base, server, thread = serve(app)
    status, body = Client(base).login("admin", PASSWORD, session="bearer")
    assert status == 200, body
    yield base, body["access_token"]
    server.should_exit = True
    thread.join(10)
    store.close()


def operations(base: str) -> list:
    """Every operation in the served schema but the excluded ones."""
    loaded = schemathesis.openapi.from_url(f"{base}/openapi.json")
    return [op for op in (result.ok() for result in loaded.get_all_operations()) if op.path not in EXCLUDED]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_no_operation_answers_a_server_error_or_off_its_schema(served, mode):
    """Every operation, ``EXAMPLES`` generated requests each (valid ones, or ones that break the
    schema): no answer is a 5xx, and each conforms to the schema (``CHECKS``). Failures of all
    operations are gathered, then reported at once.

    The loop stands in for ``@schema.parametrize()`` with ``schemathesis.pytest.from_fixture``,
    which fails under pytest 9 (schemathesis 4.32 reads ``request.node._nodeid``, gone in pytest 9)."""
    base, token = served
    failures: dict[str, str] = {}
    unbreakable: list[str] = []
    ops = operations(base)
    for op in ops:
        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                   checks=CHECKS, timeout=30)

        try:
            check()
        except Unsatisfiable:  # nothing of it can break the schema (no parameters, free strings)
            unbreakable.append(op.label)
        except (Exception, FailureGroup) as err:  # noqa: BLE001 - a check failure or a transport error: both are findings
            failures[op.label] = str(err)[:2000]
    assert len(ops) >= 40 and len(unbreakable) < len(ops) / 2, unbreakable
    assert not failures, "\n\n".join(f"{label}:\n{why}" for label, why in failures.items())


def test_every_operation_but_the_excluded_is_exercised(served):
    """The schema has the operations this file expects: a router that vanished, or an endpoint
    that streams and is not excluded, shows here rather than as a silent gap or a hang."""
    base, token = served
    loaded = schemathesis.openapi.from_url(f"{base}/openapi.json")
    paths = {op.path for op in (result.ok() for result in loaded.get_all_operations())}
    assert set(EXCLUDED) <= paths and not set(EXCLUDED) & {op.path for op in operations(base)}
    for prefix in ("/api/alarms", "/api/workorders", "/api/stations", "/api/series", "/api/rates",
                   "/api/reports", "/api/registry", "/api/permits", "/api/fleet", "/api/login", "/api/audit"):
        assert any(p.startswith(prefix) for p in paths), prefix
    # the token schemathesis uses is live: its calls are not all 401s
    status, me, _ = Client(base).call("GET", "/api/me", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and me["role"] == "admin", me
    assert urllib.parse.urlparse(base).hostname == "127.0.0.1"


# Answers with data, in each shape an operation has: generated requests rarely name a station, a
# point and a period that exist, so these are asked for by name.
ANSWERS = [
    ("/api/series", {}, {"station": "ST-XH", "point": "flow"}),  # raw readings
    ("/api/series", {}, {"station": "ST-XH", "point": "flow", "max_points": 10}),  # min/max/mean buckets
    ("/api/series", {}, {"station": "ST-XH", "point": "total", "step": "hour"}),
    ("/api/series", {}, {"station": "ST-XH", "point": "total", "step": "day"}),
    ("/api/rates", {}, {"period": YESTERDAY}), ("/api/rates", {}, {"period": TODAY.isoformat(), "region": "zj-hz"}),
    ("/api/rates", {}, {"period": YESTERDAY, "format": "csv"}), ("/api/rates", {}, {"period": YESTERDAY, "format": "xlsx"}),
    ("/api/reports", {}, {}),
    ("/api/reports/{kind}/{name}", {"kind": "daily", "name": f"{YESTERDAY}.json"}, {}),
    ("/api/reports/{kind}/{name}", {"kind": "daily", "name": f"{YESTERDAY}.csv"}, {}),
    ("/api/stations", {}, {}), ("/api/latest", {}, {}), ("/api/summary", {}, {}), ("/api/permits", {}, {}),
    ("/api/fleet", {}, {}), ("/api/registry", {}, {}), ("/api/registry/gateways", {}, {}),
    ("/api/alarms", {}, {"open_only": "false"}), ("/api/alarms/{alarm_id}", {"alarm_id": 1}, {}),
    ("/api/alarms/{alarm_id}/history", {"alarm_id": 1}, {}), ("/api/audit", {}, {}), ("/api/audit/verify", {}, {}),
    ("/api/admin/users", {}, {}), ("/api/admin/notifications", {}, {}), ("/readyz", {}, {}),
]


def test_answers_with_data_fit_the_schema(served):
    """Each of ``ANSWERS`` is a 200 that passes the same checks, in JSON, CSV or XLSX."""
    base, token = served
    loaded = schemathesis.openapi.from_url(f"{base}/openapi.json")
    media = set()
    for path, path_parameters, query in ANSWERS:
        case = loaded[path]["GET"].Case(path_parameters=path_parameters, query=query)
        response = case.call(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 200, (path, query, response.text[:500])
        case.validate_response(response, checks=CHECKS)
        media.add(response.headers["content-type"][0].split(";")[0])
    assert media == {"application/json", "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
