"""YAML configuration loaded into pydantic models, with errors that name file, line, key and fix.

Every configuration (edge, cloud, simulator, firmware profile) goes through ``load_model`` so an
operator always gets the same shape of message:
``pumphouse.yaml:12: buses.0.devices.1.poll_interval_s: Input should be greater than 0 (got -1)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for config models: unknown keys are errors (a typo must not be ignored silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigError(Exception):
    """A configuration file that cannot be used; ``problems`` holds one line per error."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.path = str(path)
        self.problems = problems


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """Line (1-based) of the YAML node at ``loc``, or of the deepest ancestor found."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _describe(err: dict[str, Any]) -> str:
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    got = "" if err["type"] == "missing" else f" (got {err['input']!r})"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key (remove it or check its spelling)"
    if err["type"] == "missing":
        return f"{key}: required key is missing (add it)"
    return f"{key}: {err['msg'].removeprefix('Value error, ')}{got}"


def parse_yaml(path: Path | str) -> tuple[Any, yaml.Node | None]:
    """Read YAML, returning the data and its node tree (for line numbers)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(path, [f"{path}: cannot read ({err.strerror})"]) from err
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(path, [f"{where}: not valid YAML ({getattr(err, 'problem', err)})"]) from err


def validate(path: Path | str, data: Any, node: yaml.Node | None, model: type[M]) -> M:
    """Validate parsed YAML against ``model``; raise ConfigError listing every problem."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as err:
        problems = []
        for e in err.errors(include_url=False):
            line = _line_of(node, tuple(e["loc"]))
            problems.append(f"{path}:{line}: {_describe(e)}" if line else f"{path}: {_describe(e)}")
        raise ConfigError(path, problems) from err


def resolve(base: Path, path: Path | None) -> Path | None:
    """A path from a config file: relative ones are relative to that file's folder."""
    return None if path is None else path if path.is_absolute() else base / path


def load_model(path: Path | str, model: type[M]) -> M:
    """Load one YAML file into ``model``."""
    data, node = parse_yaml(path)
    return validate(path, data, node, model)
