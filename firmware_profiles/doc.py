"""The profiles' README, generated from the YAML so the two never drift (`watertel profile doc`)."""

from __future__ import annotations

from watertel.firmware_profiles.loading import load, profile_paths
from watertel.firmware_profiles.model import KINDS, DataType, Point, Profile, WriteLimits

HEADER = """# Firmware profiles

One YAML file per device model: the register map the edge agent decodes and the simulator
serves. This file is generated from the YAML by `watertel profile doc > firmware_profiles/README.md`
and a test checks that it matches. Check a new or edited profile with `watertel profile check FILE`
(errors read `file:line: key: problem (fix)`), and a real device against its profile with
`watertel profile probe --profile FILE --tcp HOST:PORT` (or `--serial PORT --baud N`).
The format's JSON Schema is `profile.schema.json` (`watertel profile schema` regenerates it); start a
profile with `# yaml-language-server: $schema=profile.schema.json` and editors check it as you type.
The whole format, with an example, the simulator and the probe: [`docs/vendor.md`](../docs/vendor.md).

Top-level keys: `vendor`, `model`, `kind` (""" + ", ".join(f"`{k}`" for k in KINDS) + """),
`description`, `transport` (the serial defaults as shipped: `baudrate` 9600, `parity` N,
`stopbits` 1, `unit_id` 1), `points` (at least one) and `status` (below).

Fields of a point (`name`, `address` and `type` required):

- `name`; `function`, by default `holding` (read with function code 3, written with 6/16), or
  `input` (4), `coil` (1, written with 5) or `discrete` (discrete input, 2); `address`: 0-based,
  as on the wire.
- `type`: u16, i16, u32, i32, f32, f64, bcd16 (4 BCD digits), bcd32 (8 BCD digits) or bit. A `bit`
  is a coil, a discrete input, or bit `bit:` (0 = least significant) of a holding/input register.
- `order`: where the bytes of the value sit, A being the most significant: ABCD big-endian, CDAB
  words swapped, BADC bytes swapped in each word, DCBA little-endian.
- `scale` and `offset`: value = raw × scale + offset. `unit`. `range`: the valid range; a value
  outside it is flagged OUT_OF_RANGE.
- `fraction`: a composite totaliser: the integer part (this point) and a fraction register
  directly after or before it, value = integer × scale + fraction × fraction.scale (e.g. u32 m³ +
  u16 × 0.001). Both parts carry the value's sign when the fraction type is signed.
- `totaliser: true`: a counter that only grows (not a net total). The edge marks a reading where it
  went backwards TOTAL_ROLLOVER (from the top tenth of its integer range to the bottom tenth) or
  TOTAL_RESET (a meter replaced or reset), so volumes from deltas stay right.
- `write`: the point is writable (holding registers and coils only), within `min`, `max`, a
  largest change per command `max_step`, or only the listed `values`.

A `status` register lists fault bits: any set bit flags every reading of that poll SENSOR_FAULT.
A bit point may name a status bit to record it as a reading of its own.

In the tables, an address `9.8` is bit 8 of register 9.
"""


def _type(p: Point) -> str:
    if p.type is DataType.BIT:
        return "bit"
    text = p.type.value + (f" {p.order.value}" if p.count > 1 or p.order.value in ("BADC", "DCBA") else "")
    if p.fraction:
        f = p.fraction
        text += f" + {f.type.value}{' ' + f.order.value if f.type.registers > 1 else ''} @{f.address} × {f.scale:g}"
    return text


def _limits(w: WriteLimits | None) -> str:
    if w is None:
        return ""
    parts = [f"values {', '.join(f'{v:g}' for v in w.values)}"] if w.values else []
    parts += [f"{k} {v:g}" for k, v in (("min", w.min), ("max", w.max), ("max step", w.max_step)) if v is not None]
    return "writable" + (": " + "; ".join(parts) if parts else "")


def _notes(p: Point) -> str:
    wraps = f", wraps after {p.wraps_at:.12g}" if p.totaliser and p.wraps_at is not None else ""
    return "; ".join(filter(None, [f"totaliser{wraps}" if p.totaliser else "", p.description or ""]))


def _table(profile: Profile) -> list[str]:
    rows = ["| point | function | address | type | scale | offset | unit | valid range | write | notes |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for p in profile.points:
        valid = f"{p.range[0]:g} … {p.range[1]:g}" if p.range else ""
        address = f"{p.address}.{p.bit}" if p.bit is not None else str(p.address)
        rows.append(f"| {p.name} | {p.function.value} | {address} | {_type(p)} | {p.scale:g} | {p.offset:g} | "
                    f"{p.unit} | {valid} | {_limits(p.write)} | {_notes(p)} |")
    if profile.status:
        bits = ", ".join(f"bit {b}: {name}" for b, name in sorted(profile.status.faults.items()))
        rows.append(f"| *status* | {profile.status.function.value} | {profile.status.address} | u16 | | | | | | "
                    f"fault {bits} |")
    return rows


def render() -> str:
    parts = [HEADER]
    for path in profile_paths():
        p = load(path)
        t = p.transport
        parts.append(f"## `{path.stem}`: {p.vendor} {p.model} ({p.kind.replace('_', ' ')})\n")
        if p.description:
            parts.append(p.description + "\n")
        parts.append(f"Serial defaults: {t.baudrate} baud, parity {t.parity}, {t.stopbits} stop bit(s), unit id {t.unit_id}.\n")
        parts.append("\n".join(_table(p)) + "\n")
    return "\n".join(parts)
