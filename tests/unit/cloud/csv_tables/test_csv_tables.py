"""The cloud's one CSV reader (cloud/csv_tables): encodings, header, line numbers, problems
``file:line: column: problem (fix)`` collected across the file, the shared cell parsers and
station columns. No sockets, no subprocesses."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from watertel.cloud.csv_tables import CellError, open_table
from watertel.cloud.csv_tables import cells, encoding, reader
from watertel.cloud.csv_tables.stations import PathRegistry, path_stations
from watertel.errors import ConfigError
from watertel.readings import Quality

SH = ZoneInfo("Asia/Shanghai")
STATIONS = "station,region,interval_minutes,name\nA,浙江/杭州/西湖,60,三墩水厂\nB,浙江/杭州/余杭,5,老井\n"
FIX = r'\(save it in Excel as "CSV UTF-8 \(逗号分隔\)"'


def write(tmp_path: Path, data: str | bytes, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def rows(path: Path, required: tuple[str, ...] = ("station",), known: tuple[str, ...] | None = None) -> list:
    with open_table(path, required, known) as table:
        found = [(row.line, dict(row)) for row in table]
    table.problems.raise_if_any()
    return found


# --- encodings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("codec, expected", [
    ("utf-8", encoding.UTF8),
    ("utf-8-sig", encoding.UTF8),  # Excel's "CSV UTF-8" starts with a BOM
    ("gbk", encoding.GB18030),  # Excel's "CSV (逗号分隔)" on Chinese Windows
    ("gb18030", encoding.GB18030),
])
def test_utf8_with_or_without_bom_and_gbk_read_the_same(tmp_path, codec, expected, caplog):
    path = write(tmp_path, STATIONS.encode(codec))
    with caplog.at_level(logging.WARNING), open_table(path, ("station", "region")) as table:
        assert table.encoding == expected and table.columns == ["station", "region", "interval_minutes", "name"]
        got = [(row.line, row["station"], row["region"], row["name"]) for row in table]
    assert got == [(2, "A", "浙江/杭州/西湖", "三墩水厂"), (3, "B", "浙江/杭州/余杭", "老井")]
    warned = [r.getMessage() for r in caplog.records if r.name == reader.__name__]
    if expected == encoding.GB18030:  # said, so names read wrong from a third encoding are noticed
        assert warned == [f"{path}: not UTF-8, read as GB18030 (GBK, as Excel on Chinese Windows saves CSV);"
                          " check that names read right"]
    else:
        assert warned == []


def test_a_gbk_character_far_into_the_file_is_found_before_any_row_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(encoding, "CHUNK", 16)  # many chunks, each ending on a line break
    body = "station,name\n" + "".join(f"S{i},plain\n" for i in range(50)) + "S50,余杭\n"
    path = write(tmp_path, body.encode("gbk"))
    assert rows(path)[-1] == (52, {"station": "S50", "name": "余杭"})


@pytest.mark.parametrize("data, message", [
    ("station,name\nA,café,x\n".encode("latin-1"),
     r"t.csv:2: \(encoding\): neither UTF-8 nor GB18030 \(GBK\) text: bytes e9 2c 78 0a cannot be read "
     + FIX + r", or convert it: iconv -f <encoding> -t UTF-8 .*t.csv > .*t-utf8.csv\)$"),
    ("station,name\nA,x\n".encode("utf-16"),
     r't.csv:1: \(encoding\): UTF-16 text \(what Excel saves as "Unicode Text"\) ' + FIX
     + r", or convert it: iconv -f UTF-16 -t UTF-8 "),
    ("station\nA\n".encode("utf-16-le"),  # no BOM: every other byte is NUL
     r"t.csv:1: \(encoding\): neither UTF-8 nor GB18030 \(GBK\) text: a NUL byte \(binary data, or UTF-16 without"
     r" a BOM\) " + FIX),
    (b"PK\x03\x04\x14\x00\x06\x00", r"t.csv:1: \(encoding\): an Excel workbook \(.xlsx\) or another zip file, not CSV"
                                    r" text " + FIX + r"\)$"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1", r"t.csv:1: \(encoding\): an old Excel workbook \(.xls\), not CSV text " + FIX),
])
def test_a_file_in_neither_encoding_is_refused_with_its_line_and_the_fix(tmp_path, data, message):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=message) as err:
        rows(path)
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith(f"{path}:")


def test_a_missing_file_and_a_folder_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'none.csv'}: cannot read (No such file or directory)")):
        rows(tmp_path / "none.csv")
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path}: cannot read (Is a directory)")):
        rows(tmp_path)


# --- header ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, known, problems", [
    ("", None, [":1: (header): the file is empty (write a header line naming the columns, at least: station,region)"]),
    ("\n\nA,b\n", None, [":1: (header): the first line names no column (write a header line naming the columns,"
                         " at least: station,region)"]),
    ("station,name\nA,x\n", None, [":1: region: required column is missing (the header needs at least station,region)"]),
    ("name,colour,station,region\n", ("station", "region", "name"),
     [":1: colour: unknown column (the columns are: station, region, name)"]),
    ("station,region,station\n", None, [":1: station: column given twice (keep one)"]),
])
def test_header_problems_name_the_column_and_the_fix(tmp_path, text, known, problems):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        rows(path, ("station", "region"), known)
    assert err.value.problems == [f"{path}{p}" for p in problems]


def test_header_names_are_stripped_and_empty_trailing_columns_ignored(tmp_path):
    path = write(tmp_path, " station , region ,,\nA,p,,\n")
    assert rows(path, ("station", "region"), ("station", "region")) == [(2, {"station": "A", "region": "p", "": ""})]


# --- rows and their lines ----------------------------------------------------------------------


def test_rows_carry_the_line_they_start_on(tmp_path):
    """A quoted cell may span lines; blank lines and rows of empty cells are skipped, yet counted."""
    path = write(tmp_path, 'station,note\r\nA,"two\r\nlines"\r\n\r\n,\r\n  B , spaced \r\nC\r\n')
    assert rows(path) == [(2, {"station": "A", "note": "two\r\nlines"}), (6, {"station": "B", "note": "spaced"}),
                          (7, {"station": "C"})]
    with open_table(path, ("station",)) as table:
        assert [row["note"] for row in table][-1] == ""  # a column the row lacks reads as empty


def test_extra_cells_are_a_problem_unless_empty(tmp_path):
    path = write(tmp_path, "station,name\nA,x,,\nB,Hangzhou, Zhejiang,1\n")
    with pytest.raises(ConfigError) as err:
        rows(path)
    assert err.value.problems == [f"{path}:3: (extra cells): 2 more cells than the header's 2 columns ('Zhejiang', '1')"
                                  " (quote cells that contain commas)"]


def test_problems_are_collected_across_the_file_and_capped(tmp_path):
    path = write(tmp_path, "station,value\n" + "".join(f"S{i},x{i}\n" for i in range(25)))
    with open_table(path, ("station", "value")) as table:
        values = [row.parse("value", cells.number) for row in table]
    assert values == [None] * 25
    with pytest.raises(ConfigError) as err:
        table.problems.raise_if_any()
    lines = err.value.problems
    assert len(lines) == reader.MAX_PROBLEMS + 1
    assert lines[0] == f"{path}:2: value: 'x0' is not a number (write e.g. 12.5)"
    assert lines[19] == f"{path}:21: value: 'x19' is not a number (write e.g. 12.5)"
    assert lines[20] == f"{path}: … and 5 more"


def test_parse_leaves_empty_cells_to_the_caller_unless_required(tmp_path):
    path = write(tmp_path, "station,sample_time\nA,\n")
    with open_table(path, ("station",)) as table:
        (row,) = list(table)
        assert row.parse("sample_time", cells.time_ms, SH) is None and not row.bad
        assert row.parse("sample_time", cells.time_ms, SH, required=True) is None and row.bad
    with pytest.raises(ConfigError, match=rf"t.csv:2: sample_time: '' is not a time \(write ISO 8601"):
        table.problems.raise_if_any()


# --- cells -------------------------------------------------------------------------------------


def ms(*args: int, tz: dt.tzinfo = SH) -> int:
    return int(dt.datetime(*args, tzinfo=tz).timestamp() * 1000)


@pytest.mark.parametrize("parser, text, expected", [
    (lambda t: cells.time_ms(t, SH), "2026-10-01T08:05:00+08:00", ms(2026, 10, 1, 8, 5)),
    (lambda t: cells.time_ms(t, SH), "2026-10-01T00:05:00Z", ms(2026, 10, 1, 8, 5)),
    (lambda t: cells.time_ms(t, SH), "2026-10-01 08:05", ms(2026, 10, 1, 8, 5)),  # no offset: local in the zone
    (lambda t: cells.time_ms(t, ZoneInfo("UTC")), "2026-10-01T08:05", ms(2026, 10, 1, 8, 5, tz=dt.timezone.utc)),
    (lambda t: cells.time_ms(t, SH), "2026/10/1 8:05", ms(2026, 10, 1, 8, 5)),  # Excel, Chinese locale
    (lambda t: cells.time_ms(t, SH), "2026/10/1 8:05:07", ms(2026, 10, 1, 8, 5, 7)),
    (lambda t: cells.time_ms(t, SH), "2026/10/1", ms(2026, 10, 1)),
    (cells.moment, "2026-10-10", dt.date(2026, 10, 10)),
    (cells.moment, "2026/10/1", dt.date(2026, 10, 1)),
    (cells.moment, "2026-10-10T08:00+08:00", dt.datetime(2026, 10, 10, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))),
    (cells.number, "12.5", 12.5), (cells.number, "-3", -3.0), (cells.number, "1e3", 1000.0),
    (cells.quality, "", Quality.OK), (cells.quality, "OK", Quality.OK), (cells.quality, "Timeout", Quality.TIMEOUT),
    (cells.region_path, "zj/hz/xh", "zj/hz/xh"), (cells.region_path, " 浙江 / 杭州 ", "浙江/杭州"),
    (cells.items, "flow; total;;", ["flow", "total"]),
])
def test_cells_read(parser, text, expected):
    assert parser(text) == expected


@pytest.mark.parametrize("parser, text, message", [
    (lambda t: cells.time_ms(t, SH), "yesterday", r"^'yesterday' is not a time \(write ISO 8601, e.g. "
                                                  r"2026-10-01T08:05:00\+08:00; without an offset it is local time in Asia/Shanghai\)$"),
    (lambda t: cells.time_ms(t, SH), "2026/13/1 8:00", r"^'2026/13/1 8:00' is not a time"),
    (cells.moment, "2026-13-01", r"^'2026-13-01' is not a date \(write YYYY-MM-DD, or a date-time such as"),
    (cells.number, "seven", r"^'seven' is not a number \(write e.g. 12.5\)$"),
    (cells.number, "nan", r"^'nan' is not a finite number \(leave the cell empty when there is no value\)$"),
    (cells.quality, "broken", r"^'broken' is not a quality \(use ok or one of timeout, "),
    (cells.region_path, "zj//xh", r"^'zj//xh' is not a path like province/city/county \(1 to 3 names separated by /\)$"),
    (cells.region_path, "a/b/c/d", r"^'a/b/c/d' is not a path"),
    (cells.region_path, "", r"^'' is not a path"),
])
def test_bad_cells_say_why_and_how_to_fix(parser, text, message):
    with pytest.raises(CellError, match=message):
        parser(text)


# --- the shared station columns ----------------------------------------------------------------


def test_path_stations_parse_the_shared_columns_once_per_station(tmp_path):
    path = write(tmp_path, "station,region,interval_minutes,commissioned,decommissioned,points,kind\n"
                           "A,zj/hz/xh,60,,2026/12/1,flow;total,tower\n"
                           "B,zj/hz/yh,5,2026-10-10T08:00+08:00,,,\n"
                           "A,zj/hz/xh,60,,,,\n"
                           "C,zj/hz,0,2026-13-01,,,\n")
    columns = ("interval_minutes", "commissioned", "decommissioned", "points")  # kind: not read by this table
    with open_table(path, ("station", "region")) as table:
        found = {st.id: (row.line, st) for row, st in path_stations(table, columns, dt.date(2026, 1, 1))}
    a, b = found["A"][1], found["B"][1]
    assert (a.region, a.commissioned, a.decommissioned, a.points) == ("zj/hz/xh", dt.date(2026, 1, 1),
                                                                      dt.date(2026, 12, 1), ["flow", "total"])
    assert b.commissioned == dt.datetime(2026, 10, 10, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with pytest.raises(ConfigError) as err:
        table.problems.raise_if_any()
    assert err.value.problems == [
        f"{path}:4: station: 'A' already on line 2 (one row per station)",
        f"{path}:5: commissioned: '2026-13-01' is not a date (write YYYY-MM-DD, or a date-time such as"
        " 2026-10-10T08:00+08:00)",
        f"{path}:5: interval_minutes: Input should be greater than 0, got '0' (use a number > 0)",
    ]
    registry = PathRegistry.of([a, b])
    assert registry.regions() == ["zj", "zj/hz", "zj/hz/xh", "zj/hz/yh"]
    assert (registry.levels["zj/hz"], registry.names["zj/hz/yh"], registry.path("zj/hz/xh")) == ("city", "yh", "zj/hz/xh")
