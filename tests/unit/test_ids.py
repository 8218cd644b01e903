"""Identifiers from outside (gateway and key ids, user names, station names) become file names,
topics and log fields: one rule, ``^[A-Za-z0-9][A-Za-z0-9._-]*$`` (issue 21: gateway id ``..``
wrote a key file outside gateway-keys/)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from watertel.cloud.gateways import GatewayEntry
from watertel.cloud.registry import Station
from watertel.cloud.users import UserEntry
from watertel.ids import check_id, is_id
from watertel.keys import write_key_pair

GOOD = ["gw-1", "gw-1.sl651", "ST_0001", "330102-1234", "a", "0", "gw.1.-_x"]
BAD = [".", "..", "../x", "gw/1", "gw+1", "#", "", " gw", "gw 1", "gw\n", "gw\nts=x", ".hidden", "-gw", "_gw",
       "gw\x00", "网关"]


@pytest.mark.parametrize("value", GOOD)
def test_ids_that_pass(value):
    assert is_id(value) and check_id(value) == value


@pytest.mark.parametrize("value", BAD)
def test_ids_that_are_refused_everywhere_they_come_in(value, tmp_path):
    assert not is_id(value)
    with pytest.raises(ValueError, match="use letters, digits"):
        check_id(value, "gateway")
    with pytest.raises(ValidationError, match="pattern"):
        GatewayEntry(id=value, key_id="k1", public_key=tmp_path / "k.pem", stations=["S1"])
    with pytest.raises(ValidationError, match="pattern"):
        GatewayEntry(id="gw-1", key_id=value, public_key=tmp_path / "k.pem", stations=["S1"])
    with pytest.raises(ValidationError, match="pattern"):
        UserEntry(username=value, password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")


@pytest.mark.parametrize("value", ["..", "../outside", "."])
def test_a_key_pair_is_never_written_outside_its_folder(value, tmp_path):
    keys = tmp_path / "keys"
    keys.mkdir()
    with pytest.raises(ValueError, match="key name"):
        write_key_pair(keys, value)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_station_ids_follow_the_rule():
    fields = dict(name="x", region="zj-hz-xh", interval_minutes=5, commissioned="2026-01-01")
    assert Station(id="ST-0001", **fields).id == "ST-0001"
    for bad in ("..", ".x", "a/b"):
        with pytest.raises(ValidationError, match="pattern"):
            Station(id=bad, **fields)
