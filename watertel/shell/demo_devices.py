"""What stands behind each station of the demo region, and what happened to it in the past week.

Every station is measured by simulated devices driven by the simulators' site physics (demand,
pumps, pressure, chlorine, well level): the five of gw-1 and gw-2 are served live over Modbus by
`watertel sim run` and polled by edge agents; the others are played by their gateways' history
(simulators/history.py), which goes on live at the same pace once the demo runs. The week holds
what a regulator would find in a real one:

* a leak growing in the 仓前 metered area two days ago (night flow and mass balance alarms);
* a turbidity episode above 1 NTU at 青山水厂 yesterday afternoon (a water-quality alarm, cleared);
* 安吉县第一水厂's gateway without power from 01:00 to 10:00 two days ago (missing part of a day);
* 孝丰镇农灌机井's DTU struck by lightning on the 12th of last month and replaced a day later
  (two daily reports missing from last month's report);
* 於潜镇1号水源井's DTU on a weak 4G signal, uploading every two hours (half its reports late);
* 青山湖街道's pressure gateway dead since five hours ago (data stopped, still open);
* a consumer meter not answering for two and a half hours (device fault), and a meter away for
  calibration during 德清县第二水厂's maintenance window (its alarm suppressed).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from watertel.crypto import SM2PrivateKey
from watertel.simulators.config import ModelConfig, Signal, SiteConfig
from watertel.simulators.history import PastDevice, PastGateway
from watertel.simulators.scenario import Scenario
from watertel.shell.demo_region import LIVE_GATEWAYS, PERMITS, STATIONS, Timeline, station

HOUR = 3600.0
SITES = {  # one supply area each; the live devices all belong to 瓶窑
    "pingyao": SiteConfig(mean_demand=360, day_variation=0.06, seed=11, pipe_diameter_m=0.4, pump_flow=400, pump_kw=45,
                          static_pressure=0.46, headloss=0.06, chlorine_dose=0.75, chlorine_decay_per_h=0.1,
                          network_volume=1800, water_temperature=14),
    "cangqian": SiteConfig(mean_demand=260, seed=21, pipe_diameter_m=0.3),
    "qingshan": SiteConfig(mean_demand=360, seed=31, pipe_diameter_m=0.4, static_pressure=0.42, headloss=0.07,
                           chlorine_dose=0.7, water_temperature=13),
    "yuqian": SiteConfig(mean_demand=40, seed=33, pipe_diameter_m=0.15, pumps=[{"start": 6, "stop": 11},
                         {"start": 15, "stop": 20}], pump_flow=55, pump_kw=18.5, static_level=38, well_depth=80,
                         drawdown=6, water_temperature=17),
    "deqing": SiteConfig(mean_demand=350, seed=41, pipe_diameter_m=0.4, static_pressure=0.44),
    "anji": SiteConfig(mean_demand=330, seed=81, pipe_diameter_m=0.4),
    "irrigation": SiteConfig(mean_demand=10, seed=71, pumps=[{"start": 9, "stop": 11}], pump_kw=11),
}
# an analyser's noise as its data sheet gives it; the default (0.2 % of the span) is 0.2 NTU on a
# 0-100 NTU turbidity channel: network water at 0.3 NTU would jump to 0 and back every sample
NOISE = {"water_quality": {"turbidity": 0.015, "free_chlorine": 0.005, "conductivity": 2.0}}
DMA_SHARES = {"YH-DMA1-C1": 0.44, "YH-DMA1-C2": 0.33, "YH-DMA1-C3": 0.18}  # 95 % of the demand: 5 % real losses
DAILY_SITES = {"DQ-IN1": ("brewery", 0.6, 0.10, 51), "AJ-IN1": ("papermill", 0.7, 0.08, 61)}  # night factor, variation, seed


@dataclass(frozen=True)
class Device:
    """One simulated device: where its values come from (a site's physics, or a free signal)."""

    name: str
    station: str
    profile: str
    kind: str | None = None  # simulators.config.ModelKind; None: driven by ``signals``
    site: str = "pingyao"
    totals: dict[str, float] = field(default_factory=dict)
    signals: dict = field(default_factory=dict)
    seed: int = 1


LIVE = (  # names and profiles as the edge configs and tests know them
    Device("fm-1", "YH-PH1", "emf_flow_meter", "inlet", totals={"total": 2_873_415.5}, seed=1),
    Device("pump-1", "YH-PS1", "pump_vfd", "pump", totals={"energy": 1_264_530.0}, seed=4),
    Device("pt-1", "YH-NET1", "pressure_4_20ma", "pressure", seed=2),
    Device("wq-1", "YH-WQ1", "wq_multiparam", "water_quality", seed=3),
    Device("pt-2", "YH-WQ1-P", "pressure_4_20ma", signals={  # a regulated zone: pressure held at 0.38 MPa
        "pressure": {"mean": 0.38, "amplitude": 0.01, "period_s": 7200, "noise": 0.002}}, seed=5),
)
PLAYED = (
    Device("dma-in", "YH-DMA1-IN", "emf_flow_meter", "inlet", "cangqian", {"total": 1_052_311.0}, seed=21),
    *(Device(f"dma-c{i}", f"YH-DMA1-C{i}", "emf_flow_meter", "inlet", f"cangqian-c{i}", {"total": t}, seed=21 + i)
      for i, t in ((1, 318_204.0), (2, 702_977.5), (3, 96_418.25))),
    Device("la-in1", "LA-IN1", "emf_flow_meter", "inlet", "qingshan", {"total": 8_410_226.0}, seed=31),
    Device("la-wq1", "LA-WQ1", "wq_multiparam", "water_quality", "qingshan", seed=32),
    Device("la-w1-fm", "LA-W1", "emf_flow_meter", "well", "yuqian", {"total": 233_718.0}, seed=33),
    Device("la-w1-lv", "LA-W1", "well_level", "level", "yuqian", seed=34),
    Device("la-net1", "LA-NET1", "pressure_4_20ma", "pressure", "qingshan", seed=35),
    Device("dq-ps1", "DQ-PS1", "emf_flow_meter", "inlet", "deqing", {"total": 5_128_094.0}, seed=41),
    Device("dq-in1", "DQ-IN1", "emf_flow_meter", "inlet", "brewery", {"total": 611_480.0}, seed=51),
    Device("dq-net1", "DQ-NET1", "pressure_4_20ma", "pressure", "deqing", seed=42),
    Device("aj-ps1", "AJ-PS1", "emf_flow_meter", "inlet", "anji", {"total": 4_066_712.0}, seed=81),
    Device("aj-in1", "AJ-IN1", "emf_flow_meter", "inlet", "papermill", {"total": 1_907_335.0}, seed=61),
    Device("aj-w1", "AJ-W1", "pump_vfd", "pump", "irrigation", {"energy": 58_210.0}, seed=71),
)


def site(name: str, tl: Timeline) -> SiteConfig:
    """A site by name: the DMA's consumers are its demand scaled (same seed: same days and hours),
    the daily permit meters' demand is sized to their holder's pace of the plan."""
    if name.startswith("cangqian-c"):
        share = DMA_SHARES[f"YH-DMA1-C{name[-1]}"]
        return SITES["cangqian"].model_copy(update={"mean_demand": SITES["cangqian"].mean_demand * share})
    for sid, (key, night, variation, seed) in DAILY_SITES.items():
        if key == name:
            permit = next(p for p in PERMITS if p.station == sid)
            return SiteConfig(mean_demand=permit.plan_m3 * permit.pace / (365 * 24), night_factor=night,
                              day_variation=variation, seed=seed)
    return SITES[name]


def events(device: str, start: float, tl: Timeline) -> list:
    """The scenario events of one device, ``at`` counted from its history's ``start``."""
    at = lambda day, hhmm: tl.at(day, hhmm) - start
    found = {
        "dma-in": [{"at": at(-2, "14:00"), "kind": "leak", "rate": 14, "growth": "ramp", "ramp": 3 * HOUR,
                    "note": "a service pipe opening up under 仓前 road works"}],
        "dma-c2": [{"at": at(-4, "13:00"), "for": 2.5 * HOUR, "kind": "offline", "device": "dma-c2",
                    "note": "the meter's RS-485 cable cut by a contractor"}],
        "dq-in1": [{"at": at(-20, "08:00"), "kind": "leak", "rate": 9,
                    "note": "the brewery's second bottling line in production: +9 m³/h"}],
        "dq-ps1": [{"at": at(-3, "09:00"), "for": 6 * HOUR, "kind": "offline", "device": "dq-ps1",
                    "note": "the flow meter away for calibration (the registry's maintenance window)"}],
        "la-wq1": [{"at": at(-1, "14:00"), "for": 2.5 * HOUR, "kind": "drift", "device": "la-wq1", "point": "turbidity",
                    "rate": 0.9, "note": "raw water turbid after heavy rain"},
                   {"at": at(-1, "15:15"), "for": 1.25 * HOUR, "kind": "drift", "device": "la-wq1",
                    "point": "turbidity", "rate": -1.8, "note": "coagulant dose raised"}],
    }.get(device, [])
    return Scenario.model_validate({"events": [e for e in map(_from_start, found) if e]}).events


def _from_start(event: dict) -> dict | None:
    """An event as seen from the history's start (a shorter ``--history-days`` starts later): one
    that ended before is gone, one under way starts at 0 with what is left (a finished ramp: a step)."""
    if event["at"] >= 0:
        return event
    late = -event["at"]
    if "for" in event:
        return {**event, "at": 0, "for": event["for"] - late} if event["for"] > late else None
    if event.get("growth") == "ramp":
        return {**event, "at": 0, "ramp": event["ramp"] - late} if event["ramp"] > late else \
            {k: v for k, v in event.items() if k not in ("growth", "ramp")} | {"at": 0}
    return {**event, "at": 0}


UPLOADS = {"gw-la-2": 2 * HOUR}  # the weak 4G link: every two hours (the rest upload hourly, daily meters daily)


def outages(gw: str, tl: Timeline) -> list[tuple[float, float | None]]:
    last_month = (tl.today.replace(day=1) - dt.timedelta(days=1)).replace(day=12)
    return {"gw-la-3": [(tl.now - 5 * HOUR, None)],  # dead since five hours ago
            "gw-aj-1": [(tl.at(-2, "01:00"), tl.at(-2, "10:00"))],  # a power cut
            # the well's DTU struck by lightning, replaced two days later: last month's report
            # (the quality page's first view) is not 100 % either
            "gw-aj-3": [(tl.at(last_month, "06:00"), tl.at(last_month + dt.timedelta(days=1), "11:00"))]}.get(gw, [])


def past_device(d: Device, start: float, tl: Timeline) -> PastDevice:
    st = station(d.station)
    tick = 300 if st.minutes < 60 else 3600
    model = ModelConfig(kind=d.kind, tick_s=tick, totals=d.totals, noise=NOISE.get(d.kind, {})) if d.kind else None
    signals = {point: Signal.model_validate(s) for point, s in d.signals.items()}
    return PastDevice(d.name, d.station, d.profile, st.minutes * 60, start, site=site(d.site, tl), model=model,
                      signals=signals, events=events(d.name, start, tl), seed=d.seed)


def past_gateways(key_dir: Path, tl: Timeline) -> list[PastGateway]:
    """Every gateway's history from its stations' commissioning: the live two end at ``tl.now``
    (their edge agents take over), the played ones go on."""
    out = []
    for gw in dict.fromkeys(s.gateway for s in STATIONS):
        devices = [d for d in (*LIVE, *PLAYED) if station(d.station).gateway == gw]
        long = any(station(d.station).long for d in devices)
        start = tl.at(tl.long_start if long else tl.week_start)
        out.append(PastGateway(
            gw, SM2PrivateKey.from_pem((key_dir / f"{gw}.key.pem").read_text()), f"{gw}-k1",
            [past_device(d, start, tl) for d in devices], start=start,
            until=tl.now - 2 if gw in LIVE_GATEWAYS else None,
            upload_every_s=int(86400 if long else UPLOADS.get(gw, HOUR)), outages=outages(gw, tl)))
    return out


def live_totals(tl: Timeline) -> dict[str, dict[str, float]]:
    """The live devices' totalisers where their history leaves them (the simulators start there)."""
    out = {}
    for d in LIVE:
        if not d.totals:
            continue
        past = past_device(d, tl.at(tl.week_start), tl)
        last = max(past.sample_times(tl.at(tl.week_start) - 1, tl.now - 2))
        past.state.advance(last)
        out[d.name] = {point: past.state.values[point] for point in d.totals}
    return out


def sim_devices(tl: Timeline, history: bool) -> list[dict]:
    """The live devices' entries of sim.yaml (transport added by the caller): physics under the
    瓶窑 site, totalisers continuing the history, the analyser's calibration every 30 minutes."""
    totals = live_totals(tl) if history else {}
    out = []
    for d in LIVE:
        entry: dict = {"name": d.name, "profile": d.profile, "seed": d.seed}
        if d.kind:
            entry["model"] = {"kind": d.kind, **({"totals": totals.get(d.name, d.totals)} if d.totals else {}),
                              **({"noise": NOISE[d.kind]} if d.kind in NOISE else {})}
        else:
            entry["signals"] = d.signals
        if d.name == "wq-1":  # flagged as a sensor fault for a minute: first 8 s after start, then every 30 min
            entry["faults"] = [{"bit": 3, "every_s": 1800, "for_s": 60, "first_at_s": 8}]
        out.append(entry)
    return out
