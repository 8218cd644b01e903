"""The gateway's side of signed commands: check everything, do only what is allowed, answer signed.

A command must be signed by the cloud's key, addressed to this gateway, not expired, never seen
before (its id is remembered in the buffer until it expires, so a replay after a restart is
refused too), allowed by this gateway's configuration, and, for a write, inside the profile's
safety limits and on the configured list of writable points. Every command gets an answer:
at once, or for set_config once the new file is proven or rolled back (edge_agent/reconfig.py).
check_clock and set_time are judged by a window around their timestamp instead of its expiry
(the clock in question cannot judge expiry), their ids remembered while they fit the window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from watertel.edge_agent.buffer import Buffer
from watertel.edge_agent.clock import adjust_clock, clock_synchronised, has_cap_sys_time
from watertel.edge_agent.config import CommandsConfig
from watertel.edge_agent.poll.modbus import ReadFailed
from watertel.edge_agent.poll.scheduler import BusPoller
from watertel.commands import Answer, CommandError, unpack
from watertel.crypto import SM2PrivateKey, SM2PublicKey

log = logging.getLogger("watertel.edge.commands")
CLOCK_SKEW_MS = 60_000  # a command "issued" further in the future than this is refused
MAX_RESEND_RANGES, MAX_RESEND_SPAN = 100, 100_000  # a resend asks for at most this much history
CLOCK_COMMANDS = ("check_clock", "set_time")  # judged by a window around their timestamp, not by expiry


class CommandExecutor:
    def __init__(self, cfg: CommandsConfig, gateway_id: str, key: SM2PrivateKey, buffer: Buffer,
                 pollers: list[BusPoller], set_config: Callable[[str, dict[str, Any]], None] | None = None,
                 on_clock: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.cfg, self.gateway_id, self.key, self.buffer, self.pollers = cfg, gateway_id, key, buffer, pollers
        self.cloud_key = SM2PublicKey.from_pem(cfg.cloud_public_key.read_text())
        self.set_config = set_config  # validates and starts the change, or raises CommandError
        self.on_clock = on_clock  # told each measured offset (status, flags on readings)

    async def handle(self, message: bytes) -> bytes | None:
        """The signed answer to one message (done or refused, with the reason); None when the
        answer comes later (a set_config being applied)."""
        command_id, status, reason, result = "?", "done", "", {}
        try:
            body = unpack(message, self.cloud_key)
            command_id = str(body.get("id", "?"))
            self._check(body)
            if body["command"] == "set_config":
                if self.set_config is None:
                    raise CommandError("not_allowed", "this agent cannot apply configurations")
                self.set_config(body["id"], body.get("args") or {})
                log.info("command %s set_config: validated, applying", command_id)
                return None
            if body["command"] in CLOCK_COMMANDS:
                result = self._clock(body)
            elif body["command"] == "resend":
                result = self._resend(body.get("args") or {})
            else:
                result = await self._run(body["command"], body.get("args") or {})
            log.info("command %s %s done: %s", command_id, body["command"], result)
        except CommandError as err:  # the reason is a code to count; the detail says what to fix
            status, reason, result = "refused", err.reason, {"detail": err.detail}
            log.warning("command %s refused: %s", command_id, err)
        now = int(time.time() * 1000)
        return Answer(self.gateway_id, command_id, status, reason, result, now).pack(self.key)

    def _check(self, body: dict[str, Any]) -> None:
        now = int(time.time() * 1000)
        if body.get("gateway") != self.gateway_id:
            raise CommandError("wrong_gateway", f"addressed to {body.get('gateway')!r}")
        expires, issued = body.get("expires_ms"), body.get("issued_ms")
        if not isinstance(expires, int) or not isinstance(issued, int) or not isinstance(body.get("id"), str):
            raise CommandError("bad_format", "id, issued_ms and expires_ms are required")
        remember_until = expires
        if body.get("command") in CLOCK_COMMANDS:  # this clock is what is in question: a window, not expiry
            window_ms = int(self.cfg.clock.max_offset_s * 1000)
            if abs(now - issued) > window_ms:
                raise CommandError("clock_too_far", f"issued {(now - issued) / 1000:+.0f} s from this gateway's clock "
                                   f"(more than commands.clock.max_offset_s = {self.cfg.clock.max_offset_s:g} s)")
            remember_until = max(expires, now + 2 * window_ms)  # a replay stays refused while it fits the window
        elif expires <= now:
            raise CommandError("expired", f"expired {(now - expires) / 1000:.0f} s ago")
        elif issued > now + CLOCK_SKEW_MS:
            raise CommandError("from_the_future", "issued after now: check the clocks")
        if body.get("command") not in self.cfg.allow:
            raise CommandError("not_allowed", f"{body.get('command')!r} is not allowed on this gateway")
        if not self.buffer.remember_command(body["id"], remember_until):
            raise CommandError("replayed", f"command {body['id']} was already received")

    def _clock(self, body: dict[str, Any]) -> dict[str, Any]:
        """The offset of this clock against the command's signed timestamp (the delivery delay
        included); set_time also removes it where allowed, needed and possible."""
        offset_ms = int(time.time() * 1000) - body["issued_ms"]
        synchronised = clock_synchronised()
        result: dict[str, Any] = {"offset_ms": offset_ms, "synchronised": synchronised, "action": "none"}
        conf = self.cfg.clock
        if body["command"] == "set_time" and abs(offset_ms) > conf.tolerance_ms:
            if not conf.adjust:
                result["action"] = "not_allowed"  # commands.clock.adjust is off: reported only
            elif synchronised:
                result["action"] = "ntp_in_charge"  # a time service disciplines the clock: do not fight it
            elif not has_cap_sys_time():
                result["action"] = "no_permission"  # the unit lacks AmbientCapabilities=CAP_SYS_TIME
            else:
                try:
                    result["action"] = adjust_clock(offset_ms, conf.max_slew_ms)
                except OSError as err:
                    raise CommandError("clock_error", f"cannot adjust the clock by {-offset_ms} ms: {err}") from err
                log.warning("clock %s by %d ms (set_time %s)", result["action"], -offset_ms, body["id"])
        if self.on_clock:
            self.on_clock(result)
        return result

    def _resend(self, args: dict[str, Any]) -> dict[str, Any]:
        """Requeue the sent batches of each ``[first, last]`` range for the uplink (same bytes, same
        sequence numbers: the cloud stores what it lacks and drops the rest as duplicates)."""
        ranges = args.get("ranges")
        if not isinstance(ranges, list) or not 0 < len(ranges) <= MAX_RESEND_RANGES or not all(
                isinstance(r, list) and len(r) == 2 and all(type(n) is int for n in r) and 1 <= r[0] <= r[1] < 2**63
                and r[1] - r[0] < MAX_RESEND_SPAN for r in ranges):
            raise CommandError("bad_args", f"ranges must be 1..{MAX_RESEND_RANGES} [first, last] sequence numbers,"
                               f" first <= last, at most {MAX_RESEND_SPAN} each")
        requeued = missing = 0
        for first, last in ranges:
            done, gone = self.buffer.requeue(first, last)
            requeued, missing = requeued + done, missing + gone
        if missing:
            log.warning("resend: %d asked-for batches are no longer in the buffer (pruned sent history)", missing)
        return {"requeued": requeued, "missing": missing}

    def _device(self, args: dict[str, Any]):
        for poller in self.pollers:
            dev = poller.device(str(args.get("device")))
            if dev:
                return poller, dev
        raise CommandError("unknown_device", f"no device {args.get('device')!r} on this gateway")

    async def _run(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        poller, dev = self._device(args)
        if name == "read_now":
            readings = await poller.poll(dev)
            return {"readings": [{"point": r.point, "t_ms": r.t_ms, "value": r.value, "unit": r.unit,
                                  "quality": r.quality.name} for r in readings]}
        if name == "set_poll_interval":
            seconds = args.get("seconds")
            if not isinstance(seconds, (int, float)) or not 0.1 <= seconds <= 86_400:
                raise CommandError("bad_args", "seconds must be a number from 0.1 to 86400")
            before, dev.interval_s = dev.interval_s, float(seconds)
            return {"before_s": before, "after_s": dev.interval_s}
        return await self._write(poller, dev, args)

    async def _write(self, poller: BusPoller, dev, args: dict[str, Any]) -> dict[str, Any]:
        name, value = args.get("point"), args.get("value")
        if f"{dev.config.name}.{name}" not in self.cfg.writable:
            raise CommandError("not_writable", f"{dev.config.name}.{name} is not on this gateway's writable list")
        point = next((p for p in dev.profile.points if p.name == name), None)
        if point is None or point.write is None:
            raise CommandError("not_writable", f"the profile does not mark {name!r} writable")
        if point.bit is not None:
            raise CommandError("not_writable", "one bit of a register cannot be written without touching the others")
        if not isinstance(value, (int, float)):
            raise CommandError("bad_args", "value must be a number")
        try:
            current = (await poller.write_point(dev, point, value, check=point.write.problem))
        except ReadFailed as err:
            raise CommandError("device_error", f"{err.quality.name}: {err}") from err
        except ValueError as err:
            raise CommandError("outside_limits", str(err)) from err
        return {"before": current[0], "after": current[1]}
