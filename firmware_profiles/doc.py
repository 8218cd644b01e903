"""The profiles' README, generated from the YAML so the two never drift (`watertel profile doc`)."""

from __future__ import annotations

from firmware_profiles.model import Profile, load, profile_paths

HEADER = """# Firmware profiles

One YAML file per device model: the register map the edge agent decodes and the simulator
serves. This file is generated from the YAML by `watertel profile doc > firmware_profiles/README.md`
and a test checks that it matches. Check a new or edited profile with `watertel profile check FILE`.

Fields of a point: `name`, `function` (`holding` = function code 3, `input` = 4), `address`
(0-based, as on the wire), `type` (u16, i16, u32, i32, f32, f64), `order` (where the bytes of a
multi-register value sit: ABCD big-endian, CDAB words swapped, BADC bytes swapped, DCBA
little-endian), `scale` and `offset` (value = raw × scale + offset), `unit`, `range` (valid
range; a value outside it is flagged OUT_OF_RANGE). A `status` register lists fault bits: any set
bit flags every reading of that poll SENSOR_FAULT.
"""


def _table(profile: Profile) -> list[str]:
    rows = ["| point | function | address | type | order | scale | offset | unit | valid range |",
            "|---|---|---|---|---|---|---|---|---|"]
    for p in profile.points:
        valid = f"{p.range[0]:g} … {p.range[1]:g}" if p.range else ""
        order = p.order.value if p.count > 1 else ""
        rows.append(f"| {p.name} | {p.function.value} | {p.address} | {p.type.value} | {order} | "
                    f"{p.scale:g} | {p.offset:g} | {p.unit} | {valid} |")
    if profile.status:
        bits = ", ".join(f"bit {b}: {name}" for b, name in sorted(profile.status.faults.items()))
        rows.append(f"| *status* | {profile.status.function.value} | {profile.status.address} | u16 | | | | | {bits} |")
    return rows


def render() -> str:
    parts = [HEADER]
    for path in profile_paths():
        p = load(path)
        t = p.transport
        parts.append(f"## `{path.stem}`: {p.vendor} {p.model} ({p.kind.replace('_', ' ')})\n")
        parts.append(f"Serial defaults: {t.baudrate} baud, parity {t.parity}, {t.stopbits} stop bit(s), unit id {t.unit_id}.\n")
        parts.append("\n".join(_table(p)) + "\n")
    return "\n".join(parts)
