"""The three commands that read station CSVs (`watertel rates`, `watertel alarms backtest`,
`watertel cloud import FILE.csv`) on the files operators actually have: saved by Excel on Chinese
Windows (GBK) or as "CSV UTF-8" (BOM), with a bad cell, a column missing, empty, missing, or in
neither encoding. Each either works or prints one clear line and exits 1: never a traceback, and
an import writes nothing. Run through the command line's own ``main`` (in process: no subprocess),
plus one real ``python -m watertel`` for the traceback check."""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from watertel.cloud.registry import load_registry
from watertel.shell.cli import main

GB18030_WARNING = "not UTF-8, read as GB18030 (GBK, as Excel on Chinese Windows saves CSV); check that names read right"
NEITHER = ('(encoding): neither UTF-8 nor GB18030 (GBK) text: bytes e9 0a cannot be read (save it in Excel as'
           ' "CSV UTF-8 (逗号分隔)", or convert it: iconv -f <encoding> -t UTF-8')
INT = "Input should be a valid integer, unable to parse string as an integer, got 'sixty' (write a whole number)"


@dataclass
class Command:
    """A command, the station table it reads (header, rows) and the column a broken file lacks."""

    name: str
    header: list[str]
    rows: list[list[str]]
    drop: str

    def argv(self, tmp_path: Path, table: Path) -> list[str]:
        if self.name == "rates":
            arrivals = tmp_path / "arrivals.csv"
            arrivals.write_text("station,sample_time,received_time,flag\nA,2026-10-01T00:00,2026-10-01T00:00:05,\n"
                                "B,2026/10/1 1:00,2026/10/1 1:00,ok\n", encoding="utf-8")
            return ["rates", "--arrivals", str(arrivals), "--stations", str(table), "--period", "2026-10-01/2026-10-02"]
        if self.name == "backtest":
            readings = tmp_path / "readings.csv"
            readings.write_text("station,point,sample_time,value,quality\nA,turbidity,2026-11-01T00:00,0.3,ok\n",
                                encoding="utf-8")
            return ["alarms", "backtest", "--readings", str(readings), "--stations", str(table)]
        config = tmp_path / "cloud.yaml"
        config.write_text("data_dir: data\nregistry_file: registry.yaml\n", encoding="utf-8")
        (tmp_path / "registry.yaml").write_text("provinces: []\n", encoding="utf-8")
        return ["cloud", "import", str(table), "--config", str(config)]


COMMANDS = [
    Command("rates", ["station", "region", "interval_minutes", "commissioned", "decommissioned", "name"],
            [["A", "浙江/杭州/西湖", "60", "", "", "三墩水厂"], ["B", "浙江/杭州/余杭", "60", "2026/9/1", "", "老井"]],
            "interval_minutes"),
    Command("backtest", ["station", "region", "kind", "interval_minutes", "name"],
            [["A", "浙江/杭州/西湖", "quality", "60", "三墩水厂"], ["B", "浙江/杭州/余杭", "well", "60", "老井"]],
            "interval_minutes"),
    Command("import", ["id", "name", "province", "province_name", "city", "city_name", "region", "region_name", "kind",
                       "interval_minutes", "commissioned"],
            [["ST-1", "三墩取水口", "zj", "浙江省", "zj-hz", "杭州市", "zj-hz-xh", "西湖区", "intake", "60", "2026-10-10"],
             ["ST-2", "余杭水厂", "zj", "浙江省", "zj-hz", "杭州市", "zj-hz-yh", "余杭区", "plant", "60", "2026/1/1"]],
            "commissioned"),
]


def text(command: Command, case: str) -> str:
    header, rows = list(command.header), [list(r) for r in command.rows]
    if case == "bad cell":
        rows[1][header.index("interval_minutes")] = "sixty"
    if case == "missing column":
        at = header.index(command.drop)
        header, rows = header[:at] + header[at + 1:], [r[:at] + r[at + 1:] for r in rows]
    if case == "neither":  # a Latin-1 export (no Chinese in it): its "é" is neither UTF-8 nor GB18030
        rows = [[c if c.isascii() else "x" for c in r] for r in rows]
        rows[1][-1] = "café"
    return "".join(",".join(line) + "\n" for line in [header, *rows])


ENCODED = {"gbk": "gbk", "bom": "utf-8-sig", "neither": "latin-1", "bad cell": "utf-8", "missing column": "utf-8"}


@pytest.fixture
def restore_logging():
    """``main`` sets up logging for the process: put the test runner's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
@pytest.mark.parametrize("case", ["gbk", "bom"])
def test_excel_files_are_read_whatever_they_were_saved_as(tmp_path, capsys, restore_logging, command, case):
    table = tmp_path / "stations.csv"
    table.write_bytes(text(command, case).encode(ENCODED[case]))
    code, out, err = run(command.argv(tmp_path, table), capsys)
    assert code == 0, err
    assert (f'msg="{table}: {GB18030_WARNING}"' in err) == (case == "gbk")
    if command.name == "rates":
        names = {s["station"]: (s["name"], s["region"]) for s in json.loads(out)["stations"]}
        assert names == {"A": ("三墩水厂", "浙江/杭州/西湖"), "B": ("老井", "浙江/杭州/余杭")}
    if command.name == "import":
        registry = load_registry(tmp_path / "registry.yaml")
        assert [(s.name, s.commissioned) for s in registry.stations] == [("三墩取水口", dt.date(2026, 10, 10)),
                                                                       ("余杭水厂", dt.date(2026, 1, 1))]
        assert registry.names["zj-hz-yh"] == "余杭区"


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
@pytest.mark.parametrize("case", ["bad cell", "missing column", "empty", "missing", "neither"])
def test_a_broken_station_file_is_one_clear_line_and_exit_1(tmp_path, capsys, restore_logging, command, case):
    table = tmp_path / "stations.csv"
    if case == "empty":
        table.write_bytes(b"")
    elif case != "missing":
        table.write_bytes(text(command, case).encode(ENCODED[case]))
    required = {"rates": "station,region,interval_minutes,commissioned,decommissioned",
                "backtest": "station,region,kind,interval_minutes", "import": "id,region,commissioned"}[command.name]
    expected = {
        "bad cell": f"{table}:3: interval_minutes: {INT}",
        "missing column": f"{table}:1: {command.drop}: required column is missing (the header needs at least {required})",
        "empty": f"{table}:1: (header): the file is empty (write a header line naming the columns, at least: {required})",
        "missing": f"{table}: cannot read (No such file or directory)" if command.name == "import"
                   else f"error: {table}: no such file",
        "neither": f"{table}:3: {NEITHER} {table} > {tmp_path / 'stations'}-utf8.csv)",
    }[case]
    argv = command.argv(tmp_path, table)
    code, out, err = run(argv, capsys)
    assert (code, out, err.splitlines()) == (1, "", [expected])
    if command.name == "import":  # nothing written, not even with --dry-run left out
        assert (tmp_path / "registry.yaml").read_text(encoding="utf-8") == "provinces: []\n"
        assert not (tmp_path / "registry.yaml.bak").exists()


def test_the_real_command_line_prints_no_traceback(tmp_path):
    table = tmp_path / "stations.csv"
    table.write_bytes(text(COMMANDS[0], "neither").encode("latin-1"))
    done = subprocess.run([sys.executable, "-m", "watertel", *COMMANDS[0].argv(tmp_path, table)], capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"{table}:3: {NEITHER}") and "Traceback" not in done.stderr
