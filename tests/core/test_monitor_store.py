"""Metrics files: csv / jsonl rows, parquet without pyarrow, aggregation, chosen metrics,
one file per day with gzip on rotation, retention."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import os
import time

import pytest

from llamahome_gui.config.schema import MetricsConfig, StorageSection
from llamahome_gui.core.monitor.sample import flatten
from llamahome_gui.core.monitor.sampler import ResourceSampler
from llamahome_gui.core.monitor.store import MetricsRecorder, RowWriter, parquet_available


def metrics_config(**storage_and_metrics) -> MetricsConfig:
    storage = {k: v for k, v in storage_and_metrics.items() if k in StorageSection.model_fields}
    metrics = {k: v for k, v in storage_and_metrics.items() if k not in storage}
    return MetricsConfig.model_validate({"storage": storage, "metrics": metrics})


def rows(base: float, n: int, step: float = 1.0) -> list[dict[str, float]]:
    return [{"time": base + i * step, "cpu_percent": 10.0 * i, "ram_used_bytes": 1000.0 + i,
             "gpu0_temp_c": float("nan")} for i in range(n)]


def test_csv_rows_from_real_samples(tmp_path) -> None:
    sampler = ResourceSampler(gpus=False)
    writer = RowWriter(tmp_path / "m.csv")
    for _ in range(3):
        writer.write(flatten(sampler.sample()))
    writer.close()
    with open(tmp_path / "m.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 3
    assert {"time", "datetime", "cpu_percent", "ram_used_bytes", "ram_total_bytes"} <= set(table[0])
    assert all(0 <= float(r["cpu_percent"]) <= 100 for r in table)
    assert dt.datetime.fromisoformat(table[0]["datetime"]).year >= 2024


def test_jsonl_rows_with_unknown_values_as_null(tmp_path) -> None:
    writer = RowWriter(tmp_path / "m.jsonl")
    for row in rows(1000.0, 2):
        writer.write(row)
    writer.close()
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [x["cpu_percent"] for x in lines] == [0, 10]
    assert lines[0]["gpu0_temp_c"] is None and lines[1]["ram_used_bytes"] == 1001


@pytest.mark.skipif(parquet_available(), reason="pyarrow is installed here")
def test_parquet_without_pyarrow_says_what_to_do(tmp_path) -> None:
    with pytest.raises(RuntimeError, match=r"pyarrow.*export_format"):
        RowWriter(tmp_path / "m.parquet")
    recorder = MetricsRecorder(metrics_config(export_format="parquet"), tmp_path)
    assert recorder.fmt == "csv" and "pyarrow" in recorder.message and "csv" in recorder.message


def test_recorder_averages_and_keeps_only_chosen_metrics(tmp_path) -> None:
    recorder = MetricsRecorder(metrics_config(aggregation_interval=2.0, enabled_metrics=["cpu"]),
                               tmp_path)
    base = time.time()
    for row in rows(base, 6):
        recorder.add(row)
    recorder.close()
    with open(recorder.current_path, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert list(table[0]) == ["time", "datetime", "cpu_percent"]
    # windows of 2 s: (0,10,20) -> 10, (30,40,50) -> 40
    assert [float(r["cpu_percent"]) for r in table] == [10.0, 40.0]


def test_storage_none_writes_nothing(tmp_path) -> None:
    recorder = MetricsRecorder(metrics_config(storage_type="none"), tmp_path / "m")
    for row in rows(time.time(), 5):
        recorder.add(row)
    recorder.close()
    assert not (tmp_path / "m").exists()


def test_new_day_gzips_yesterday_and_retention_deletes_old_files(tmp_path) -> None:
    old = tmp_path / "resources-2000-01-01.csv"
    old.write_text("time\n1\n")
    os.utime(old, (time.time() - 40 * 86400,) * 2)
    keep = tmp_path / "resources-recent.csv"
    keep.write_text("time\n1\n")
    os.utime(keep, (time.time() - 5 * 86400,) * 2)
    recorder = MetricsRecorder(metrics_config(retention_days=30, compression=True,
                                              aggregation_interval=1.0, export_format="jsonl"),
                               tmp_path)
    assert not old.exists() and keep.exists()
    yesterday = dt.datetime.combine(dt.date.today() - dt.timedelta(days=1), dt.time(23, 59, 58))
    for row in rows(yesterday.timestamp(), 4):  # crosses midnight
        recorder.add(row)
    recorder.close()
    gz = tmp_path / f"resources-{yesterday.date().isoformat()}.jsonl.gz"
    today = tmp_path / f"resources-{dt.date.today().isoformat()}.jsonl"
    assert gz.exists() and not gz.with_suffix("").exists()
    assert len(gzip.open(gz, "rt").read().splitlines()) >= 1
    assert today.exists() and len(today.read_text().splitlines()) >= 1
