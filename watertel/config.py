"""YAML configuration loaded into pydantic models, with errors that name file, line, key and fix.

Every configuration (edge, cloud, simulator, firmware profile) goes through ``load_model`` so an
operator always gets the same shape of message:
``pumphouse.yaml:12: buses.0.devices.1.poll_interval_s: Input should be greater than 0 (got -1)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from watertel.crypto.sm4 import PayloadKey, PayloadKeyError
from watertel.errors import ConfigError  # raised by every loader here; defined apart, free of pydantic
from watertel.ids import ID_PATTERN

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Base for config models: unknown keys are errors (a typo must not be ignored silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


_FIXES = {  # pydantic error type → how to fix it (ctx fields fill the braces)
    "greater_than": "use a number > {gt}", "greater_than_equal": "use a number >= {ge}",
    "less_than": "use a number < {lt}", "less_than_equal": "use a number <= {le}",
    "string_pattern_mismatch": "match the pattern {pattern}", "enum": "use one of {expected}",
    "literal_error": "use one of {expected}", "int_parsing": "write a whole number",
    "int_from_float": "write a whole number", "int_type": "write a whole number",
    "float_parsing": "write a number", "float_type": "write a number", "bool_parsing": "write true or false",
    "string_type": "write text (quote it)", "too_short": "give at least {min_length}",
    "too_long": "give at most {max_length}", "model_type": "write a mapping of keys", "dict_type": "write a mapping",
    "list_type": "write a list", "tuple_type": "write a list", "union_tag_invalid": "use one of {expected_tags}",
}


def _shown(value: Any) -> str | None:
    """The offending value, quoted, unless it is a whole section (too long to help)."""
    return None if isinstance(value, (dict, list)) else repr(value)


def _describe(err: dict[str, Any]) -> str:
    """``key: problem (fix)`` for one pydantic error."""
    key = ".".join(str(p) for p in err["loc"]) or "(top level)"
    if err["type"] == "extra_forbidden":
        return f"{key}: unknown key (remove it or check its spelling)"
    if err["type"] == "missing":
        return f"{key}: required key is missing (add it)"
    msg, got = err["msg"].removeprefix("Value error, "), _shown(err["input"])
    if err["type"] in _FIXES:
        ctx = {k: f"{v:g}" if isinstance(v, float) else v for k, v in err.get("ctx", {}).items()}
        fix = _FIXES[err["type"]].format(**ctx)
        return f"{key}: {msg}" + (f", got {got}" if got else "") + f" ({fix})"
    if got and "(got" not in msg:  # our validators write "problem (fix)": the value goes before the fix
        head, sep, fix = msg.rpartition(" (") if msg.endswith(")") else (msg, "", "")
        return f"{key}: {head}, got {got}{sep}{fix}"
    return f"{key}: {msg}"


def problem_at(path: Path | str, node: yaml.Node | None, loc: tuple[Any, ...], problem: str) -> str:
    """``file:line: key: problem`` for a check made after validation (e.g. across points)."""
    line = _line_of(node, loc)
    key = ".".join(str(p) for p in loc) or "(top level)"
    return f"{path}:{line}: {key}: {problem}" if line else f"{path}: {key}: {problem}"


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


class PayloadKeyConfig(Strict):
    """An optional SM4 payload key (edge: to encrypt; cloud, per gateway: to decrypt). The YAML
    holds only the id and the file's path; the key stays in the file (32 hex digits, mode 0600)."""

    key_id: str = Field(pattern=ID_PATTERN)
    key_file: Path

    def resolved(self, base: Path) -> PayloadKeyConfig:
        return self.model_copy(update={"key_file": resolve(base, self.key_file)})

    def problem(self, config_path: Path, where: str) -> str | None:
        """Why the key file cannot be used, naming file and key, never its content; None if fine."""
        try:
            PayloadKey.from_file(self.key_file, self.key_id)
        except PayloadKeyError as err:
            return f"{config_path}: {where}.key_file: {err}"
        return None

    def load(self) -> PayloadKey:
        return PayloadKey.from_file(self.key_file, self.key_id)
