"""The three commands that read station CSVs (`watertel rates`, `watertel alarms backtest`,
`watertel cloud import FILE.csv`) on the files operators actually have: saved by Excel on Chinese
Windows (GBK) or as "CSV UTF-8" (BOM), with a bad cell, a column missing, empty, missing, or in
neither encoding. Each either works or prints one clear line and exits 1: never a traceback, and
an import writes nothing. Run through the command line's own ``main`` (in process: no subprocess).

This file holds the tests that need no server and start no process; the others (one real
``python -m watertel`` for the traceback check) are in
tests/integration/cloud/csv_tables/test_csv_commands.py."""

from __future__ import annotations

import datetime as dt
import json
import logging

import pytest

from watertel.cloud.registry import load_registry
from watertel.shell.cli import main

from tests.support.csv_commands import COMMANDS, NEITHER, text

GB18030_WARNING = "not UTF-8, read as GB18030 (GBK, as Excel on Chinese Windows saves CSV); check that names read right"
INT = "Input should be a valid integer, unable to parse string as an integer, got 'sixty' (write a whole number)"
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

