"""Where the packages are and the optional C accelerator; the rest is described in pyproject.toml.

Everything installs under the one import name ``watertel``: the top-level folders of the source
tree (``edge_agent/``, ``cloud/``, ``simulators/``, ``firmware_profiles/``) become
``watertel.edge_agent``, ``watertel.cloud``, … through ``package_dir``, so no generic top-level name
such as ``cloud`` lands in site-packages.

The envelope payload's C code (watertel/_payload.c) is ``optional=True``: without a C compiler or
Python headers the install still succeeds, and watertel.envelope uses its pure-Python code (same
bytes, slower).
"""

from setuptools import Extension, find_packages, setup

PARTS = ("edge_agent", "cloud", "simulators", "firmware_profiles")

packages = ["watertel", *(f"watertel.{p}" for p in find_packages("watertel"))]
for part in PARTS:
    packages += [f"watertel.{part}", *(f"watertel.{part}.{p}" for p in find_packages(part))]

setup(
    packages=packages,
    package_dir={"watertel": "watertel", **{f"watertel.{part}": part for part in PARTS}},
    ext_modules=[Extension("watertel._payload", ["watertel/_payload.c"], optional=True,
                           extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"])],
)
