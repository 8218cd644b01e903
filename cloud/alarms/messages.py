"""Alarm messages as data: a code and its parameters, stored with the alarm beside the English text.

Why: the rules used to write English sentences ("turbidity 1.23 NTU above 1"), which the Chinese
console could only show as they were. Each rule now also gives a message code and the values in
it; the console renders them through its catalogue (``msg.<code>`` in cloud/api/static/i18n.js,
in each language, numbers by unit, times in China time), and the plain text stays for
notifications, logs and API clients (and is all that older alarm rows have).

``CODES`` lists every code a rule may give with the parameters it always carries (a test checks
that the console's catalogue has each code in both languages and uses no parameter not listed).
Parameter names follow the console's rules (i18n.js ``fmtParams``): ``…_ms`` a time, ``…share`` a
fraction shown as a percentage, ``…_s`` a duration in seconds, ``point``/``flow_point`` a point
name, ``unit``/``x_unit`` the unit of numbers named ``x…`` (else of all), lists of ``{…}`` parts
rendered through ``msg.part.<name>``.
"""

from __future__ import annotations

import math
from typing import Any

CODES: dict[str, tuple[str, ...]] = {
    # rules.py
    "device_fault": ("faults",),  # faults: [{point, quality}]
    "clock_unsynced": (),
    "totaliser_reset": ("point", "value", "unit"),
    # data_rules.py
    "data_stopped": ("last_ms", "interval_s", "missed"),
    "data_stopped.never": ("start_ms", "interval_s"),
    "data_stopped.since_start": ("start_ms", "last_ms", "interval_s"),
    "consecutive_zeros": ("point", "reports", "since_ms"),
    "spike.out_of_range": ("point", "value", "unit"),
    "spike.above_max": ("point", "value", "unit", "limit"),
    "spike.jump": ("point", "step", "value", "unit", "elapsed_s", "allowed"),
    "volume_change": ("volume", "unit", "day", "change_share", "median", "days"),
    # water_quality.py
    "water_quality.above": ("point", "value", "unit", "limit", "since_ms"),
    "water_quality.below": ("point", "value", "unit", "limit", "since_ms"),
    # leaks.py
    "night_flow": ("point", "flow", "unit", "day", "window", "median", "threshold", "nights"),
    "mass_balance": ("area", "inflow", "loss", "limit", "unit", "window_s", "until_ms"),
    "burst": ("flow_point", "flow_before", "flow_after", "flow_unit", "rise_share",
              "pressure_point", "pressure_before", "pressure_after", "pressure_unit", "drop_share", "window_s"),
    # over_permit.py (``was``: the severity it escalated from, when it did)
    "over_permit": ("permit", "holder", "year_start", "volume", "permitted", "unit", "share", "tier_share"),
    "over_plan": ("permit", "holder", "year_start", "plans"),  # plans: [{plan, first, last, volume, planned, share}]
    "over_permit_projected": ("permit", "holder", "year_start", "volume", "permitted", "unit", "share", "date",
                              "method", "rate", "rate_unit"),
    # engine.py and ingest (gateways)
    "chain_gap": ("missing", "count"),  # missing: the first five sequence numbers
    "gateway_offline": (),
    "buffer_full": ("detail",),
    "refused_envelope": ("reason", "detail"),
}
OPTIONAL = ("was",)  # any code may carry these


def num(x: float) -> float:
    """A value for the parameters: six significant digits (what the English text shows too), so
    the stored JSON carries no float noise; non-finite values (JSON has none) as 0."""
    return float(f"{x:.6g}") if math.isfinite(x) else 0.0


def check(code: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` if they are what ``CODES`` says ``code`` carries, else ValueError. For the tests:
    in service a mistake here must not cost the alarm (the console falls back to the text)."""
    want = CODES.get(code)
    if want is None:
        raise ValueError(f"alarm message code {code!r} is not in cloud/alarms/messages.py CODES")
    missing = set(want) - set(params)
    extra = set(params) - set(want) - set(OPTIONAL)
    if missing or extra:
        raise ValueError(f"alarm message {code!r}: parameters missing {sorted(missing)}, not listed {sorted(extra)}")
    return params
