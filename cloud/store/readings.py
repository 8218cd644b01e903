"""Readings out: the latest values, per-station totals, the raw rows the rates and the permits
count, and retention (deleting what is older than kept)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from watertel.cloud.store.database import Database
from watertel.readings import Quality, Reading

# The newest reading of each (station, point): a loose index scan over the readings' key (Readings.latest)
_NEXT_POINT = "(SELECT r.point FROM readings r WHERE r.station = k.station AND r.point > k.point ORDER BY r.point LIMIT 1)"
_NEXT_STATION = "(SELECT r.station FROM readings r WHERE r.station > k.station ORDER BY r.station LIMIT 1)"
LATEST = (
    "WITH RECURSIVE k(station, point) AS ("
    " SELECT station, point FROM (SELECT station, point FROM readings ORDER BY station, point LIMIT 1) first_key"
    f" UNION ALL SELECT CASE WHEN {_NEXT_POINT} IS NOT NULL THEN k.station ELSE {_NEXT_STATION} END,"
    f" coalesce({_NEXT_POINT}, (SELECT r.point FROM readings r WHERE r.station = {_NEXT_STATION} ORDER BY r.point LIMIT 1))"
    " FROM k WHERE k.station IS NOT NULL)"
    " SELECT r.station, r.point, r.t_ms, r.value, r.unit, r.quality FROM k JOIN readings r"
    " ON r.station = k.station AND r.point = k.point"
    " AND r.t_ms = (SELECT max(x.t_ms) FROM readings x WHERE x.station = k.station AND x.point = k.point)"
    " ORDER BY r.station, r.point")


def to_reading(row: tuple) -> Reading:
    s, p, t, v, u, q = row
    return Reading(s, p, t, math.nan if v is None else v, u, Quality(q))


class Readings(Database):
    # --- queries for the API, reports and the demo ---------------------------------------------
    def readings(self, station: str | None = None) -> list[Reading]:
        sql = "SELECT station, point, t_ms, value, unit, quality FROM readings"
        rows = self._rows(sql + (" WHERE station=?" if station else "") + " ORDER BY station, point, t_ms",
                          (station,) if station else ())
        return [to_reading(row) for row in rows]

    def latest(self) -> list[dict]:
        """The newest reading of every (station, point), by seeks on the readings' key, not a scan.

        A ``GROUP BY station, point`` reads every row: 1.9 s for a month of 200 stations, growing
        with the data (issue 9). The recursive query hops from one (station, point) to the next
        (the next point of this station, else the first of the next station: a key lookup each)
        and takes the newest row of each, so it costs per series, whatever the history kept."""
        rows = self._rows(LATEST)
        return [{"station": s, "point": p, "t_ms": t, "value": v, "unit": u, "quality": Quality(q).name}
                for s, p, t, v, u, q in rows]

    def station_stats(self) -> list[dict]:
        rows = self._rows(
            "SELECT station, count(*), count(*) FILTER (WHERE quality != 0), min(t_ms), max(t_ms),"
            " (SELECT count(*) FROM alarms a WHERE a.station = r.station AND a.state IN ('raised','acknowledged'))"
            " FROM readings r GROUP BY station ORDER BY station")
        keys = ("station", "readings", "faulty", "first_ms", "last_ms", "open_alarms")
        return [dict(zip(keys, row)) for row in rows]

    def counts(self, stations: list[str] | None = None, gateways: list[str] | None = None) -> dict:
        """Totals for the demo summary and the console header; ``stations`` and ``gateways``
        given: only theirs (a region-scoped user's): readings of those stations, envelopes and
        refusals of those gateways, alarms of either."""
        if stations is None and gateways is None:
            envelopes, stored = self._rows("SELECT count(*), coalesce(sum(n), 0) FROM envelopes")[0]
            readings = self._rows("SELECT count(*) FROM readings")[0][0]
            refused = dict(self._rows("SELECT reason, count(*) FROM quarantine GROUP BY reason"))
            alarms = dict(self._rows("SELECT type, count(*) FROM alarms GROUP BY type"))
        else:
            stations, gateways = list(stations or []), list(gateways or [])
            envelopes, stored = self._rows(f"SELECT count(*), coalesce(sum(n), 0) FROM envelopes WHERE gateway_id IN"
                                           f" ({_marks(gateways)})", tuple(gateways))[0]
            readings = self._rows(f"SELECT count(*) FROM readings WHERE station IN ({_marks(stations)})", tuple(stations))[0][0]
            refused = {}
            mine = set(gateways)
            for topic, reason, n in self._rows("SELECT topic, reason, count(*) FROM quarantine GROUP BY topic, reason"):
                if len(parts := topic.split("/")) > 1 and parts[-2] in mine:  # <prefix>/<gateway>/up
                    refused[reason] = refused.get(reason, 0) + n
            subjects = stations + gateways
            alarms = dict(self._rows(f"SELECT type, count(*) FROM alarms WHERE station IN ({_marks(subjects)})"
                                     " GROUP BY type", tuple(subjects)))
        return {"envelopes": envelopes, "readings_in_envelopes": int(stored), "readings": readings,
                "refused": refused, "alarms": alarms}

    def readings_stored_twice(self) -> int:
        """Readings stored more than once for one (station, point, sample time): 0 while the
        readings' key holds (the soak checks it)."""
        return self._rows("SELECT count(*) - count(DISTINCT station || '|' || point || '|' || t_ms) FROM readings")[0][0]

    def ping(self) -> None:
        """Raise if the database does not answer."""
        self._rows("SELECT 1")

    # --- data-quality rates (cloud/quality) -----------------------------------------------------
    def rate_rows(self, start_ms: int, end_ms: int, stations: list[str] | None = None,
                  batch: int = 50_000) -> Iterator[list[tuple[str, str, int, int, int]]]:
        """Batches of (station, point, t_ms, received_ms, quality) sampled in [start_ms, end_ms).

        Raw rows rather than SQL aggregates: the rates bucket them by each station's own
        interval and local day, which numpy does faster than a per-station SQL expression.
        A long station list is filtered by the caller instead (no statement with 10,000 params).
        """
        sql = "SELECT station, point, t_ms, received_ms, quality FROM readings WHERE t_ms >= ? AND t_ms < ?"
        params: tuple = (start_ms, end_ms)
        if stations is not None and len(stations) <= 500:
            sql += f" AND station IN ({','.join('?' * len(stations))})" if stations else " AND 1 = 0"
            params += tuple(stations)
        cur = self._execute(sql, params)
        while rows := cur.fetchmany(batch):
            yield rows

    def last_samples(self, before_ms: int) -> dict[str, int]:
        """Per station, the latest sample time before ``before_ms``: when it stopped reporting."""
        return dict(self._rows("SELECT station, max(t_ms) FROM readings WHERE t_ms < ? GROUP BY station", (before_ms,)))

    # --- withdrawal (cloud/permits/withdrawal.py) ------------------------------------------------
    def totaliser_rows(self, stations: list[str], points: list[str], start_ms: int,
                       end_ms: int) -> list[tuple[str, str, int, float, int]]:
        """(station, point, t_ms, value, quality) of these counter points sampled in [start_ms, end_ms),
        ordered by station, point and time (the readings' key, so an index range per point).

        Every listed point of every listed station: a caller wanting pairs filters the rest out.
        """
        out: list[tuple[str, str, int, float, int]] = []
        if not stations or not points:
            return out
        for i in range(0, len(stations), 500):
            chunk = stations[i:i + 500]
            out += self._rows(
                "SELECT station, point, t_ms, value, quality FROM readings WHERE station IN"
                f" ({','.join('?' * len(chunk))}) AND point IN ({','.join('?' * len(points))})"
                " AND t_ms >= ? AND t_ms < ? ORDER BY station, point, t_ms", (*chunk, *points, start_ms, end_ms))
        return out

    # --- retention (cloud/service.py) -------------------------------------------------------------
    def delete_readings_before(self, t_ms: int, limit: int = 5000, point: str | None = None,
                               except_points: tuple[str, ...] = ()) -> int:
        """Delete up to ``limit`` readings sampled before ``t_ms`` (retention); how many went.

        ``point``: only that point's readings; ``except_points``: not these (they have retention
        of their own). Small batches: each is its own short transaction, so ingest never waits long.
        """
        where, params = self._points_filter(point, except_points)
        with self._write():
            return self._execute(
                "DELETE FROM readings WHERE (station, point, t_ms) IN"
                f" (SELECT station, point, t_ms FROM readings WHERE t_ms < ?{where} LIMIT ?)",
                (t_ms, *params, limit)).rowcount

    @staticmethod
    def _points_filter(point: str | None, except_points: tuple[str, ...]) -> tuple[str, tuple]:
        """SQL (`` AND …``) and parameters selecting ``point``, or every point but ``except_points``."""
        if point is not None:
            return " AND point = ?", (point,)
        if except_points:
            return f" AND point NOT IN ({','.join('?' * len(except_points))})", tuple(except_points)
        return "", ()

    def delete_hours_before(self, hour_ms: int, limit: int = 5000) -> int:
        """Delete up to ``limit`` hour rollups (``point_hours``) of hours starting before ``hour_ms``."""
        with self._write():
            return self._execute(
                "DELETE FROM point_hours WHERE (station, point, hour_ms) IN"
                " (SELECT station, point, hour_ms FROM point_hours WHERE hour_ms < ? LIMIT ?)", (hour_ms, limit)).rowcount


def _marks(values: list) -> str:
    """``?, ?, …`` for an IN list (``NULL`` for none: ``x IN (NULL)`` holds for no row)."""
    return ", ".join("?" * len(values)) or "NULL"
