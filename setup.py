"""Where the packages are and the optional C accelerator; the rest is described in pyproject.toml.

Everything installs under the one import name ``watertel``: the top-level folders of the source
tree (``edge_agent/``, ``cloud/``, ``simulators/``, ``firmware_profiles/``) become
``watertel.edge_agent``, ``watertel.cloud``, … through ``package_dir``, so no generic top-level name
such as ``cloud`` lands in site-packages.

The envelope payload's C code (watertel/_payload.c) is ``optional=True``: without a C compiler or
Python headers the install still succeeds, and watertel.envelope uses its pure-Python code (same
bytes, slower). ``make dist`` sets ``WATERTEL_PURE_WHEEL=1`` to leave it out of the wheel
altogether: the wheel is then ``py3-none-any`` and installs on a Raspberry Pi (arm64) as on
x86-64, with no compiler; the sdist keeps the C file, so ``pip install watertel-*.tar.gz`` on a
gateway with ``gcc python3-dev`` still builds it there.
"""

import os

from setuptools import Extension, find_namespace_packages, setup

PARTS = ("edge_agent", "cloud", "simulators", "firmware_profiles")
PACKAGE_DIR = {"watertel": "watertel", **{f"watertel.{part}": part for part in PARTS}}


def packages(name: str, folder: str) -> list[str]:
    """``name`` and every folder below ``folder``, data-only ones too (cloud/api/static)."""
    return [name, *(f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"]))]


setup(
    packages=[p for name, folder in PACKAGE_DIR.items() for p in packages(name, folder)],
    package_dir=PACKAGE_DIR,
    ext_modules=[] if os.environ.get("WATERTEL_PURE_WHEEL") == "1" else [
        Extension("watertel._payload", ["watertel/_payload.c"], optional=True,
                  extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"])],
)
