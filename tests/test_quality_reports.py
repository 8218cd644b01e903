"""Scheduled rates reports (written once, when due, never rewritten) and the rates over real HTTP."""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from watertel.cloud.api.auth import hash_password
from watertel.cloud.config import load_cloud_config
from watertel.cloud.quality.schedule import Due, due, listing, write_due
from watertel.cloud.registry import load_registry
from watertel.cloud.store import open_store
from test_quality_cli import ROOT, config  # noqa: F401 (fixture: ten days of three stations)
from watertel.ports import free_port, port_open

SHANGHAI = ZoneInfo("Asia/Shanghai")
USER, PASSWORD = "regulator", "fourteen chars!"


@pytest.mark.parametrize("now, expected", [
    (dt.datetime(2026, 11, 1, 1, 0), ("2026-10-30", "2026-09", "2026-Q3")),  # 90 min after midnight not yet passed
    (dt.datetime(2026, 11, 1, 2, 0), ("2026-10-31", "2026-10", "2026-Q3")),
    (dt.datetime(2027, 1, 1, 3, 0), ("2026-12-31", "2026-12", "2026-Q4")),
    (dt.datetime(2026, 5, 17, 12, 0), ("2026-05-16", "2026-04", "2026-Q1")),
])
def test_due_reports_follow_the_local_calendar_and_the_delay(now, expected):
    got = due(now.replace(tzinfo=SHANGHAI), dt.timedelta(minutes=90))
    assert got == [Due("daily", expected[0]), Due("monthly", expected[1]), Due("quarterly", expected[2])]


def test_due_reports_are_written_once_in_every_format(config):  # noqa: F811
    cfg = load_cloud_config(config)
    registry, root = load_registry(cfg.registry_file), cfg.data_dir / "reports"
    now = dt.datetime(2026, 11, 1, 2, 0, tzinfo=SHANGHAI)
    written = write_due(root, lambda: open_store(cfg.store, cfg.data_dir), registry, cfg.quality, cfg.reports, now)
    assert sorted(p.relative_to(root).as_posix() for p in written) == sorted(
        f"{kind}/{label}.{fmt}" for kind, label in (("daily", "2026-10-31"), ("monthly", "2026-10"), ("quarterly", "2026-Q3"))
        for fmt in ("json", "csv", "xlsx"))
    month = json.loads((root / "monthly" / "2026-10.json").read_text())
    assert (month["overall"]["expected"], month["overall"]["received"]) == (31 + 31 + 26, 23)
    assert listing(root)[1] == {"kind": "monthly", "period": "2026-10", "formats": ["csv", "json", "xlsx"]}
    issued = (root / "monthly" / "2026-10.csv").read_bytes()
    assert write_due(root, lambda: open_store(cfg.store, cfg.data_dir), registry, cfg.quality, cfg.reports, now) == []
    assert (root / "monthly" / "2026-10.csv").read_bytes() == issued
    assert not list(root.rglob(".*.tmp"))


@pytest.fixture
def api(config):  # noqa: F811
    """`watertel cloud api` on a free port with one user; yields an opener logged in and the base URL."""
    doc = yaml.safe_load(config.read_text())
    port = free_port()
    doc["api"] = {"port": port, "users": [
        {"username": USER, "password_hash": hash_password(PASSWORD)},
        {"username": "ningbo", "password_hash": hash_password(PASSWORD), "regions": ["nb"]}]}
    doc["reports"] = {"check_every_s": 1}
    config.write_text(yaml.safe_dump(doc))
    proc = subprocess.Popen([sys.executable, "-m", "watertel", "cloud", "api", "--config", str(config)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while not port_open(port):
            assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read().decode() if proc.poll() else "no API"
            time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
        anonymous = urllib.request.build_opener()
        yield base, log_in(base, USER), anonymous
    finally:
        proc.terminate()
        proc.wait(10)


def log_in(base: str, user: str):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = urllib.request.Request(f"{base}/api/login", json.dumps({"username": user, "password": PASSWORD}).encode(),
                                   {"Content-Type": "application/json"})
    opener.open(login, timeout=10).read()
    return opener


def get(opener, url: str) -> tuple[int, bytes, dict]:
    try:
        with opener.open(url, timeout=30) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def test_rates_and_reports_over_http(api, config):  # noqa: F811
    base, opener, anonymous = api
    status, body, _ = get(opener, f"{base}/api/rates?period=2026-10-01..2026-10-10")
    assert status == 200, body
    overall = json.loads(body)["overall"]
    assert (overall["stations"], overall["expected"], overall["received"], overall["on_time"]) == (3, 25, 23, 18)
    status, body, headers = get(opener, f"{base}/api/rates?period=2026-10-01..2026-10-10&region=nb&format=csv")
    assert status == 200 and headers["content-disposition"].endswith('.csv"') and b"\nC," in body and b"\nA," not in body
    assert get(opener, f"{base}/api/rates?period=2026-13")[0] == 422
    assert get(opener, f"{base}/api/rates?period=2026-10&region=atlantis")[0] == 404
    assert get(anonymous, f"{base}/api/rates?period=2026-10")[0] == 401
    assert get(anonymous, f"{base}/api/reports")[0] == 401

    deadline = time.monotonic() + 30  # the service writes the reports due now by itself
    while len(stored := json.loads(get(opener, f"{base}/api/reports")[1])) < 3:
        assert time.monotonic() < deadline, stored
        time.sleep(0.5)
    assert {r["kind"] for r in stored} == {"daily", "monthly", "quarterly"}
    monthly = next(r for r in stored if r["kind"] == "monthly")
    status, body, headers = get(opener, f"{base}/api/reports/monthly/{monthly['period']}.xlsx")
    assert status == 200 and body[:2] == b"PK" and "spreadsheetml" in headers["content-type"]
    assert get(opener, f"{base}/api/reports/monthly/..%2F..%2Fcloud.yaml")[0] == 404
    assert get(opener, f"{base}/api/reports/weekly/2026-10.json")[0] == 404
    assert get(opener, f"{base}/api/reports/monthly/1999-01.json")[0] == 404

    scoped = log_in(base, "ningbo")  # a user who sees only Ningbo gets Ningbo, and nothing wider
    status, body, _ = get(scoped, f"{base}/api/rates?period=2026-10-01..2026-10-10")
    assert status == 200 and [s["station"] for s in json.loads(body)["stations"]] == ["C"]
    assert get(scoped, f"{base}/api/rates?period=2026-10-01..2026-10-10&region=hs")[0] == 200
    assert get(scoped, f"{base}/api/rates?period=2026-10-01..2026-10-10&region=zj")[0] == 403
    assert get(scoped, f"{base}/api/reports")[0] == 403
