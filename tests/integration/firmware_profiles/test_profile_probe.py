"""`watertel profile probe` against the simulator over Modbus TCP and RTU on a pseudo-terminal:
per point the raw registers, the value with its unit, the range verdict and the response time;
exit status 1 when any point fails (missing register, value out of range, no device)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from watertel import firmware_profiles
from watertel.firmware_profiles.codec import encode, representable
from watertel.ports import free_port

from tests.support.paths import ROOT
from tests.support.profiles import constant_values, rtu_link, sim_config, start_sims, stop


async def _probe(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "watertel", "profile", "probe", *args, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


def _serve_and_probe(name: str, transport: str, tmp_path: Path, *probe_args: str, profile_arg: str | None = None,
                     values: dict | None = None):
    profile = firmware_profiles.load(name)
    values = values or constant_values(profile)

    async def main():
        port, link = free_port(), rtu_link(tmp_path)
        where = {"kind": "tcp", "port": port} if transport == "tcp" else {"kind": "rtu", "link": str(link)}
        sims = await start_sims(sim_config(name, profile.transport.unit_id, where, values))
        target = ["--tcp", f"127.0.0.1:{port}"] if transport == "tcp" else ["--serial", str(link), "--parity", "N"]
        try:
            return await _probe("--profile", profile_arg or name, *target, *probe_args)
        finally:
            await stop(sims)

    return profile, values, asyncio.run(main())


def test_probe_json_over_tcp_gives_raw_value_range_and_time(tmp_path):
    profile, values, (code, out, err) = _serve_and_probe("ultrasonic_flow_meter", "tcp", tmp_path, "--json")
    assert code == 0, (out, err)
    doc = json.loads(out)
    assert doc["ok"] is True and doc["unit"] == 6 and doc["target"].startswith("tcp 127.0.0.1:")
    rows = {r["name"]: r for r in doc["points"]}
    assert set(rows) == {p.name for p in profile.points} | {"status"}
    for p in profile.points:
        row = rows[p.name]
        assert row["raw"] == encode(p, values[p.name])
        assert row["value"] == representable(p, values[p.name])
        assert row["unit"] == p.unit and row["ok"] and row["error"] is None
        assert row["in_range"] is (True if p.range else None)
        assert 0 < row["ms"] < 1000
    assert rows["net_total"]["raw"][:2] == [0, 12345] and rows["net_total"]["count"] == 4
    assert rows["status"]["unit"] == "no fault"


def test_probe_text_over_rtu_on_a_pty(tmp_path):
    _, _, (code, out, err) = _serve_and_probe("chlorine_analyser", "rtu", tmp_path)
    assert code == 0, (out, err)
    lines = out.splitlines()
    assert lines[0].startswith("probe chlorine_analyser on rtu ") and lines[0].endswith(", unit 7")
    chlorine = next(line for line in lines if line.startswith("residual_chlorine"))
    assert "00B9" in chlorine and "1.85 mg/L" in chlorine and chlorine.endswith("ok")  # 0.37 × 5 mg/L = 185 counts
    assert next(line for line in lines if line.startswith("cleaning_start")).split()[1:4] == ["coil", "0", "1"]
    assert lines[-1] == "8 read: 8 ok, 0 failed"


def test_probe_fails_a_missing_register_and_an_out_of_range_value(tmp_path):
    wrong = tmp_path / "wrong_map.yaml"
    text = firmware_profiles.load("pump_vfd").model_dump_json()  # the real map, plus two mistakes
    doc = json.loads(text)
    doc["points"].append({"name": "ghost", "address": 40, "type": "u16"})
    doc["points"][2]["range"] = [0, 10]  # frequency: the device runs at 22.2 Hz
    wrong.write_text(json.dumps(doc))  # JSON is YAML
    for transport in ("tcp", "rtu"):
        _, _, (code, out, err) = _serve_and_probe("pump_vfd", transport, tmp_path, "--json", "--timeout", "0.5",
                                                  profile_arg=str(wrong))
        assert code == 1, (out, err)
        rows = {r["name"]: r for r in json.loads(out)["points"]}
        failed = {name for name, r in rows.items() if not r["ok"]}
        assert failed == {"ghost", "frequency"}, (transport, failed)
        assert rows["ghost"]["error"] == "no value: exception response, code 2" and rows["ghost"]["raw"] == []
        assert rows["frequency"]["in_range"] is False and "22.2 outside the valid range 0 … 10" in rows["frequency"]["error"]


def test_probe_without_a_device_fails_every_point(tmp_path):
    async def main():
        return await _probe("--profile", "well_level", "--tcp", f"127.0.0.1:{free_port()}", "--timeout", "0.3")

    code, out, err = asyncio.run(main())
    assert code == 1 and "Traceback" not in err
    assert out.splitlines()[-1] == "4 read: 0 ok, 4 failed" and "cannot connect" in out
