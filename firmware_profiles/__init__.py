"""Firmware profiles: one YAML register map per device model, shared by edge agent and simulators.

``load(name)`` finds ``<name>.yaml`` beside this file (or any path); ``codec`` turns registers into
engineering values and back; ``plan`` groups points into as few Modbus requests as allowed;
``schema`` writes the JSON Schema of the format; ``probe`` checks a real device against a profile.
"""

from watertel.firmware_profiles.loading import load, profile_paths
from watertel.firmware_profiles.model import (
    DataType, Fraction, Function, Point, Profile, StatusBits, WordOrder, WriteLimits,
)

__all__ = ["DataType", "Fraction", "Function", "Point", "Profile", "StatusBits", "WordOrder", "WriteLimits", "load",
           "profile_paths"]
