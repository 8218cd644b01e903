"""A gateway's retained status delivered again (the cloud restarted and subscribed anew) is not
contact: the fleet keeps when the gateway was last heard from, so a dead gateway stays offline."""

from __future__ import annotations

from watertel.cloud.gateway_status import GatewayStatus


def test_a_retained_copy_again_moves_neither_the_contact_nor_the_arrival(tmp_path):
    fleet = GatewayStatus(tmp_path)
    online = {"state": "online", "t_ms": 1_000, "version": "0.1.0"}
    fleet.record("gw-1", online, 1_200)
    fleet.record("gw-1", {"state": "offline"}, 5_000)  # the will, when the broker lost it
    assert fleet.last_contact_ms("gw-1") == 5_000 and fleet.row("gw-1")["state"] == "offline"

    fleet.record("gw-1", {"state": "offline"}, 90_000)  # the retained will again, on a restart
    assert fleet.last_contact_ms("gw-1") == 5_000
    assert fleet.status("gw-1")["received_ms"] == 5_000

    fleet.record("gw-1", {**online, "t_ms": 95_000}, 95_100)  # back: a new status is contact
    assert fleet.last_contact_ms("gw-1") == 95_100 and fleet.row("gw-1")["state"] == "online"
    fleet.record("gw-1", {**online, "t_ms": 95_000}, 99_000)  # and its retained copy is not
    assert fleet.last_contact_ms("gw-1") == 95_100
