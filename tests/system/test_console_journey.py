"""The operator's whole journey (issue 9) in a real headless Chromium against the real service:
`watertel cloud run` as a child process, fed through a real Mosquitto with envelopes sealed by a
registered gateway key.

Log in; 35 minutes of smooth 1-minute flow/pressure history arrive; with the alarm board open a
burst (flow +30 %, pressure -5 %) arrives and the engine's red ``burst`` alarm appears live;
acknowledge it from the board; follow it to the station page, whose charts carry its marker;
download last month's stored report (written by the service's report schedule on start) from the
quality page; find the login and the acknowledgement in the audit log (GET /api/audit in the same
logged-in browser context, then the admin page's audit log with its chain checked); downloads
are GETs, which the audit log does not record (it records logins, logouts and writes).

A screenshot of each step goes to ``$WATERTEL_ARTIFACTS/screenshots/journey-*.png`` (default
``build/test-artifacts/screenshots``). The console is taken in English (no CJK font on the test
machines).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
import yaml

from watertel.cloud.api.auth import hash_password
from watertel.cloud.quality.schedule import due
from watertel.crypto import SM2PrivateKey
from watertel.envelope import ChainState, seal
from watertel.keys import write_key_pair
from watertel.ports import free_port
from watertel.shell.processes import Child, http_ok, wait_until
from watertel.readings import Quality, Reading

from tests.support.browser import artifacts, chromium, png_size

USER, PASSWORD = "duty", "correct horse battery"
STATION, GATEWAY = "ST-N1", "gw-n1"
MIN = 60_000
TZ = ZoneInfo("Asia/Shanghai")  # the rates' calendar (quality.tz default)
HISTORY = 35  # minutes of 1-minute samples before the burst
BURST = 5  # burst samples


def report_month() -> str:
    """The month the service's schedule writes on start (the last one ended over 90 min ago)."""
    return next(d.label for d in due(dt.datetime.now(TZ), dt.timedelta(minutes=90)) if d.kind == "monthly")



@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser

@pytest.fixture
def service(mosquitto, tmp_path):
    """`watertel cloud run` with one network station (flow + pressure, every minute, in service since
    the start of the reported month), one gateway key, one admin, and the report schedule on."""
    write_key_pair(tmp_path / "keys", GATEWAY)
    month = report_month()
    (tmp_path / "registry.yaml").write_text(yaml.safe_dump({
        "provinces": [{"id": "zj", "name": "Zhejiang", "cities": [
            {"id": "zj-hz", "name": "Hangzhou", "counties": [{"id": "zj-hz-xh", "name": "Xihu"}]}]}],
        "stations": [{"id": STATION, "name": "DMA-1 inlet", "kind": "network", "region": "zj-hz-xh",
                      "interval_minutes": 1, "points": ["flow", "pressure"], "commissioned": f"{month}-01"}],
    }, allow_unicode=True))
    port = free_port()
    (tmp_path / "cloud.yaml").write_text(yaml.safe_dump({
        "data_dir": "data", "registry_file": "registry.yaml",
        "mqtt": {"host": "127.0.0.1", "port": mosquitto, "client_id": "journey-ingest"},
        "api": {"host": "127.0.0.1", "port": port,
                "users": [{"username": USER, "password_hash": hash_password(PASSWORD), "role": "admin"}]},
        "gateways": [{"id": GATEWAY, "key_id": "k1", "public_key": f"keys/{GATEWAY}.pub.pem", "stations": [STATION]}],
        "reports": {"scheduled": True, "formats": ["json", "csv", "xlsx"]},
    }))
    cloud = Child.watertel("cloud", ["cloud", "run", "--config", str(tmp_path / "cloud.yaml")], tmp_path / "logs")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_ok(f"{base}/healthz"), "the API", cloud)
        wait_until(lambda: "ingest subscribed" in cloud.log_tail(200), "the ingest subscription", cloud)
        report = tmp_path / "data" / "reports" / "monthly" / f"{month}.csv"
        wait_until(report.is_file, f"the scheduled monthly report {month}", cloud, timeout=60)
        yield base, cloud
    finally:
        assert cloud.stop() == 0, cloud.log_tail()


class Gateway:
    """The station's gateway: seals each minute's flow and pressure and publishes it (QoS 1)."""

    def __init__(self, key_pem: Path, port: int) -> None:
        self.key, self.state = SM2PrivateKey.from_pem(key_pem.read_text()), ChainState()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="journey-gateway")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, t_ms: int, flow: float, pressure: float) -> None:
        readings = [Reading(STATION, "flow", t_ms, flow, "m3/h", Quality.OK),
                    Reading(STATION, "pressure", t_ms, pressure, "MPa", Quality.OK)]
        data, self.state = seal(readings, self.key, GATEWAY, "k1", self.state, int(time.time() * 1000))
        self.client.publish(f"watertel/{GATEWAY}/up", data, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def demand(i: int) -> tuple[float, float]:
    """A smooth morning demand: flow rising slowly, pressure easing with it (headloss)."""
    flow = 120.0 + 0.6 * i + 3.0 * math.sin(i / 9)
    return flow, 0.320 - 0.0004 * i - 0.002 * math.sin(i / 9)


def shoot(page, name: str) -> Path:
    page.wait_for_load_state("load")
    path = artifacts() / f"journey-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.mark.server
@pytest.mark.timeout(180)
def test_the_operators_journey_from_login_to_the_audit_log(browser, service, mosquitto, tmp_path):
    base, cloud = service
    shots = []
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    context.add_init_script("localStorage.setItem('watertel_lang', 'en')")
    page = context.new_page()
    page.set_default_timeout(10_000)
    gateway = Gateway(tmp_path / "keys" / f"{GATEWAY}.key.pem", mosquitto)
    try:
        # 1. Log in.
        page.goto(f"{base}/login")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", PASSWORD)
        shots.append(shoot(page, "1-login"))
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")

        # 2. Half an hour of history, in the past, ending 6 minutes ago (the burst fills the rest).
        start = (int(time.time() * 1000) // MIN) * MIN - (HISTORY + BURST + 1) * MIN
        for i in range(HISTORY):
            gateway.send(start + i * MIN, *demand(i))
        last = start + (HISTORY - 1) * MIN
        page.wait_for_function(
            f"[...document.querySelectorAll('#latest tbody tr')].filter(tr => tr.cells[0].textContent === '{STATION}')"
            f".length === 2", timeout=15_000)
        latest = {r["point"]: r for r in page.request.get(f"{base}/api/latest").json() if r["station"] == STATION}
        assert latest["flow"]["t_ms"] == last and latest["pressure"]["t_ms"] == last
        assert not [a for a in page.request.get(f"{base}/api/alarms").json() if a["type"] == "burst"], \
            "a smooth demand raised a burst"
        shots.append(shoot(page, "2-overview"))

        # 3. The alarm board open and subscribed; then the main bursts: flow +30 %, pressure -5 %.
        page.goto(f"{base}/alarms")
        page.wait_for_selector("#live[data-state=open]")
        assert page.query_selector("#board tbody tr.row-red") is None
        page.evaluate("window.notReloaded = true")
        for j in range(BURST):
            flow, pressure = demand(HISTORY + j)
            gateway.send(start + (HISTORY + j) * MIN, flow * 1.3, pressure * 0.95)
            time.sleep(0.3)
        red = page.wait_for_selector("#board tbody tr.row-red", timeout=15_000)
        cells = red.eval_on_selector_all("td", "tds => tds.map(td => td.textContent)")
        # the rule, the point and the message in the page's language (issue 20, item 8)
        assert cells[1:4] == ["Burst?", STATION, "Whole station"], cells
        assert cells[4].startswith("Burst? Flow up") and "Pressure down" in cells[4], cells[4]
        assert page.evaluate("window.notReloaded") is True, "the board was reloaded"
        assert page.is_visible("#red-banner") and page.title().startswith("(1) ")
        alarm_id = int(red.get_attribute("data-id"))
        shots.append(shoot(page, "3-burst-live"))
        assert "alarm raised: burst ST-N1/*" in cloud.log_tail(500)

        # 4. Acknowledge it from the board.
        page.click(f"#board tbody tr[data-id='{alarm_id}'] button.ack")
        page.wait_for_function(
            f"document.querySelector(\"#board tbody tr[data-id='{alarm_id}'] td.state\").textContent.includes('{USER}')")
        assert page.query_selector(f"#board tbody tr[data-id='{alarm_id}'] button.ack") is None
        assert not page.is_visible("#red-banner"), "an acknowledged red alarm still flashes"
        [row] = [a for a in page.request.get(f"{base}/api/alarms").json() if a["id"] == alarm_id]
        assert (row["state"], row["acked_by"], row["severity"]) == ("acknowledged", USER, "red")
        shots.append(shoot(page, "4-acknowledged"))

        # 5. Its station: both charts drawn from the stored series, with the alarm's marker.
        page.click(f"#board tbody tr[data-id='{alarm_id}'] a[href^='/station']")
        page.wait_for_url(f"{base}/station?id={STATION}")
        drawn = page.wait_for_selector("section[data-point=flow] .chart[data-n]")  # the last 24 hours
        page.select_option("#range", "1h")  # the operator zooms in to the last hour: drawn again
        page.wait_for_function("chart => !chart.isConnected", arg=drawn)
        for point in ("flow", "pressure"):
            chart = f"section[data-point={point}] .chart[data-n]"
            page.wait_for_selector(f"{chart} svg")
            assert int(page.get_attribute(chart, "data-n")) == HISTORY + BURST, point
            assert page.eval_on_selector(chart, "box => echarts.getInstanceByDom(box).getOption().series.at(-1)"
                                                ".data.filter(d => d[1] !== null).length") == HISTORY + BURST
            assert page.get_attribute(chart, "data-markers").split().count("red") == 1, f"no burst marker on the {point} chart"
        shots.append(shoot(page, "5-station"))

        # 6. Last month's report, as the schedule stored it, downloaded from the quality page.
        month = report_month()
        page.goto(f"{base}/quality?period={month}")
        page.wait_for_selector("#overall .card")
        link = f"#reports a[href='/api/reports/monthly/{month}.csv']"
        page.wait_for_selector(link)
        shots.append(shoot(page, "6-quality"))
        with page.expect_download() as download:
            page.click(link)
        assert download.value.suggested_filename == f"rates-monthly-{month}.csv"
        text = Path(download.value.path()).read_text(encoding="utf-8")
        tables = {part.split("\n", 1)[0]: part.split("\n", 1)[1] for part in text.split("\n\n")}
        assert set(tables) == {"# regions", "# stations", "# problems"}, text[:200]
        [station] = [r for r in csv.DictReader(io.StringIO(tables["# stations"])) if r["station"] == STATION]
        first, days = dt.date.fromisoformat(f"{month}-01"), int(station["service_days"])
        assert days >= 28 and (first + dt.timedelta(days=days)).month != first.month, station  # the whole month
        assert int(station["expected"]) == days * 1440 * 2, station  # two points every minute
        assert station["region"] == "zj/zj-hz/zj-hz-xh" and station["interval_minutes"] == "1", station
        stored = json.loads(page.request.get(f"{base}/api/reports/monthly/{month}.json").text())
        assert [s["station"] for s in stored["stations"]] == [STATION]

        # 7. The audit log: GET /api/audit in the same session (the admin it is), then the admin page.
        answer = page.request.get(f"{base}/api/audit?limit=100")
        assert answer.status == 200, answer.text()
        entries = answer.json()
        ack = [e for e in entries if e["path"] == f"/api/alarms/{alarm_id}/ack"]
        assert [(e["actor"], e["role"], e["method"], e["summary"], e["status"]) for e in ack] == [
            (USER, "admin", "POST", f"acknowledge alarm {alarm_id}", 200)]
        login = [e for e in entries if e["path"] == "/api/login" and e["actor"] == USER]
        assert len(login) == 1 and login[0]["status"] == 200 and login[0]["id"] < ack[0]["id"]
        assert all(newer["prev_hash"] == older["hash"] for newer, older in zip(entries, entries[1:])), "chain broken"
        page.goto(f"{base}/admin")  # and on the admin page's audit log, with the chain checked
        page.wait_for_selector("#audit tbody tr")
        assert any(f"acknowledge alarm {alarm_id}" in row for row in
                   page.locator("#audit tbody tr").all_inner_texts()), "the acknowledgement is not in the page's log"
        assert page.locator("#audit-chain.ok").count() == 1
        shots.append(shoot(page, "7-audit"))
    finally:
        gateway.close()
        context.close()

    for shot in shots:
        assert time.time() - shot.stat().st_mtime < 300, f"{shot} was not written by this run"
        width, height = png_size(shot)
        assert width == 1280 and height >= 400 and shot.stat().st_size > 5_000, (shot.name, width, height)
