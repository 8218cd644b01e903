"""Firmware profiles: one YAML register map per device model, shared by edge agent and simulators.

``load(name)`` finds ``<name>.yaml`` beside this file (or any path); ``codec`` turns registers into
engineering values and back; ``plan`` groups points into as few Modbus requests as allowed.
"""

from firmware_profiles.model import DataType, Function, Point, Profile, StatusBits, WordOrder, load, profile_paths

__all__ = ["DataType", "Function", "Point", "Profile", "StatusBits", "WordOrder", "load", "profile_paths"]
