"""The layers the README promises, checked from the code's own imports.

``lint-imports`` (import-linter) reads the contracts in pyproject.toml: shell > gateway side |
cloud | simulators > firmware profiles > core, the three parts independent, and no cycle between
files or folders anywhere. It finds packages on disk the way they are installed, so it runs over a
mirror of the installed layout: ``watertel/`` with the top-level part folders linked in as
``watertel.edge_agent``, ``watertel.cloud``, … (the ``package_dir`` mapping of setup.py).

An import inside a function is allowed only with its reason on the same line
(``# imported here: <reason>``: an optional dependency, or start-up cost).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MARK = "# imported here:"


def parts() -> tuple[str, ...]:
    """The folders setup.py maps under ``watertel`` (its ``PARTS``)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    found = next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "PARTS")
    return tuple(ast.literal_eval(found))


def installed_layout(where: Path) -> Path:
    """``where/watertel`` as installed: links to the core's files and to each part's folder."""
    package = where / "watertel"
    package.mkdir()
    for entry in (ROOT / "watertel").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for part in parts():
        (package / part).symlink_to(ROOT / part)
    return package


def source_files() -> list[Path]:
    return [p for top in ("watertel", *parts()) for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts]


def test_the_import_contracts_hold(tmp_path):
    installed_layout(tmp_path)
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), str(ROOT / "pyproject.toml"), "--no-cache"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_the_mirror_has_every_module_the_wheel_installs(tmp_path):
    """The contract covers what is installed: every source module appears under ``watertel``."""
    package = installed_layout(tmp_path)
    seen = {(Path(folder) / name).resolve() for folder, _, names in os.walk(package, followlinks=True)
            for name in names if name.endswith(".py")}
    assert set(source_files()) <= seen


def test_imports_inside_functions_say_why():
    unexplained = []
    for path in source_files():
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)) and MARK not in lines[inner.lineno - 1]:
                    unexplained.append(f"{path.relative_to(ROOT)}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert not unexplained, "imports inside functions without '# imported here: <reason>':\n" + "\n".join(
        sorted(set(unexplained)))
