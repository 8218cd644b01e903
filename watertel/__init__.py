"""watertel: signed water telemetry from the well to the regulator.

One import name, four layers (imports point down only; ``tests/test_layers.py`` checks it with the
import-linter contracts in pyproject.toml)::

    shell        watertel.shell: the `watertel` command's assembly, demo, soak, process helpers
    parts        watertel.edge_agent (gateway side: agent, forwarder, RTU gateway)
                 | watertel.cloud | watertel.simulators            never import each other
    profiles     watertel.firmware_profiles: device register maps and their codec
    core         this package's own modules: readings, envelope, crypto, protocols (+ framing),
                 commands (wire format), config, errors, keys, logs, ports, tls

The parts live in the repository's top-level folders (``edge_agent/``, ``cloud/``, …) and are
installed under this package by setup.py's ``package_dir``.
"""

__version__ = "0.1.0"
