"""Who may report as a station and how the rtu-gateway makes room (issue 21, items 2 and 3), as
pure checks: the config's passwords and allow-lists, the sample-time window, the connection
table's choice of whom to drop. The attacks themselves are in tests/security/test_rtu_port.py."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import yaml

from watertel.config import ConfigError
from watertel.edge_agent.rtu_gateway.admission import Admission
from watertel.edge_agent.rtu_gateway.config import load_rtu_config, peer_address
from watertel.edge_agent.rtu_gateway.connections import Connection, ConnectionTable
from watertel.edge_agent.rtu_gateway.quiet import Quiet
from watertel.protocols import Protocol, sl651, szy206
from watertel.readings import Reading

from tests.support.rtu import SL, SL_PASSWORD, SZY, rtu_report, write_rtu_config


def _config(tmp_path, **station_changes):
    path = write_rtu_config(tmp_path, 1883)
    doc = yaml.safe_load(path.read_text())
    for index, changes in station_changes.items():
        station = doc["stations"][int(index[1:])]
        station.update({k: v for k, v in changes.items() if v is not None})
        for k in [k for k, v in changes.items() if v is None]:
            del station[k]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_an_sl651_station_needs_its_password(tmp_path):
    with pytest.raises(ConfigError, match=r"rtu.yaml:\d+: stations.1.password: an SL 651 station needs its password"):
        load_rtu_config(_config(tmp_path, s1={"password": None}))
    with pytest.raises(ConfigError, match=r"stations.1.password: .*an SL 651 password is 4 hex digits.*got 5 characters"):
        load_rtu_config(_config(tmp_path, s1={"password": "12345"}))
    assert load_rtu_config(_config(tmp_path, s1={"password": "a1b2"})).stations[1].password_value == 0xA1B2


def test_szy206_has_no_password_and_allow_lists_are_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"stations.0.password: .*SZY 206 uplink frames carry no password"):
        load_rtu_config(_config(tmp_path, s0={"password": "1234"}))
    with pytest.raises(ConfigError, match=r"stations.0.allow: .*'10.1.2.3/16' is not an address or network .*has host "
                                          r"bits set.*write 10.64.0.0/16"):
        load_rtu_config(_config(tmp_path, s0={"allow": ["10.1.2.3/16"]}))
    cfg = load_rtu_config(_config(tmp_path, s0={"allow": ["10.64.0.0/16", "2001:db8::/32", "203.0.113.7"]}))
    station = cfg.stations[0]
    assert station.allows(peer_address("10.64.200.1")) and station.allows(peer_address("::ffff:203.0.113.7"))
    assert station.allows(peer_address("2001:db8::5")) and not station.allows(peer_address("10.65.0.1"))
    assert not station.allows(peer_address("not an address")) and cfg.stations[1].allows(peer_address("192.0.2.1"))


def _conn(host: str, writer=None) -> Connection:
    return Connection(host, 40000, writer)


def test_admission_refuses_unknown_wrong_password_and_not_allowed_alike(tmp_path):
    cfg = load_rtu_config(_config(tmp_path, s0={"allow": ["127.0.0.2"]}))
    stats = Counter()
    admission = Admission(cfg, stats, Quiet())
    conn, other = _conn("127.0.0.2"), _conn("127.0.0.1")
    szy = szy206.decode(rtu_report(Protocol.SZY206, SZY, 1))
    assert admission.station(Protocol.SZY206, szy, conn).station == "ST-SZY"
    assert admission.station(Protocol.SZY206, szy, other) is None  # not in its allow-list
    sl = sl651.decode(rtu_report(Protocol.SL651, SL, 1))
    assert admission.station(Protocol.SL651, sl, other).station == "ST-SL" and sl.password == int(SL_PASSWORD, 16)
    wrong = sl651.decode(rtu_report(Protocol.SL651, SL, 1, password="0000"))
    unknown = sl651.decode(rtu_report(Protocol.SL651, "0011223355", 1))
    assert admission.station(Protocol.SL651, wrong, other) is None
    assert admission.station(Protocol.SL651, unknown, other) is None
    assert (stats["not_allowed"], stats["wrong_password"], stats["unknown_address"]) == (1, 1, 1)
    assert other.failures == 3 and conn.failures == 0


def test_sample_times_outside_the_window_are_refused(tmp_path):
    cfg = load_rtu_config(write_rtu_config(tmp_path, 1883, max_sample_age_s=3600, max_sample_ahead_s=60))
    stats = Counter()
    admission, entry, now = Admission(cfg, stats, Quiet()), cfg.stations[0], 1_800_000_000.0

    def at(*offsets_s: float) -> list[Reading]:
        return [Reading("ST-SZY", "flow", int((now + s) * 1000), 1.0, "m3/h") for s in offsets_s]

    assert admission.in_window(entry, at(-3600, 0, 60), now)
    assert not admission.in_window(entry, at(0, 61), now)  # one reading ahead refuses the report
    assert not admission.in_window(entry, at(-3601), now)
    year_2041 = 2_248_000_000 - now  # the frame dated 2041
    assert not admission.in_window(entry, at(year_2041), now) and stats["out_of_window"] == 3


def test_a_full_table_drops_the_oldest_never_logged_in_first():
    table = ConnectionTable(max_total=4, max_per_address=2)
    a1, a2, b1, c1 = _conn("10.0.0.1"), _conn("10.0.0.1"), _conn("10.0.0.2"), _conn("10.0.0.3")
    for conn in (a1, a2, b1, c1):
        assert table.admit(conn) == []
    table.heard(a1)  # a station logged in on a1
    a3 = _conn("10.0.0.1")
    assert table.admit(a3) == [a2]  # its address is full: the one not logged in goes, not a1
    d1 = _conn("10.0.0.4")
    assert table.admit(d1) == [b1]  # the gateway is full: the oldest not logged in
    for conn in (c1, a3, d1):
        table.heard(conn)
    time.sleep(0.001)
    table.heard(a1)  # heard last: the longest silent is now c1
    assert table.admit(_conn("10.0.0.5")) == [c1] and len(table) == 4
    assert {conn.host for conn in table} == {"10.0.0.1", "10.0.0.4", "10.0.0.5"}


def test_password_guessing_locks_the_guessing_address_out_of_the_station(tmp_path):
    cfg = load_rtu_config(write_rtu_config(tmp_path, 1883, max_password_failures=3, password_lockout_s=600))
    stats = Counter()
    admission = Admission(cfg, stats, Quiet())
    guesser, rtu = _conn("198.51.100.9"), _conn("203.0.113.7")
    right = sl651.decode(rtu_report(Protocol.SL651, SL, 1))
    for guess in ("0000", "0001", "0002"):
        assert admission.station(Protocol.SL651, sl651.decode(rtu_report(Protocol.SL651, SL, 1, password=guess)),
                                 guesser) is None
    assert admission.station(Protocol.SL651, right, guesser) is None  # the right one, too late
    assert admission.station(Protocol.SL651, right, rtu).station == "ST-SL"  # the RTU's own address goes on
    assert (stats["wrong_password"], stats["lockouts"], stats["locked_out"]) == (3, 1, 1)
