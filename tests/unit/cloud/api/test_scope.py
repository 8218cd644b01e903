"""Where a gateway lies for region-scoped users (cloud/api/scope.py): in every region of the
stations it reports for, so its alarms reach those regions' users (issue 21, item 9)."""

from __future__ import annotations

from pathlib import Path

from watertel.cloud.api.deps import Principal
from watertel.cloud.api.scope import refresh, subjects
from watertel.cloud.gateways import GatewayEntry
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
