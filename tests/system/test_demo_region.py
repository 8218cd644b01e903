"""`watertel demo` as a region someone can run a day on: the seeded registry, the users, the
back-filled week and every console page, checked against one running demo (the command itself, as
a user starts it) over its HTTP API and in Chromium as each of the printed users.

The reading-by-reading account of the live agents is tests/system/test_end_to_end.py; this file
stops the demo last and checks its summary keeps the history apart.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from watertel.keys import write_key_pair
from watertel.shell import demo_region as region

from tests.support.api import Client
from tests.support.browser import artifacts, chromium, new_page
from tests.support.page_checks import Watch
from tests.support.paths import ROOT

pytestmark = pytest.mark.xdist_group("demo_region")  # one demo for the whole file, on one worker
START_TIMEOUT_S = 240  # a week of history is replayed first (about 20 s on an idle 2-core machine)
ALL = {s.id for s in region.STATIONS}
IN_CITY = {"zj-hz": {s.id for s in region.STATIONS if s.county.startswith("zj-hz-")},
           "zj-huz": {s.id for s in region.STATIONS if s.county.startswith("zj-huz-")}}


class RunningDemo:
    def __init__(self, proc: subprocess.Popen, lines: list[str], data_dir: Path) -> None:
        self.proc, self.lines, self.dir = proc, lines, data_dir
        text = "".join(lines)
        self.base = "http://" + re.search(r"console:\s+http://(127\.0\.0\.1:\d+)/", text).group(1)
        self.passwords = dict(re.findall(r"user: (\w+)\s+password: (\S+)", text))

    def client(self, user: str) -> Client:
        """A bearer-token client of ``user`` (no CSRF token needed for writes)."""
        client = Client(self.base)
        status, body = client.login(user, self.passwords[user], session="bearer")
        assert status == 200, body
        call, token = client.call, body["access_token"]
        client.call = lambda method, path, data=None, headers=None: call(
            method, path, data, {"Authorization": f"Bearer {token}", **(headers or {})})
        return client

    def get(self, user: str, path: str):
        status, body, _ = self.client(user).call("GET", path)
        assert status == 200, f"{user} GET {path}: {status} {body}"
        return body


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo-region") / "demo"
    proc = subprocess.Popen([sys.executable, "-m", "watertel", "demo", "--data-dir", str(data_dir), "--duration", "1800"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, start_new_session=True)
    lines: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "stopping in" in line or not line:
            break
    if not any("stopping in" in line for line in lines):
        proc.kill()
        pytest.fail("the demo did not start:\n" + "".join(lines) + proc.stderr.read())
    running = RunningDemo(proc, lines, data_dir)
    yield running
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)


def _day(days_back: int) -> str:
    return (dt.datetime.now(region.TZ).date() - dt.timedelta(days=days_back)).isoformat()


def test_the_start_prints_every_login_and_the_history_it_replayed(demo):
    text = "".join(demo.lines)
    assert set(demo.passwords) == {"admin", "operator", "crew", "viewer"}, text
    history = re.search(r"history:\s+(\d+) envelopes, (\d+) readings replayed in ([\d.]+)s \(stored (\d+), refused (\d+)\)",
                        text)
    assert history, text
    envelopes, readings, _seconds, stored, refused = history.groups()
    assert int(envelopes) == int(stored) > 1000 and int(refused) == 0, text
    assert int(readings) > 40_000, text
    # the duty operator handed the dead pressure gateway's work order to the crew at start
    assert re.search(r"operator: operator acknowledged alarm \d+ \(LA-NET1 data stopped\), work order \d+ to crew", text), text


def test_the_registry_is_a_region_with_named_placed_stations_seen_by_scope(demo):
    stations = demo.get("admin", "/api/stations")["stations"]
    assert {s["station"] for s in stations} == ALL
    for s in stations:
        assert s["name"] and s["kind"] != "other", s
    tree = demo.get("admin", "/api/registry")
    placed = {s["id"]: s for s in tree["stations"]}
    for sid in ALL:  # WGS-84 positions in Zhejiang
        loc = placed[sid]["location"]
        assert 27 < loc["lat"] < 31.5 and 118 < loc["lon"] < 123, (sid, loc)
    assert {s["station"] for s in demo.get("crew", "/api/stations")["stations"]} == IN_CITY["zj-hz"]
    assert {s["station"] for s in demo.get("viewer", "/api/stations")["stations"]} == IN_CITY["zj-huz"]


def test_the_last_full_day_has_rates_for_every_station_with_a_regulators_flaws(demo):
    yesterday = demo.get("admin", f"/api/rates?period={_day(1)}")
    rows = {r["station"]: r for r in yesterday["stations"]}
    assert set(rows) == ALL
    for sid, r in rows.items():
        assert r["expected"] > 0 and r["received"] > 0, r
    assert rows["LA-W1"]["timeliness"] < 1, rows["LA-W1"]  # its DTU uploads every two hours: half late
    assert rows["YH-PH1"]["upload_rate"] == 1 and rows["YH-PH1"]["timeliness"] == 1, rows["YH-PH1"]
    power_cut = {r["station"]: r for r in demo.get("admin", f"/api/rates?period={_day(2)}")["stations"]}
    assert 0.5 < power_cut["AJ-PS1"]["upload_rate"] < 0.8, power_cut["AJ-PS1"]  # no power 01:00-10:00
    last_month = (dt.datetime.now(region.TZ).date().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    month = {r["station"]: r for r in demo.get("admin", f"/api/rates?period={last_month}")["stations"]}
    well = month["AJ-W1"]  # the quality page's first view: its DTU struck by lightning, two days missing
    assert well["expected"] - well["received"] == 2 and not well["reporting_normally"], well
    scoped = demo.get("viewer", f"/api/rates?period={_day(1)}")
    assert {r["station"] for r in scoped["stations"]} == IN_CITY["zj-huz"]


def test_permits_fleet_and_alarms_have_content_and_the_alarms_are_few(demo):
    permits = demo.get("admin", "/api/permits")["permits"]
    assert {p["permit"] for p in permits} == {p.id for p in region.PERMITS}
    for p in permits:
        assert p["volume_m3"] > 1000 and p["plans"], p
    brewery = next(p for p in permits if p["stations"][0]["station"] == "DQ-IN1")
    assert brewery["projected_within_year"], brewery  # the second bottling line

    fleet = {g["gateway"]: g for g in demo.get("operator", "/api/fleet")["gateways"]}
    assert set(fleet) == {g["id"] for g in region.gateways()}
    assert all(g["last_contact_ms"] for g in fleet.values()), fleet
    assert fleet["gw-la-3"]["status"] == "offline", fleet["gw-la-3"]  # dead for five hours, even after the cloud started
    assert {g for g, row in fleet.items() if row["status"] != "online"} == {"gw-la-3"}, fleet  # hourly DTUs: not stale
    assert demo.client("crew").call("GET", "/api/fleet")[0] == 403

    alarms = demo.get("admin", "/api/alarms")
    open_types = {(a["type"], a["station"]) for a in alarms if a["state"] in ("raised", "acknowledged")}
    assert {("data_stopped", "LA-NET1"), ("mass_balance", "YH-DMA1"), ("over_permit_projected", brewery["permit"])} \
        <= open_types, open_types
    assert len(alarms) < 40, [(a["type"], a["station"]) for a in alarms]  # a week, not a storm
    raised: dict[tuple[str, str], int] = {}
    for a in alarms:
        raised[(a["type"], a["station"])] = raised.get((a["type"], a["station"]), 0) + 1
    assert max(raised.values()) <= 3, raised  # nothing raises and clears over and over
    orders = demo.get("crew", "/api/workorders")
    assert [o["station"] for o in orders] == ["LA-NET1"], orders


def test_the_admin_pages_write_the_demos_files(demo, tmp_path):
    admin = demo.client("admin")
    status, body, _ = admin.call("POST", "/api/admin/users", {"username": "duty2", "password": "correct horse battery",
                                                             "role": "operator", "regions": ["zj-huz"]})
    assert status == 201, body
    write_key_pair(tmp_path, "gw-new")
    status, body, _ = admin.call("POST", "/api/admin/gateways", {
        "id": "gw-new", "stations": ["DQ-NET1"], "key_id": "gw-new-k1",
        "public_key_pem": (tmp_path / "gw-new.pub.pem").read_text()})
    assert status == 201, body
    status, shown, _ = admin.call("GET", "/api/admin/notifications")
    assert status == 200 and shown["routes"], shown
    keys = ("regions", "severities", "level", "contacts", "roles", "quiet_hours")  # as the admin page sends them
    routes = [{k: r[k] for k in keys if r.get(k) not in (None, [], "")} for r in shown["routes"]]
    routes.append({"regions": ["zj-huz-aj"], "severities": ["red"], "level": 0, "contacts": ["duty-huz"]})
    status, body, _ = admin.call("PUT", "/api/admin/notifications/routes", routes)
    assert status == 200, body
    assert len(body["routes"]) == len(routes)
    assert demo.client("viewer").call("POST", "/api/admin/users", {
        "username": "x", "password": "correct horse battery", "role": "viewer"})[0] == 403


# the pages each user works with (their navigation); a page never asks what its user is refused
# (the quality page does not ask a city's users for the whole-fleet stored reports)
PAGES = {
    "admin": ["/", "/alarms", "/stations", "/station?id=YH-DMA1-IN", "/quality", "/permits", "/fleet", "/admin"],
    "operator": ["/", "/alarms", "/stations", "/station?id=LA-WQ1", "/quality", "/permits", "/fleet"],
    "crew": ["/crew", "/", "/alarms", "/stations", "/station?id=YH-WQ1", "/quality"],
    "viewer": ["/", "/alarms", "/stations", "/station?id=DQ-PS1", "/quality", "/permits"],
}
NO_FLEET_LINK = {"crew", "viewer"}  # GET /api/fleet refuses them: the header offers no link to it
@pytest.mark.server
@pytest.mark.parametrize("user", list(PAGES))
def test_every_page_shows_data_as_each_user(demo, user):
    shots, wide = artifacts(), []
    with chromium() as browser:
        for width, height in ((1366, 900), (390, 844)):
            page = new_page(browser, viewport={"width": width, "height": height}, locale="zh-CN")
            answers: list[tuple[int, str]] = []
            page.on("response", lambda r: "/api/" in r.url and answers.append((r.status, r.url)))
            watch = Watch().attach(page)  # console errors, uncaught exceptions, failed requests, any 4xx/5xx
            page.goto(f"{demo.base}/login")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", demo.passwords[user])
            page.click("button[type=submit]")
            page.wait_for_url(f"{demo.base}/")
            for path in PAGES[user]:
                answers.clear()
                watch.errors.clear()
                watch.requests.clear()
                page.goto(demo.base + path)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(500)
                refused = [(s, u) for s, u in answers if s != 200]
                assert not refused, f"{user} {path}: {refused}"
                links = page.eval_on_selector_all("#nav a", "links => links.map(a => a.getAttribute('href'))")
                assert ("/fleet" in links) == (user not in NO_FLEET_LINK), f"{user} {path}: {links}"
                assert [s for s, _ in answers].count(200) >= 1, f"{user} {path}: no API call answered"
                assert not watch.errors and not watch.requests, f"{user} {path}: {watch}"
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 0:
                    wide.append(f"{path} at {width}px: {overflow}px wider than the window")
                name = re.sub(r"\W+", "-", path).strip("-") or "overview"
                page.screenshot(path=str(shots / f"demo-{user}-{width}-{name}.png"), full_page=True)
            page.close()
    assert not wide, f"{user}: {wide}"


def test_the_demo_stops_with_its_books_balanced(demo):
    """Last in the file: stop the demo; the live agents' readings are all stored as polled and the
    history's envelopes are counted apart."""
    time.sleep(2)
    demo.proc.send_signal(signal.SIGINT)
    out, err = demo.proc.communicate(timeout=120)
    assert demo.proc.returncode == 0, out[-3000:] + err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["lost"] == 0 and summary["changed"] == 0 and summary["rejected"] == 0, summary
    assert summary["polled"] == summary["stored"] > 0, summary
    history = summary["history"]
    assert history["envelopes"] == history["stored"] > 1000 and history["refused"] == 0, history
    assert summary["region_live"]["error"] is None, summary["region_live"]
