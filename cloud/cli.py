"""The cloud's subcommands: `cloud` (the service and its upkeep), `audit`, `broker`, `report`,
`rates` (offline) and `alarms` (backtest). Declarations only; each handler is named as
``"module:function"`` and imported when its command runs."""

from __future__ import annotations

import argparse

ACTIONS = "watertel.cloud.actions"
REPORTS = "watertel.cloud.report_actions"
CSV_NOTE = ("CSV files: UTF-8 (with or without a BOM), or GB18030/GBK as Excel on Chinese Windows saves them"
            " (a warning says so); another encoding is refused with the fix. Dates and times: ISO 8601 or Excel's"
            " 2026/10/1 8:05. Every bad cell is listed as file:line: column: problem (fix). Reader: cloud/csv_tables.")


def add_parser(sub: argparse._SubParsersAction) -> None:
    _add_cloud(sub)

    p = sub.add_parser("audit", help="the API's audit log")
    p.add_argument("action", choices=["verify"], help="verify: check its SM3 hash chain (exit 1 at the first broken row)")
    p.add_argument("--config", required=True, help="cloud YAML")
    p.set_defaults(handler=f"{ACTIONS}:audit")

    p = sub.add_parser("broker", help="the embedded MQTT broker (amqtt), loopback only")
    p.add_argument("--listen", default="127.0.0.1:1883", help="HOST:PORT (default: %(default)s)")
    p.set_defaults(handler=f"{ACTIONS}:broker")

    _add_report(sub)

    p = sub.add_parser("rates", help="data-quality rates offline, from CSV files of arrivals and stations",
                       epilog=CSV_NOTE + " Formats: cloud/quality/offline.py.")
    p.add_argument("--arrivals", required=True, help="CSV: station,sample_time,received_time,flag[,point]")
    p.add_argument("--stations", required=True,
                   help="CSV: station,region (province/city/county),interval_minutes,commissioned,decommissioned")
    p.add_argument("--period", required=True, help="START/END as ISO dates, END excluded (or YYYY-MM, YYYY-Qn, …)")
    p.add_argument("--region", help="only this region path (e.g. zj/hz)")
    p.add_argument("--config", help="cloud YAML whose quality: section sets targets and rules (default: built-in)")
    p.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
    p.add_argument("--out", help="write to this file instead of standard output")
    p.set_defaults(handler=f"{REPORTS}:rates_offline")

    p = sub.add_parser("alarms", help="alarm rules offline: backtest them over historical readings (CSV)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("backtest", help="the alarms the rules would have raised over --readings (JSON or CSV);"
                           " formats in cloud/alarms/backtest.py", epilog=CSV_NOTE)
    a.add_argument("--readings", required=True, help="CSV: station,point,sample_time,value,quality[,unit]")
    a.add_argument("--stations", required=True, help="CSV: station,region,kind,interval_minutes"
                   "[,permit_m3,permit_year_start,area,area_role]")
    a.add_argument("--rules", help="YAML: the alarms: section (or a cloud config); default: the built-in rules")
    a.add_argument("--format", choices=["json", "csv"], default="json")
    a.add_argument("--tz", default="Asia/Shanghai", help="time zone of times without an offset (default: %(default)s)")
    a.set_defaults(handler="watertel.cloud.alarms.cli:run")


def _add_cloud(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cloud", help="the cloud service: ingest, store, alarms, API and console")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help: str, handler: str, config: bool = True) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help)
        if config:
            a.add_argument("--config", required=True, help="cloud YAML (see deploy/cloud.example.yaml)")
        a.set_defaults(handler=f"{ACTIONS}:{handler}")
        return a

    action("run", "ingest + API and console in one process", "service")
    a = action("ingest", "one ingest worker (several share one MQTT subscription and scale out)", "service")
    a.add_argument("--worker", help="this worker's name, appended to mqtt.client_id (e.g. 1, 2, …)")
    a.add_argument("--metrics-port", type=int, help="serve Prometheus /metrics on 127.0.0.1:PORT")
    action("api", "the API and console alone (beside ingest workers)", "service")
    action("check", "validate a cloud config without starting", "check")
    action("hash-password", "hash a console password (argon2) read from the terminal or stdin", "hash_password",
           config=False)
    a = action("backup", "an online copy of the store while ingest runs", "backup")
    a.add_argument("file", nargs="?", help="the backup file to write (or --out)")
    a.add_argument("--out", help="the backup file to write")
    a = action("restore", "a backup into an empty store", "restore")
    a.add_argument("file", help="the backup file")
    a.add_argument("--force", action="store_true", help="replace what the store holds")
    a = action("command", "a signed command to one gateway, and its signed answer", "command")
    a.add_argument("file", metavar="NAME", help="read_now, set_poll_interval, write_point, set_config, check_clock,"
                   " set_time or resend")
    a.add_argument("--gateway", required=True, help="the gateway id")
    a.add_argument("--args", default="{}", help='its arguments as JSON, e.g. \'{"device": "fm-1"}\'')
    a.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the answer (default: %(default)s)")
    action("migrate", "upgrade the store's schema", "migrate")
    a = action("fleet", "every gateway's version, config, clock, buffer and last contact", "fleet")
    a.add_argument("--json", action="store_true", help="print JSON")
    a = action("rollout", "push an edge config to gateways as signed set_config, in stages", "fleet")
    a.add_argument("--gateways", required=True, help="gateway ids, a glob such as 'gw-*'")
    a.add_argument("--file", dest="push_file", required=True, help="the edge YAML to push (${gateway} becomes each id)")
    a.add_argument("--stage", type=int, default=1, help="gateways that must succeed before the rest (default: 1)")
    a.add_argument("--timeout", type=float, default=300.0, help="seconds per gateway (default: %(default)s)")
    a = action("export", "the station registry as YAML or CSV", "registry")
    a.add_argument("--format", choices=["yaml", "csv"], default="yaml", help="yaml (the registry file's format) or csv")
    a.add_argument("--out", help="write here instead of standard output")
    a = action("import", "replace the registry from a .yaml or .csv (validated first, previous kept as .bak)",
               "registry")
    a.epilog = CSV_NOTE + " Columns: cloud/registry_csv.py."
    a.add_argument("file", help="the registry to import (.yaml, or .csv: one row per station)")
    a.add_argument("--dry-run", action="store_true", help="validate and show the changes, write nothing")


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="reports from the cloud store")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("summary", help="per-station totals")
    a.add_argument("--config", required=True, help="cloud YAML")
    a.add_argument("--format", choices=["json", "csv"], default="json")
    a.set_defaults(handler=f"{REPORTS}:summary")
    a = actions.add_parser("rates", help="completeness, upload, timeliness and abnormal rates per station and region")
    a.add_argument("--config", required=True, help="cloud YAML")
    a.add_argument("--format", choices=["json", "csv", "xlsx"], default="json")
    a.add_argument("--period", required=True,
                   help="YYYY-MM-DD, YYYY-MM, YYYY-Qn or FROM..TO (local calendar, TO included)")
    a.add_argument("--region", help="only this province, city or county (its id in the registry)")
    a.add_argument("--out", help="write to this file instead of standard output (needed for xlsx on a terminal)")
    a.add_argument("--from-raw", action="store_true",
                   help="count from the raw readings instead of the day rollups (a check: same figures)")
    a.set_defaults(handler=f"{REPORTS}:rates")
    a = actions.add_parser("permits", help="withdrawal against each permit, tier and projected exceedance")
    a.add_argument("--config", required=True, help="cloud YAML")
    a.add_argument("--format", choices=["json", "csv"], default="json")
    a.add_argument("--year", type=int, help="the permit year starting in this calendar year (default: now)")
    a.set_defaults(handler=f"{REPORTS}:permits")
