"""``GET /api/permits`` and ``GET /api/fleet`` over real HTTP (a real uvicorn, a real SQLite store,
real fleet files as the ingest writes them): the figures, who may ask and what region-scoped
users see."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from watertel.cloud.api.app import create_app
from watertel.cloud.api.gateway_status import FleetSetup
from watertel.cloud.config import ApiConfig
from watertel.cloud.gateway_status import GatewayStatus
from watertel.cloud.store.sqlite import SqliteStore
from watertel.cloud.users import UserEntry

from tests.support.api import Client, serve
from tests.support.permits_fleet import CONFIG_SM3, MONTHLY, PER_DAY, TZ, fill, fleet_files, site

USERS = [("admin", "admin", []), ("operator", "operator", []), ("crew", "crew", []), ("viewer", "viewer", []),
         ("hz-viewer", "viewer", ["zj-hz"]), ("nb-operator", "operator", ["zj-nb"]),
         ("xh-operator", "operator", ["zj-hz-xh"])]


@pytest.fixture
def api(tmp_path, password_hash):
    store = SqliteStore(tmp_path / "watertel.db")
    registry, expected = site()
    fill(store, expected["first"])
    gateways = fleet_files(tmp_path / "fleet")
    users = [UserEntry(username=u, password_hash=password_hash, role=r, regions=g) for u, r, g in USERS]
    base, server, thread = serve(create_app(store, ApiConfig(users=users), registry=registry,
                                            fleet=FleetSetup(tmp_path / "fleet", gateways)))
    yield base, expected
    server.should_exit = True
    thread.join(10)
    store.close()


def as_user(base: str, username: str) -> Client:
    client = Client(base)
    assert client.login(username)[0] == 200
    return client


def test_permits_show_the_years_withdrawal_plan_tier_and_projection(api):
    base, expected = api
    status, body, _ = as_user(base, "viewer").call("GET", "/api/permits")
    assert status == 200
    permits = {p["permit"]: p for p in body["permits"]}
    assert sorted(permits) == ["P-NB", "P-XH"]
    xh = permits["P-XH"]
    assert xh["first_day"] == expected["first"].isoformat() and xh["holder"] == "西湖食品厂"
    assert xh["volume_m3"] == pytest.approx(expected["volume"])
    assert xh["share"] == pytest.approx(0.85) and xh["tier"] == 0.8 and xh["severity"] == "yellow"
    assert xh["stations"] == [{"station": "ST-XH", "name": "西湖水源井"}]
    assert xh["region"] == "zj/zj-hz/zj-hz-xh" and xh["region_name"] == "浙江省 / 杭州市 / 西湖区"
    assert xh["plan"] == {"annual": sum(MONTHLY), "monthly": MONTHLY, "bimonthly": None}
    assert [t["share"] for t in xh["tiers"]] == [0.8, 0.9, 1.0]
    plans = {u["plan"].split(" ")[0]: u for u in xh["plans"]}
    assert plans["annual"]["planned_m3"] == sum(MONTHLY) and plans["annual"]["volume_m3"] == pytest.approx(expected["volume"])
    assert plans["monthly"]["planned_m3"] == 400.0  # the second month of the permit year is running
    assert plans["monthly"]["volume_m3"] == pytest.approx(expected["month_volume"])
    # 100 m³ a day with 15 % of the permit left: reached in about a week, well within the year
    assert xh["projection_method"] == "run_rate" and xh["projected_within_year"] is True
    assert xh["rate_m3_per_day"] == pytest.approx(PER_DAY, rel=0.1)
    days_left = (dt.date.fromisoformat(xh["projection_date"]) - dt.datetime.now(TZ).date()).days
    remaining = expected["volume"] / 0.85 - expected["volume"]
    assert abs(days_left - remaining / PER_DAY) <= 1.5
    nb = permits["P-NB"]
    assert nb["volume_m3"] == pytest.approx(10.0) and nb["tier"] is None and nb["plan"] is None


def test_permits_are_scoped_to_the_readers_regions(api):
    base, _ = api
    for user, shown in (("hz-viewer", ["P-XH"]), ("xh-operator", ["P-XH"]), ("nb-operator", ["P-NB"]),
                        ("crew", ["P-XH", "P-NB"])):
        status, body, _ = as_user(base, user).call("GET", "/api/permits")
        assert status == 200 and [p["permit"] for p in body["permits"]] == shown, user
    status, body, _ = Client(base).call("GET", "/api/permits")
    assert status == 401


def test_fleet_lists_each_gateways_status_for_operators_and_admins(api):
    base, _ = api
    status, body, _ = as_user(base, "operator").call("GET", "/api/fleet")
    assert status == 200
    rows = {g["gateway"]: g for g in body["gateways"]}
    assert list(rows) == ["gw-both", "gw-nb", "gw-new", "gw-xh"]
    xh = rows["gw-xh"]
    assert xh["status"] == "online" and xh["version"] == "0.1.0" and xh["config_sm3"] == CONFIG_SM3
    assert xh["clock_offset_ms"] == 1500 and xh["clock_offset_source"] == "status"
    assert (xh["buffer_unsealed"], xh["buffer_batches_pending"], xh["buffer_bytes"]) == (12, 3, 40960)
    assert body["now_ms"] - xh["last_contact_ms"] < 60_000 and xh["stations"] == ["ST-XH"]
    assert rows["gw-nb"]["status"] == "stale" and rows["gw-nb"]["clock_offset_ms"] == -250
    assert rows["gw-nb"]["clock_offset_source"] == "check_clock"
    assert rows["gw-both"]["status"] == "offline" and rows["gw-both"]["version"] == "0.1.0"  # the will keeps what was known
    assert rows["gw-new"]["status"] == "never" and rows["gw-new"]["last_contact_ms"] is None
    assert as_user(base, "admin").call("GET", "/api/fleet")[0] == 200


def test_fleet_is_refused_to_viewers_and_crews_and_scoped_by_the_stations_served(api):
    base, _ = api
    for user in ("viewer", "crew", "hz-viewer"):
        status, body, _ = as_user(base, user).call("GET", "/api/fleet")
        assert status == 403 and "needs admin or operator" in body["detail"], user
    assert Client(base).call("GET", "/api/fleet")[0] == 401
    for user, shown in (("xh-operator", ["gw-new", "gw-xh"]), ("nb-operator", ["gw-both", "gw-nb"])):
        status, body, _ = as_user(base, user).call("GET", "/api/fleet")
        assert status == 200 and [g["gateway"] for g in body["gateways"]] == shown, user


def test_without_a_fleet_setup_there_is_no_fleet_endpoint(tmp_path, password_hash):
    store = SqliteStore(tmp_path / "watertel.db")
    users = [UserEntry(username="admin", password_hash=password_hash, role="admin")]
    base, server, thread = serve(create_app(store, ApiConfig(users=users)))
    try:
        client = as_user(base, "admin")
        assert client.call("GET", "/api/fleet")[0] == 404
        status, body, _ = client.call("GET", "/api/permits")  # no registry: no permits, not an error
        assert status == 200 and body["permits"] == []
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def test_a_status_message_of_odd_types_shows_as_unknown_fields_not_an_error(tmp_path, password_hash):
    """Status messages are not signed: a gateway sending a number as its version, a list as its
    clock or a string as its buffer depth gets those fields shown as unknown, never a 500."""
    GatewayStatus(tmp_path / "fleet").record("gw-odd", {
        "state": "online", "version": 7, "config_sm3": ["x"], "clock": [1, 2], "t_ms": "soon",
        "buffer": {"unsealed": "12", "batches_pending": True, "bytes": 4.5},
        "conditions": {"buffer_full": "yes", "7": 1}, "config_change": {"state": 3}}, int(time.time() * 1000))
    store = SqliteStore(tmp_path / "watertel.db")
    users = [UserEntry(username="admin", password_hash=password_hash, role="admin")]
    base, server, thread = serve(create_app(store, ApiConfig(users=users),
                                            fleet=FleetSetup(tmp_path / "fleet", {"gw-odd": ["ST-1"]})))
    try:
        status, body, _ = as_user(base, "admin").call("GET", "/api/fleet")
    finally:
        server.should_exit = True
        thread.join(10)
    assert status == 200, body
    (row,) = body["gateways"]
    assert (row["version"], row["config_sm3"], row["clock_offset_ms"], row["last_config_change"]) == (None,) * 4
    assert (row["buffer_unsealed"], row["buffer_batches_pending"], row["buffer_bytes"]) == (None, None, None)
    assert row["conditions"] == ["7", "buffer_full"] and row["status"] == "online"
