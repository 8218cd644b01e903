"""Where the packages are and the optional C accelerator; the rest is described in pyproject.toml.

Everything installs under the one import name ``watertel``: the top-level folders of the source
tree (``edge_agent/``, ``cloud/``, ``simulators/``, ``firmware_profiles/``) become
``watertel.edge_agent``, ``watertel.cloud``, … through ``package_dir``, so no generic top-level name
such as ``cloud`` lands in site-packages.

The envelope payload's C code (watertel/_payload.c) is ``optional=True``: without a C compiler or
Python headers the install still succeeds, and watertel.envelope uses its pure-Python code (same
bytes, slower).
"""

from setuptools import Extension, find_namespace_packages, setup

PARTS = ("edge_agent", "cloud", "simulators", "firmware_profiles")
PACKAGE_DIR = {"watertel": "watertel", **{f"watertel.{part}": part for part in PARTS}}


def packages(name: str, folder: str) -> list[str]:
    """``name`` and every folder below ``folder``, data-only ones too (cloud/api/static)."""
    return [name, *(f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"]))]


setup(
    packages=[p for name, folder in PACKAGE_DIR.items() for p in packages(name, folder)],
    package_dir=PACKAGE_DIR,
    ext_modules=[Extension("watertel._payload", ["watertel/_payload.c"], optional=True,
                           extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"])],
)
