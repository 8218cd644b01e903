"""Profiles by name or path: the shipped ones beside this file, any other by its path; loading
applies every check (each point's own in ``model``, those across points in ``checks``)."""

from __future__ import annotations

from pathlib import Path

from watertel.config import parse_yaml, validate
from watertel.firmware_profiles.checks import check_layout
from watertel.firmware_profiles.model import HERE, Profile


def profile_paths() -> list[Path]:
    """The profiles shipped with watertel."""
    return sorted(HERE.glob("*.yaml"))


def load(name_or_path: str | Path) -> Profile:
    """Load a shipped profile by name (``emf_flow_meter``) or any profile by path; raise
    ConfigError listing every problem, including registers that two points claim."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = HERE / f"{name_or_path}.yaml"
    data, node = parse_yaml(path)
    profile = validate(path, data, node, Profile)
    check_layout(path, node, profile)
    return profile

