"""Import and export the station registry: ``watertel cloud export`` and ``watertel cloud import``.

Two formats:

* **YAML** is the registry file's own format (cloud/registry.py). Exported in canonical form;
  imported verbatim (the operator's comments and layout are kept).
* **CSV** is one row per station, for a spreadsheet (columns in cloud/registry_csv.py).

Import validates the whole file with the same checks as the registry file (errors name file,
row or line, key and fix), checks the cloud config's user and route regions against it, and only
then replaces the registry file atomically (temp file, fsync, rename), keeping the previous one as
``<file>.bak``. On any error nothing is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from watertel.cloud.files import write_atomic
from watertel.cloud.registry import Registry, RegistryFile, build_registry, load_registry
from watertel.cloud.registry_csv import dump_csv, parse_csv, rows_of_problems
from watertel.config import ConfigError, parse_yaml
from watertel.errors import OperatorError


def file_model(registry: Registry) -> RegistryFile:
    """The registry as the file's model again (for writing it back)."""
    return RegistryFile(provinces=registry.provinces, stations=registry.stations, permits=registry.permits)


def dump_yaml(model: RegistryFile) -> str:
    """The registry file's canonical YAML (defaults left out, keys in the models' order)."""
    data = model.model_dump(mode="json", exclude_defaults=True)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120)


# --- import and export -----------------------------------------------------------------------------


def export_registry(registry_file: Path, fmt: str) -> str:
    """The registry as YAML or CSV text."""
    registry = load_registry(registry_file)
    return dump_yaml(file_model(registry)) if fmt == "yaml" else dump_csv(registry)


def read_import(src: Path, current: Path | None) -> tuple[Registry, str]:
    """The validated registry of a YAML or CSV file and the text to write as the registry file."""
    suffix = src.suffix.lower()
    if suffix in (".yaml", ".yml"):
        data, node = parse_yaml(src)
        return build_registry(src, data, node), src.read_text(encoding="utf-8")
    if suffix != ".csv":
        raise OperatorError(f"{src}: import reads .yaml, .yml or .csv files (got {src.suffix or 'no extension'})")
    base = RegistryFile()
    if current is not None and current.exists():
        try:
            base = file_model(load_registry(current))
        except ConfigError:
            pass  # the current file is broken: the CSV must carry every region chain itself
    data, where = parse_csv(src, base)
    try:
        registry = build_registry(src, data)
    except ConfigError as err:
        raise ConfigError(src, rows_of_problems(src, err.problems, where)) from err
    return registry, dump_yaml(file_model(registry))


def config_problems(config_path: Path, cfg: Any, registry: Registry, src: Path) -> list[str]:
    """Regions the cloud config names (user scopes, notification routes) that ``registry`` lacks."""
    known = set(registry.regions())
    named = [(f"api.users.{i}.regions", r) for i, u in enumerate(cfg.api.users) for r in u.regions]
    named += [(f"notifications.routes.{i}.regions", r) for i, route in enumerate(cfg.notifications.routes)
              for r in route.regions]
    return [f"{config_path}: {key}: {r!r} is not a region in {src.name} (keep it in the file, or change the config first)"
            for key, r in named if r not in known]


def changes(old: Registry | None, new: Registry) -> str:
    """``2 added (A, B), 1 removed (C), 3 changed`` for the stations."""
    before = {s.id: s for s in old.stations} if old else {}
    after = {s.id: s for s in new.stations}
    added, removed = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    changed = sorted(i for i in set(after) & set(before) if after[i] != before[i])
    bits = [f"{len(ids)} {what}" + (f" ({', '.join(ids[:5])}{', …' if len(ids) > 5 else ''})" if ids else "")
            for what, ids in (("added", added), ("removed", removed), ("changed", changed))]
    return ", ".join(bits)


def run(cfg: Any, args: Any) -> int:
    """`watertel cloud export|import`: print or write; problems the operator can fix raise ConfigError."""
    config_path = Path(args.config)
    if cfg.registry_file is None:
        raise OperatorError(f"{config_path}: registry_file: not set (name the station registry YAML to"
                            f" {'write' if args.action == 'import' else 'read'})")
    if args.action == "export":
        text = export_registry(cfg.registry_file, args.format)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            print(f"exported {cfg.registry_file} as {args.format}: {args.out}")
        else:
            print(text, end="")
        return 0
    if not args.file:
        raise OperatorError("watertel cloud import needs a FILE (.yaml or .csv)")
    src = Path(args.file)
    registry, text = read_import(src, cfg.registry_file)
    if problems := config_problems(config_path, cfg, registry, src):
        raise ConfigError(config_path, problems)
    try:
        old = load_registry(cfg.registry_file) if cfg.registry_file.exists() else None
    except ConfigError:
        old = None
    summary = (f"{len(registry.names)} regions, {len(registry.stations)} stations, {len(registry.permits)} permits;"
               f" stations: {changes(old, registry)}")
    if args.dry_run:
        print(f"{src}: ok, nothing written (dry run): {summary}")
        return 0
    write_atomic(cfg.registry_file, text)
    print(f"imported {src} into {cfg.registry_file} (previous: {cfg.registry_file.name}.bak): {summary}\n"
          "a running API picks the file up at its next start")
    return 0
