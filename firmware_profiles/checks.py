"""Checks across points, made after each point validated: two values must never claim one
register, or the simulator could not serve both and a vendor's map would be ambiguous.

Several ``bit`` points may share a register (each its own bit), and a bit point may name a bit
of the status register (a status flag worth recording as a reading)."""

from __future__ import annotations

from pathlib import Path

import yaml

from watertel.firmware_profiles.model import DataType, Function, Point, Profile
from watertel.config import ConfigError, problem_at

Owner = tuple[str, int | None]  # (point name, bit number or None for the whole register)


def _cells(point: Point) -> list[tuple[Function, int]]:
    return [(point.function, a) for a in range(point.first, point.first + point.count)]


def _clash(owners: list[Owner], bit: int | None) -> str | None:
    """Name of a point already holding the register in a way ``bit`` conflicts with."""
    for name, held in owners:
        if bit is None or held is None or held == bit:
            return name
    return None


def layout_problems(profile: Profile) -> list[tuple[tuple, str]]:
    """(location, ``problem (fix)``) for every register claimed twice."""
    owners: dict[tuple[Function, int], list[Owner]] = {}
    if profile.status:
        owners[(profile.status.function, profile.status.address)] = [("status", -1)]
    found = []
    for i, p in enumerate(profile.points):
        bit = p.bit if p.type is DataType.BIT and not p.function.is_bit else None
        for cell in _cells(p):
            held = owners.setdefault(cell, [])
            other = _clash([o for o in held if o[1] != -1], bit) if bit is not None else _clash(held, None)
            if other:
                what = "bit" if cell[0].is_bit else "register"
                found.append((("points", i), f"{cell[0].value} {what} {cell[1]} is already used by {other} "
                                             "(move one of them, or make both bit points with different bits)"))
                break
            held.append((p.name, bit))
    return found


def check_layout(path: Path | str, node: yaml.Node | None, profile: Profile) -> None:
    """Raise ConfigError naming file, line and point for each register claimed twice."""
    problems = [problem_at(path, node, loc, msg) for loc, msg in layout_problems(profile)]
    if problems:
        raise ConfigError(path, problems)
