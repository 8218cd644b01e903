"""The status file stays the agent's own; its .prom is readable by node_exporter's user."""

from __future__ import annotations

import os
import stat

from watertel.edge_agent.health import write_status

STATUS = {"gateway_id": "gw-1", "buffer": {"unsealed": 0, "batches_pending": 0, "bytes": 0},
          "uplink": {"connected": False}, "devices": {}}


def test_prom_is_world_readable_under_the_units_umask_and_the_status_is_not(tmp_path):
    old = os.umask(0o077)  # the unit's UMask=0077
    try:
        write_status(tmp_path / "watertel-edge.json", STATUS)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"watertel-edge.json": 0o600, "watertel-edge.prom": 0o644}
    assert 'watertel_edge_uplink_connected{gateway="gw-1"} 0' in (tmp_path / "watertel-edge.prom").read_text()
