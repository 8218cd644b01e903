"""The demo's region as the cloud reads it: the files demo_region.py writes load with the cloud's
own loaders (registry, users, gateways, notifications, the alarms section), and the region has
what the demo promises (placed stations in four counties, permits with plans, one metered area,
a user of every role). The running demo is checked in tests/system/test_demo_region.py."""

from __future__ import annotations

import datetime as dt

import yaml

from watertel.cloud.api.auth import check_password
from watertel.cloud.config import load_cloud_config
from watertel.cloud.registry import load_registry
from watertel.keys import write_key_pair
from watertel.shell import demo_region as region
from watertel.shell.demo_devices import LIVE, PLAYED, events

NOW = dt.datetime(2026, 12, 7, 21, 10, tzinfo=dt.timezone.utc).timestamp()


def _write(path, data) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def test_the_demos_files_load_as_the_cloud_loads_them(tmp_path):
    tl = region.Timeline(NOW)
    passwords = {name: f"pw-{name}" for name, *_ in region.USERS}
    gateways = region.gateways()
    for g in gateways:
        write_key_pair(tmp_path / "keys", g["id"])
    _write(tmp_path / "registry.yaml", region.registry(tl))
    _write(tmp_path / "users.yaml", {"users": region.users(passwords)})
    _write(tmp_path / "gateways.yaml", {"gateways": gateways})
    _write(tmp_path / "notifications.yaml", region.notifications("http://127.0.0.1:1/hooks/duty-desk", "http://127.0.0.1:2"))
    _write(tmp_path / "cloud.yaml", {
        "data_dir": "cloud-data", "mqtt": {"host": "127.0.0.1", "port": 1883},
        "api": {"host": "127.0.0.1", "port": 8080, "users_file": "users.yaml"},
        "gateways_file": "gateways.yaml", "registry_file": "registry.yaml", "notifications_file": "notifications.yaml",
        "quality": {"timezone": str(region.TZ)}, "alarms": region.alarms(), "lifecycle": region.lifecycle()})

    cfg = load_cloud_config(tmp_path / "cloud.yaml")
    reg = load_registry(cfg.registry_file)
    assert len(reg.stations) == len(region.STATIONS) >= 12
    assert {s.region for s in reg.stations} == {"zj-hz-yh", "zj-hz-la", "zj-huz-dq", "zj-huz-aj"}
    assert all(s.name and s.location is not None for s in reg.stations)
    assert len(reg.permits) == 3 and all(p.plan and p.plan.monthly for p in reg.permits)
    assert [a.id for a in cfg.alarms.areas] == ["YH-DMA1"]
    covered = [sid for g in cfg.gateways for sid in g.stations]
    assert sorted(covered) == sorted(s.id for s in reg.stations)  # every station behind exactly one gateway
    users = {u.username: u for u in cfg.api.users}
    assert {u.role.value for u in users.values()} == {"admin", "operator", "crew", "viewer"}
    assert users["crew"].regions == ["zj-hz"] and users["viewer"].regions == ["zj-huz"]
    assert all(check_password(passwords[name], u.password_hash) for name, u in users.items())
    assert cfg.notifications is not None and cfg.notifications.routes
    assert cfg.alarms.water_quality.min_duration_s >= 600  # quiet: a utility's holding time, not 0


def test_every_station_is_measured_by_a_device():
    measured = {d.station for d in (*LIVE, *PLAYED)}
    assert measured == {s.id for s in region.STATIONS}
    assert {d.station for d in LIVE} == {s.id for s in region.STATIONS if s.gateway in region.LIVE_GATEWAYS}


def test_the_permit_year_starts_five_months_back_across_a_new_year():
    at = lambda y, m, d: region.Timeline(dt.datetime(y, m, d, 12, tzinfo=region.TZ).timestamp())
    assert at(2026, 12, 7).permit_year == dt.date(2026, 7, 1)
    assert at(2027, 1, 15).permit_year == dt.date(2026, 8, 1)
    assert at(2027, 5, 31).permit_year == dt.date(2026, 12, 1)
    assert at(2027, 6, 1).permit_year == dt.date(2027, 1, 1)
    tl = at(2027, 1, 15)
    assert tl.week_start == dt.date(2027, 1, 8) and tl.long_start == dt.date(2026, 7, 30)


def test_a_shorter_history_starts_with_the_events_under_way_and_drops_those_over():
    """``--history-days 1``: the 仓前 leak (two days back, a 3 h ramp) is already at full size, the
    water-quality drift of yesterday is still to come, the cable cut four days back is over."""
    tl = region.Timeline(now=dt.datetime(2026, 12, 8, 9, 0, tzinfo=region.TZ).timestamp(), week_days=1)
    start = tl.at(tl.week_start)
    leak, = events("dma-in", start, tl)
    assert (leak.at, leak.flow(0), leak.flow(3600)) == (0, leak.rate, leak.rate)
    assert events("dma-c2", start, tl) == []
    first_drift = events("la-wq1", start, tl)[0]
    assert first_drift.at == tl.at(-1, "14:00") - start > 0
    week = region.Timeline(now=tl.now)
    assert events("dma-in", tl.at(week.week_start), week)[0].at > 0, "a week's history holds the whole leak"
