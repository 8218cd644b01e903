"""The JSON Schema of the profile format, generated from the pydantic model so the two never
drift (`watertel profile schema > firmware_profiles/profile.schema.json`; a test checks it).

Editors that speak the YAML language server validate a profile as it is typed when the file
starts with ``# yaml-language-server: $schema=profile.schema.json``. The schema covers each point
on its own; `watertel profile check` also catches what a schema cannot express (two points
claiming one register, a fraction not beside its integer part).
"""

from __future__ import annotations

import json
from pathlib import Path

from watertel.firmware_profiles.model import HERE, Profile

SCHEMA_PATH: Path = HERE / "profile.schema.json"


def render() -> str:
    """The schema as stable, diff-friendly JSON text."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.invalid/watertel/profile.schema.json",
        **Profile.model_json_schema(),
        "title": "watertel firmware profile",
    }
    return json.dumps(schema, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
