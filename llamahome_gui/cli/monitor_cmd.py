"""``llamahome monitor``: CPU, memory and GPU readings in the terminal.

``--once --json`` prints one JSON object; ``--interval S --count N`` prints a live table
(or JSON lines with ``--json``) and ``--csv FILE`` also writes a header and a row per sample.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from typing import TextIO

from llamahome_gui.core.units import GIB


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("monitor", help="show CPU, memory and GPU use",
                       description="Sample CPU, RAM, swap and NVIDIA GPUs (utilization, memory, "
                       "temperature, power) like the window's Monitor page.")
    p.add_argument("--once", action="store_true", help="take one sample and exit")
    p.add_argument("--json", action="store_true",
                   help="print JSON (one object; with --count, one object per line)")
    p.add_argument("--interval", type=float, default=None, metavar="S",
                   help="seconds between samples (default: resource.monitor.check_interval)")
    p.add_argument("--count", type=int, default=None, metavar="N",
                   help="stop after N samples (default: until Ctrl+C)")
    p.add_argument("--csv", metavar="FILE", default=None,
                   help="also write the samples to FILE (a header, then one row per sample)")
    p.add_argument("--config-dir", default=None, help="config folder (default: ./config or the "
                   "user's config folder)")
    p.set_defaults(func=run)


def _settings(args: argparse.Namespace) -> tuple[float, list[int]]:
    """Seconds between samples and the GPUs to show (``resource.gpu.cuda_devices``)."""
    try:
        from llamahome_gui.config.manager import ConfigManager

        resource = ConfigManager(args.config_dir).load("resource")
        interval, devices = float(resource.monitor.check_interval), resource.gpu.cuda_devices
    except Exception:  # noqa: BLE001 - a broken config must not stop a quick look
        interval, devices = 1.0, []
    return (args.interval if args.interval is not None else interval), devices


def run(args: argparse.Namespace) -> int:
    from llamahome_gui.core.monitor.sample import flatten
    from llamahome_gui.core.monitor.sampler import ResourceSampler
    from llamahome_gui.core.monitor.store import RowWriter

    if args.interval is not None and not 0 < args.interval <= 3600:
        print(f"llamahome monitor: --interval {args.interval}: give seconds between 0 and 3600 "
              "(e.g. --interval 0.5)", file=sys.stderr)
        return 2
    if args.count is not None and args.count < 1:
        print(f"llamahome monitor: --count {args.count}: give a number of samples >= 1",
              file=sys.stderr)
        return 2
    count = 1 if args.once else args.count
    interval, devices = _settings(args)
    writer = None
    if args.csv:
        try:
            open(args.csv, "w").close()  # a fresh file: header, then this run's rows
            writer = RowWriter(args.csv, "csv")
        except OSError as exc:
            print(f"llamahome monitor: cannot write --csv {args.csv}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
    sampler = ResourceSampler(devices=devices)
    sampler.prime(gpus=True)
    stop = threading.Event()
    stop.wait(min(interval, 0.25))  # CPU % is measured between two readings
    taken = 0
    next_at = time.monotonic()
    try:
        while count is None or taken < count:
            sample = sampler.sample()
            if writer is not None:
                writer.write(flatten(sample))
            if args.json:
                print(json.dumps(sample.to_dict(), indent=2 if count == 1 else None), flush=True)
            else:
                _print_row(sample, taken, sys.stdout)
            taken += 1
            if count is not None and taken >= count:
                break
            next_at += interval
            stop.wait(max(0.0, next_at - time.monotonic()))
    except KeyboardInterrupt:
        pass
    finally:
        if writer is not None:
            writer.close()
            print(f"wrote {writer.rows} samples to {args.csv}", file=sys.stderr)
    return 0


def _fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value / scale, spec)


def _print_row(sample, index: int, out: TextIO) -> None:  # noqa: ANN001 - Sample
    if index == 0:
        head = f"{'time':8}  {'CPU %':>6}  {'RAM GiB':>13}  {'swap GiB':>8}"
        for gpu in sample.gpus:
            head += f"  {f'GPU{gpu.index} %':>6}  {f'GPU{gpu.index} mem GiB':>15}  {'°C':>4}  {'W':>5}"
        print(head, file=out)
        if sample.gpu_error:
            print(f"(GPUs: {sample.gpu_error})", file=out)
    line = (f"{time.strftime('%H:%M:%S', time.localtime(sample.time)):8}  "
            f"{sample.cpu_percent:6.1f}  "
            f"{sample.ram_used_bytes / GIB:6.2f}/{sample.ram_total_bytes / GIB:<6.1f}  "
            f"{sample.swap_used_bytes / GIB:8.2f}")
    for gpu in sample.gpus:
        mem = f"{_fmt(gpu.memory_used_bytes, '.2f', GIB)}/{_fmt(gpu.memory_total_bytes, '.1f', GIB)}"
        line += (f"  {_fmt(gpu.utilization_percent, '6.0f'):>6}  {mem:>15}  "
                 f"{_fmt(gpu.temperature_c, '4.0f'):>4}  {_fmt(gpu.power_w, '5.0f'):>5}")
    print(line, file=out, flush=True)
