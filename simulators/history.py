"""Gateways with a past: their devices sampled at past times and sealed as the gateways sent them.

A demo or a test that needs a week of history through the real ingest path (signatures, the SM3
chain, dedupe, the rates' arrival times) replays it as gateways would have sent it, instead of
writing a store. The values come from the simulators' own device models (``physics.py`` under a
site and scenario events, or ``signals.py``), the ones `watertel sim run` serves live, so a
history can end where live devices take over, totalisers included.

Each gateway samples its devices on their intervals (epoch-aligned, so on the rates' grid for
any interval that divides a day) and uploads what it holds every ``upload_every_s`` (a DTU's
timed report, 定时上报), one envelope per upload, sealed then in its own chain::

    sample  sample  sample ──┐ upload at U: seal(readings since the last upload, created_ms = U + seal_s)
                             └──► Sent(arrival_ms = created_ms + LINK_MS, topic, payload)

* an outage (a power cut) takes no samples and sends nothing; what was sampled before it goes
  with the first upload after it (late, as the DTU's flash kept it). An outage without an end is
  a gateway that died: its last will (retained ``offline`` status) arrives when it starts;
* a device that does not answer (a scenario ``offline`` or ``exception`` event, e.g. a meter
  taken away for calibration) gives NaN readings flagged TIMEOUT or EXCEPTION, as the edge agent
  records them; a value outside the profile's range is OUT_OF_RANGE;
* a gateway announces itself with a retained ``online`` status (the edge agent's birth) at its
  first upload.

``history(gateways)`` merges every gateway's traffic in arrival order; a gateway without an end
(``until`` or an outage for good) goes on sending as time passes (a demo region's live part).
Status fault windows (``faults:``) are a live-simulator feature and are not replayed here.
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from watertel import __version__, firmware_profiles
from watertel.crypto import SM2PrivateKey, sm3
from watertel.envelope import ChainState, seal
from watertel.firmware_profiles.codec import representable
from watertel.presence import sign_status
from watertel.readings import Quality, Reading
from watertel.simulators.config import ModelConfig, Signal, SiteConfig
from watertel.simulators.effects import DeviceEffects
from watertel.simulators.physics import PhysicsState
from watertel.simulators.signals import DeviceState

LINK_MS = 1_200  # a 4G uplink: an envelope arrives this long after it was sealed
SEAL_MS = 3_000  # a gateway seals this long after its upload time (it polls first)
COMM = {"offline": Quality.TIMEOUT, "exception": Quality.EXCEPTION}


@dataclass(frozen=True)
class Sent:
    """One message as the broker gets it: when it arrives, where and what (``retain``: a status)."""

    arrival_ms: int
    gateway: str
    topic: str
    payload: bytes
    retain: bool = False
    readings: int = 0


class PastDevice:
    """One device of a gateway, sampled at any time in order (its model only moves forward).

    ``start``: epoch seconds where the model and its scenario events begin (events' ``at`` is
    counted from it)."""

    def __init__(self, name: str, station: str, profile: str, interval_s: int, start: float, *,
                 site: SiteConfig | None = None, model: ModelConfig | None = None,
                 signals: dict[str, Signal] | None = None, events: list | None = None, seed: int = 0) -> None:
        self.name, self.station, self.interval_s, self.start = name, station, interval_s, start
        self.profile_name, self.profile = profile, firmware_profiles.load(profile)
        self.effects = DeviceEffects(name, self.profile, events or [])
        self.physics = model is not None
        self.state = (PhysicsState(self.profile, model, site or SiteConfig(), self.effects, seed, start)
                      if model is not None else DeviceState(self.profile, signals or {}, seed))

    def sample_times(self, after: float, until: float) -> Iterator[float]:
        """Epoch seconds of this device's samples in (after, until]."""
        k = math.floor(after / self.interval_s) + 1
        while k * self.interval_s <= until:
            yield float(k * self.interval_s)
            k += 1

    def poll(self, t: float) -> list[Reading]:
        """The readings an edge agent records at ``t``: one per profile point, with its flag."""
        t_ms = round(t * 1000)
        fault = self.effects.comm(t - self.start)
        if fault is not None and fault.kind in COMM:
            return [Reading(self.station, p.name, t_ms, math.nan, p.unit, COMM[fault.kind]) for p in self.profile.points]
        self.state.advance(t)
        readings = []
        for p in self.profile.points:
            value = self.state.values[p.name]
            if not self.physics:  # physics applies sensor effects and the register encoding itself
                value = representable(p, self.effects.value(p.name, value, t - self.start))
            ok = math.isfinite(value) and (p.range is None or p.range[0] <= value <= p.range[1])
            readings.append(Reading(self.station, p.name, t_ms, value, p.unit, Quality.OK if ok else Quality.OUT_OF_RANGE))
        return readings


@dataclass
class PastGateway:
    """A gateway's devices, uplink habits and power cuts (epoch seconds, ``end`` None: for good)."""

    id: str
    key: SM2PrivateKey
    key_id: str
    devices: list[PastDevice]
    start: float  # epoch seconds: the first samples are taken after this
    until: float | None = None  # a live agent takes over then: a last upload of what it holds, and no more
    upload_every_s: int = 3600
    upload_offset_s: int = 0  # uploads at k·every + offset (epoch-aligned: 0 is on the hour for hourly)
    outages: list[tuple[float, float | None]] = field(default_factory=list)
    first_seq: int | None = None  # a new chain starts here (default: the first upload's time in ms, as a new buffer does)
    topic_prefix: str = "watertel"
    chain: ChainState | None = None  # where the chain stands after the last envelope made

    def powered(self, t: float) -> bool:
        return not any(start <= t and (end is None or t < end) for start, end in self.outages)

    def death(self) -> float | None:
        return next((start for start, end in self.outages if end is None), None)

    def status(self, state: str, t_ms: int) -> bytes:
        """The edge agent's status message, signed (birth fields; the will says only ``offline``).

        One status session from ``start`` on: the will is its n = 0, each online message's n its
        time, so refreshes are newer than the birth (watertel/presence.py)."""
        signed = {"gateway_id": self.id, "session": round(self.start * 1000), "key_id": self.key_id}
        if state == "offline":
            return sign_status({**signed, "state": "offline", "will": True, "n": 0}, self.key)
        profiles = sorted({d.profile_name for d in self.devices})
        config = sm3(json.dumps([self.id, self.upload_every_s, [d.name for d in self.devices]]).encode()).hex()
        return sign_status({**signed, "state": "online", "n": t_ms, "version": __version__, "config_sm3": config,
                            "profiles": profiles, "conditions": {},
                            "buffer": {"unsealed": 0, "batches_pending": 0, "bytes": 0, "dropped": 0, "unrecorded": 0},
                            "clock": {"synchronised": True}, "t_ms": t_ms}, self.key)

    def traffic(self) -> Iterator[Sent]:
        """Everything this gateway sends from ``start`` on, in order (endless without ``until``
        or an outage without end)."""
        start, until = self.start, self.until
        status_topic = f"{self.topic_prefix}/{self.id}/status"
        topic = f"{self.topic_prefix}/{self.id}/up"
        pending: list[Reading] = []
        sampled = start - 1e-6  # samples in (sampled, t] are taken at the next upload
        death, born = self.death(), False
        k = math.floor((start - self.upload_offset_s) / self.upload_every_s) + 1
        while True:
            upload = k * self.upload_every_s + self.upload_offset_s
            last = until is not None and upload >= until
            if last:
                upload = until
            if death is not None and upload >= death:
                yield Sent(round(death * 1000) + LINK_MS, self.id, status_topic, self.status("offline", 0), retain=True)
                return
            for device in self.devices:
                for t in device.sample_times(sampled, upload):
                    if self.powered(t):
                        pending += device.poll(t)
            sampled = upload
            if pending and self.powered(upload):
                created = round(upload * 1000) + (0 if last else SEAL_MS)
                if not born:
                    born = True
                    yield Sent(created + LINK_MS - 1, self.id, status_topic, self.status("online", created), retain=True)
                chain = self.chain or ChainState(self.first_seq or created)
                data, self.chain = seal(pending, self.key, self.id, self.key_id, chain, created)
                yield Sent(created + LINK_MS, self.id, topic, data, readings=len(pending))
                pending = []
            if last:
                return
            k += 1


def history(gateways: list[PastGateway]) -> Iterator[Sent]:
    """Every gateway's traffic merged in arrival order (ties: in the order of ``gateways``)."""
    return heapq.merge(*(gw.traffic() for gw in gateways), key=lambda s: s.arrival_ms)
