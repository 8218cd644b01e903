"""The fleet view and staged configuration rollouts over three real edge agents, a real Mosquitto
and a real cloud ingest; and the buffer_full condition from a real agent's buffer to a cloud alarm.

What is not run end to end: a buffer filling up behind a dead link (it takes at least 1 MB of
readings); the agent's condition and the cloud's alarm are each tested on the real objects, the
status message passed from one to the other without MQTT."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import yaml

from watertel.cloud.alarms.engine import AlarmEngine
from watertel.cloud.config import load_cloud_config
from watertel.cloud.gateway_status import GatewayStatus
from watertel.cloud.ingest.gateway_keys import GatewayKeys
from watertel.cloud.ingest.handler import Handler
from watertel.cloud.store import open_store
from watertel.edge_agent.agent import Agent
from watertel.edge_agent.config import load_edge_config
from watertel.edge_agent.reconfig import ConfigFiles
from watertel import __version__
from watertel.crypto import sm3
from watertel.ports import free_port
from watertel.shell.processes import wait_until
from watertel.readings import Quality, Reading

from tests.support.fleet import Site, edge_config

GATEWAYS = ["gw-1", "gw-2", "gw-3"]


def template(site: Site, broker: str | None = None) -> str:
    cfg = edge_config("${gateway}", broker or site.broker, site.meter_port, probation_s=4)
    cfg["batching"]["max_readings"] = 200
    return yaml.safe_dump(cfg, sort_keys=False)


@pytest.mark.server
def test_fleet_view_and_staged_rollouts(mosquitto, tmp_path):
    site = Site(tmp_path, mosquitto, GATEWAYS, probation_s=4)
    # gw-3 was set up with its buffer elsewhere: the common file would move it, so gw-3 refuses it
    site.write_edge("gw-3", edge_config("gw-3", site.broker, site.meter_port, 4, buffer="data/buffer.db"))
    try:
        site.start()
        fleet = site.fleet()
        assert sorted(fleet) == GATEWAYS
        for gw, row in fleet.items():
            assert row["version"] == __version__ and row["state"] == "online"
            assert row["config_sm3"] == sm3(site.edge_path(gw).read_bytes()).hex()
            assert abs(row["clock_offset_ms"]) < 5000 and row["clock_offset_source"] == "status"
            assert isinstance(row["buffer_unsealed"], int) and isinstance(row["buffer_batches_pending"], int)
            assert time.time() * 1000 - row["last_contact_ms"] < 15_000
        table = site.watertel("cloud", "fleet").stdout
        assert "clock offset" in table and all(gw in table for gw in GATEWAYS)

        good = tmp_path / "good.yaml"
        good.write_text(template(site))
        done = site.watertel("cloud", "rollout", "--gateways", "gw-*", "--file", str(good), "--stage", "2",
                             "--timeout", "30")
        report = json.loads(done.stdout)
        assert done.returncode == 1 and report["stages"] == [["gw-1", "gw-2"], ["gw-3"]], done.stderr
        results = {r["gateway"]: r for r in report["results"]}
        for gw in ("gw-1", "gw-2"):
            expected = sm3(good.read_text().replace("${gateway}", gw).encode()).hex()
            assert results[gw]["ok"] and results[gw]["config_sm3"] == expected
            wait_until(lambda: site.fleet()[gw]["config_sm3"] == expected, f"{gw}'s new hash in the fleet", timeout=10)
        assert results["gw-3"]["reason"] == "invalid_config" and "buffer.path" in results["gw-3"]["detail"]
        assert report["stopped"].startswith("stage 2: gw-3 invalid_config")
        gw3 = site.fleet()["gw-3"]["config_sm3"]

        dead = tmp_path / "dead.yaml"
        dead.write_text(template(site, f"mqtt://127.0.0.1:{free_port()}"))
        done = site.watertel("cloud", "rollout", "--gateways", "gw-[12]", "--file", str(dead), "--timeout", "30")
        report = json.loads(done.stdout)
        assert done.returncode == 1 and [r["gateway"] for r in report["results"]] == ["gw-1"]
        assert report["results"][0]["reason"] == "rolled_back" and report["not_attempted"] == ["gw-2"]
        assert "no broker connection within 4 s" in report["stopped"]
        assert site.edge_path("gw-1").read_text() == good.read_text().replace("${gateway}", "gw-1")
        wait_until(lambda: site.fleet()["gw-1"]["last_config_change"].startswith("rolled_back"), "the rollback in the fleet",
                   timeout=10)
        assert site.fleet()["gw-3"]["config_sm3"] == gw3
    finally:
        site.stop()


def test_buffer_full_is_reported_and_becomes_a_device_alarm(tmp_path):
    site = Site(tmp_path, free_port(), ["gw-1"])  # no server: the status goes straight to the handler
    cfg = edge_config("gw-1", site.broker, site.meter_port)
    cfg["buffer"].update(when_full="drop_oldest", full_clear_after_s=0.5)
    site.write_edge("gw-1", cfg)

    async def make_agent() -> Agent:  # its Modbus clients want a running loop
        return Agent(load_edge_config(site.edge_path("gw-1")), ConfigFiles(site.edge_path("gw-1")))

    agent = asyncio.run(make_agent())
    cloud_cfg = load_cloud_config(site.cloud_yaml)
    store = open_store(cloud_cfg.store, cloud_cfg.data_dir)
    handler = Handler(store, GatewayKeys(cloud_cfg.gateways), AlarmEngine(store), GatewayStatus(tmp_path / "fleet"))
    try:
        assert not agent.check_buffer_full()
        agent.buffer.max_bytes = agent.buffer.used_bytes() + 40_000  # a tiny limit, so drop_oldest applies
        now = int(time.time() * 1000)
        for i in range(40):
            agent._store([Reading("ST-gw-1", "flow", now + i * 1000 + k, float(k), "m3/h", Quality.OK) for k in range(200)])
            agent.buffer.make_room()
        assert agent.buffer.counters().get("dropped", 0) > 0
        assert agent.check_buffer_full() and agent.uplink.status_due
        status = agent.uplink._status()
        assert "readings lost (policy drop_oldest" in json.loads(status)["conditions"]["buffer_full"]
        handler.handle_status("watertel/gw-1/status", status)
        open_alarms = [a for a in store.alarms(open_only=True) if a["type"] == "buffer_full"]
        assert len(open_alarms) == 1 and open_alarms[0]["station"] == "gw-1"

        time.sleep(0.6)  # no more drops: the condition ends
        assert not agent.check_buffer_full()
        status = agent.uplink._status()
        assert json.loads(status)["conditions"] == {}
        handler.handle_status("watertel/gw-1/status", status)
        assert not [a for a in store.alarms(open_only=True) if a["type"] == "buffer_full"]
        assert [a["state"] for a in store.alarms() if a["type"] == "buffer_full"] == ["cleared"]
    finally:
        agent.buffer.close()
        store.close()
