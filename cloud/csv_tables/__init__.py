"""The one CSV reader of the cloud: station tables and readings, for `watertel rates`, `watertel alarms
backtest` and `watertel cloud import FILE.csv`.

* ``reader.py``: open a table (:func:`open_table`), check its header, give its rows with their
  line numbers (:class:`Row`), collect :class:`Problems` across the whole file, each one line
  ``file:line: column: problem (fix)``, raised together as a ``ConfigError`` (the CLI prints them
  and exits 1, never a traceback).
* ``encoding.py``: **UTF-8**, with or without the BOM Excel writes; a file that is not UTF-8 but
  reads as **GB18030** (which contains GBK, what Excel on Chinese Windows saves as "CSV (逗号分隔)")
  is read as such, with a warning naming the file; anything else (UTF-16, a workbook renamed
  to .csv, binary) is refused with its line and the fix (save as "CSV UTF-8", or ``iconv``).
* ``cells.py``: the cell parsers every table shares (times with a default time zone, service
  dates, numbers, quality flags, region paths, ``;`` lists), raising :class:`CellError`.
* ``stations.py``: the station columns the three station tables share (id, name, kind, interval,
  points, service dates; region paths and ``PathRegistry`` for the offline commands).

What a table has of its own stays beside its user: ``cloud/registry_csv.py`` (region chain,
maintenance, permits, meters, plans), ``cloud/alarms/backtest_csv.py`` (permit and area columns,
readings), ``cloud/quality/offline.py`` (arrivals).
"""

from watertel.cloud.csv_tables.cells import CellError
from watertel.cloud.csv_tables.reader import CsvTable, Problems, Row, open_table

__all__ = ["CellError", "CsvTable", "Problems", "Row", "open_table"]
