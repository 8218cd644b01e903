"""Station tables for the three commands that read station CSVs (`watertel rates`, `watertel
alarms backtest`, `watertel cloud import FILE.csv`), as operators' spreadsheets save them: each
command's columns and rows, and the same table broken in one way (a bad cell, a column missing,
text in neither UTF-8 nor GB18030)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NEITHER = ('(encoding): neither UTF-8 nor GB18030 (GBK) text: bytes e9 0a cannot be read (save it in Excel as'
           ' "CSV UTF-8 (逗号分隔)", or convert it: iconv -f <encoding> -t UTF-8')


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
