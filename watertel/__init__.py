"""watertel: signed water telemetry from the well to the regulator.

This package holds what both ends share: the reading model, the signed envelope format, the SM
crypto, configuration loading and the command line. ``edge_agent``, ``cloud`` and ``simulators``
import from here and never from each other.
"""

__version__ = "0.1.0"
