"""Only the optional C accelerator of the envelope payload (watertel/_payload.c); the rest of the
project is described in pyproject.toml. ``optional=True``: without a C compiler or Python headers
the install still succeeds, and watertel.envelope uses its pure-Python code (same bytes, slower)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("watertel._payload", ["watertel/_payload.c"], optional=True,
                             extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"])])
