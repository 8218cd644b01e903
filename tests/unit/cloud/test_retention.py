"""Retention (cloud/service.py apply_retention, RetentionConfig) on SQLite and a real PostgreSQL:
raw readings by age with per-point overrides, hour rollups by age, exactly what it should and
nothing else; the rollups of hours whose raw data is gone stay as they were when a later refresh
redoes their day; and the config keys' checks.

This file holds the tests that need no server and start no process; the others are in
tests/integration/cloud/test_retention.py."""

from __future__ import annotations

import shutil

import pytest

from watertel.cloud.service import retention_cutoff
from watertel.config import ConfigError

from tests.support.paths import ROOT
from tests.support.quality import DAY, HOUR


def test_cutoffs_fall_on_whole_hours():
    assert retention_cutoff(1, 10 * HOUR + 59 * 60_000) == 10 * HOUR - DAY
    assert retention_cutoff(0.5, DAY) == DAY // 2


def test_retention_keys_are_checked_with_file_and_key(tmp_path):
    from watertel.cloud.config import load_cloud_config

    path = tmp_path / "cloud.yaml"
    path.write_text("data_dir: d\nretention: {raw_days: 400, raw_days_by_point: {turbidity: 90}}\n")
    r = load_cloud_config(path).retention
    assert (r.raw_days, r.raw_days_by_point, r.hourly_days) == (400, {"turbidity": 90}, 3650)
    for text, message in [
        ("{raw_days: 4000}", r"hourly_days \(3650\) is shorter than raw_days \(4000\).*raise hourly_days"),
        ("{raw_days: 10, raw_days_by_point: {total: 800}, hourly_days: 700}", r"raw_days_by_point.total \(800\)"),
        ("{raw_days_by_point: {Turbidity: 90}}", r"point name .*got Turbidity: 90"),
        ("{raw_days_by_point: {turbidity: 0}}", r"> 0 days .*got turbidity: 0"),
    ]:
        path.write_text(f"data_dir: d\nretention: {text}\n")
        with pytest.raises(ConfigError, match=f"cloud.yaml.*retention.*{message}"):
            load_cloud_config(path)


def test_raw_counters_must_outlive_the_permit_year_the_alarms_read(tmp_path):
    """Over-permit alarms sum a permit year of raw `total` readings: a shorter retention is refused."""
    from watertel.cloud.config import load_cloud_config

    shutil.copy(ROOT / "deploy" / "registry.example.yaml", tmp_path / "registry.yaml")
    path = tmp_path / "cloud.yaml"
    for retention, refused in [("{raw_days: 200}", True), ("{raw_days: 200, raw_days_by_point: {total: 731}}", False),
                               ("{raw_days: 400, raw_days_by_point: {total: 300}}", True), ("{raw_days: 400}", False)]:
        path.write_text(f"data_dir: d\nregistry_file: registry.yaml\nretention: {retention}\n")
        if refused:
            with pytest.raises(ConfigError, match=r"cloud.yaml: retention: raw total readings kept .* days, less than"
                                                  r" the permit year .* raw_days_by_point.total: 731"):
                load_cloud_config(path)
        else:
            assert load_cloud_config(path).registry_file == tmp_path / "registry.yaml"
