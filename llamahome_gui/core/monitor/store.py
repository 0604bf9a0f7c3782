"""Samples on disk: a row writer (csv / jsonl / parquet) and the recorder that follows the
``metrics`` config (aggregation, one file per day, gzip on rotation, retention).

Columns are the flat series names of ``sample.flatten`` fixed by the first row, plus a
readable ``datetime``; unknown values are empty cells (csv) or null (jsonl).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import math
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from llamahome_gui import paths
from llamahome_gui.core.monitor.sample import metric_group

FORMATS = ("csv", "jsonl", "parquet")
PARQUET_MISSING = ("parquet files need the pyarrow package, which is not installed: install it "
                   "(pip install pyarrow) or set metrics.storage.export_format to \"csv\" or "
                   "\"jsonl\"")


def metrics_dir() -> Path:
    return paths.user_data_dir() / "metrics"


def parquet_available() -> bool:
    from importlib.util import find_spec

    return find_spec("pyarrow") is not None


def _cell(value: float) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class RowWriter:
    """Appends flat rows to one file; the column set is fixed by the first row."""

    def __init__(self, path: Path | str, fmt: str | None = None) -> None:
        self.path = Path(path)
        fmt = fmt or self.path.suffix.lstrip(".").lower() or "csv"
        if fmt not in FORMATS:
            raise ValueError(f"{self.path}: unknown metrics format {fmt!r}; use one of "
                             f"{', '.join(FORMATS)}")
        if fmt == "parquet" and not parquet_available():
            raise RuntimeError(PARQUET_MISSING)
        self.fmt = fmt
        self.columns: list[str] | None = None
        self.rows = 0
        self._fh: TextIO | None = None
        self._csv: Any = None
        self._pq: Any = None

    def write(self, row: dict[str, float]) -> None:
        if self.columns is None:
            self._open(row)
        assert self.columns is not None
        stamp = dt.datetime.fromtimestamp(row["time"]).isoformat(timespec="milliseconds")
        values = {c: _cell(row.get(c, math.nan)) for c in self.columns if c != "datetime"}
        values["datetime"] = stamp
        if self.fmt == "csv":
            self._csv.writerow(["" if values[c] is None else values[c] for c in self.columns])
        elif self.fmt == "jsonl":
            self._fh.write(json.dumps({c: values[c] for c in self.columns}) + "\n")
        else:
            import pyarrow as pa

            table = pa.table({c: [values[c]] for c in self.columns}, schema=self._pq.schema)
            self._pq.write_table(table)
        self.rows += 1
        if self._fh is not None:
            self._fh.flush()

    def _open(self, row: dict[str, float]) -> None:
        self.columns = ["time", "datetime", *[c for c in row if c != "time"]]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            fields = [pa.field(c, pa.string() if c == "datetime" else pa.float64())
                      for c in self.columns]
            self._pq = pq.ParquetWriter(str(self.path), pa.schema(fields))
            return
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._fh = open(self.path, "a", encoding="utf-8", newline="")
        if self.fmt == "csv":
            self._csv = csv.writer(self._fh)
            if new:
                self._csv.writerow(self.columns)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._pq is not None:
            self._pq.close()
            self._pq = None


class MetricsRecorder:
    """Writes averaged samples per the ``metrics`` config into ``folder``.

    ``add`` takes a flat sample row; every ``aggregation_interval`` seconds of samples become
    one stored row (their mean). Files are ``resources-YYYY-MM-DD.<fmt>``; at a day change
    the old file is gzipped when ``compression`` is on, and files older than
    ``retention_days`` are deleted (at start and at each day change).
    """

    def __init__(self, metrics_cfg: Any, folder: Path | None = None) -> None:
        storage, chosen = metrics_cfg.storage, metrics_cfg.metrics
        self.folder = Path(folder) if folder is not None else metrics_dir()
        self.enabled = storage.storage_type != "none"
        self.fmt = storage.export_format
        self.message: str | None = None
        if self.fmt == "parquet" and not parquet_available():
            self.message = f"{PARQUET_MISSING}. Writing csv meanwhile."
            self.fmt = "csv"
        self.retention_days = storage.retention_days
        self.compression = storage.compression
        self.groups = set(chosen.enabled_metrics)
        self.interval = chosen.aggregation_interval
        self._pending: list[dict[str, float]] = []
        self._writer: RowWriter | None = None
        self._day: str | None = None
        if self.enabled:
            self.apply_retention()

    def add(self, row: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._pending.append({k: v for k, v in row.items()
                              if k == "time" or metric_group(k) in self.groups})
        if row["time"] - self._pending[0]["time"] >= self.interval - 1e-6:
            self.flush()

    def flush(self) -> None:
        """Write the mean of the pending samples as one row."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        names = list(rows[0])
        values = np.array([[r.get(n, math.nan) for n in names] for r in rows], dtype=float)
        with warnings.catch_warnings():  # an all-NaN column (a field the GPU lacks) is fine
            warnings.simplefilter("ignore", RuntimeWarning)
            means = np.nanmean(values, axis=0)
        mean_row = dict(zip(names, means.tolist(), strict=True))
        mean_row["time"] = rows[-1]["time"]
        self._writer_for(mean_row["time"]).write(mean_row)

    def _writer_for(self, stamp: float) -> RowWriter:
        day = dt.date.fromtimestamp(stamp).isoformat()
        if day != self._day:
            old = self._writer
            if old is not None:
                old.close()
                if self.compression and old.path.exists():
                    _gzip(old.path)
            self._day = day
            self._writer = RowWriter(self.folder / f"resources-{day}.{self.fmt}", self.fmt)
            self.apply_retention()
        assert self._writer is not None
        return self._writer

    def apply_retention(self, now: float | None = None) -> list[Path]:
        """Delete metric files older than ``retention_days`` (0 = keep all); returns them."""
        if self.retention_days <= 0 or not self.folder.is_dir():
            return []
        cutoff = (now or time.time()) - self.retention_days * 86400
        removed = []
        for path in self.folder.glob("resources-*"):
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    @property
    def current_path(self) -> Path | None:
        return self._writer.path if self._writer else None

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()


def _gzip(path: Path) -> Path:
    target = path.with_name(path.name + ".gz")
    with open(path, "rb") as src, gzip.open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.remove(path)
    return target
