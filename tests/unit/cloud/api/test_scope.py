"""Where a gateway lies for region-scoped users (cloud/api/scope.py): in every region of the
stations it reports for, so its alarms reach those regions' users and notification routes
(issue 21, item 9)."""

from __future__ import annotations

from pathlib import Path

from watertel.cloud.api.deps import Principal
from watertel.cloud.api.scope import refresh, subjects
from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.notify.config import NotificationsConfig
from watertel.cloud.notify.outbox import Notifier
from watertel.cloud.users import Role

from tests.support.api import registry


def gateway(gid: str, *stations: str) -> GatewayEntry:
    return GatewayEntry(id=gid, key_id="k", public_key=Path("k.pub.pem"), stations=list(stations))


def user(*regions: str) -> Principal:
    return Principal("u", Role.VIEWER, frozenset(regions), "bearer", "t")


def test_a_gateway_lies_in_the_regions_of_its_stations():
    found = subjects(registry(), [gateway("gw-hz", "ST-XH", "ST-BJ"), gateway("gw-nb", "ST-NB"), gateway("gw-x", "ST-??")])
    assert found["ST-XH"] == ["zj-hz-xh", "zj-hz", "zj"]
    assert found["gw-hz"] == ["zj-hz-xh", "zj-hz", "zj", "zj-hz-bj"]  # each region once
    assert "gw-x" not in found  # stations the registry lacks: unscoped users only
    assert user("zj-hz-bj").sees(found["gw-hz"]) and not user("zj-nb").sees(found["gw-hz"])
    assert user("zj-nb-hs").sees(found["gw-nb"]) and not user("zj-hz").sees(found["gw-nb"])


def test_a_station_keeps_its_own_place_should_a_gateway_share_its_id():
    assert subjects(registry(), [gateway("ST-NB", "ST-XH")])["ST-NB"] == ["zj-nb-hs", "zj-nb", "zj"]


def test_refresh_changes_the_apps_map_in_place():
    shared = subjects(registry(), [gateway("gw-hz", "ST-XH")])
    before = shared
    refresh(shared, registry(), [gateway("gw-nb", "ST-NB")])
    assert shared is before and "gw-hz" not in shared and shared["gw-nb"] == ["zj-nb-hs", "zj-nb", "zj"]


def test_a_region_route_notifies_its_gateways_alarms_and_not_the_others():
    cfg = NotificationsConfig.model_validate({"smtp": {"host": "127.0.0.1", "sender": "watertel@example.test"},
                                              "contacts": [{"id": "nb-duty", "email": "nb@example.test"}],
                                              "routes": [{"regions": ["zj-nb"], "contacts": ["nb-duty"]}]})
    found = subjects(registry(), [gateway("gw-hz", "ST-XH"), gateway("gw-nb", "ST-NB")])
    notifier = Notifier(None, cfg, found.get)
    history = {"id": 1, "alarm_id": 1, "t_ms": 0, "actor": "", "action": "raised", "note": "", "level": 0}

    def alarm(subject: str) -> dict:
        return {"id": 1, "station": subject, "point": "*", "type": "chain_gap", "severity": "yellow", "state": "raised",
                "message": "envelopes missing", "raised_ms": 0, "cleared_ms": None}

    assert [address for _, address, _ in notifier.targets(history, alarm("gw-nb"))] == ["nb@example.test"]
    assert notifier.targets(history, alarm("gw-hz")) == []
