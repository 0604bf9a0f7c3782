"""How fast a second trainer on a running run is refused (issue goal: under 2 s).

    .venv/bin/python bench/bench_run_lock.py [--rounds N]

Another process holds the run's lock; ``llamahome train --resume RUN`` is timed until it
exits 2 naming that process, next to a bare ``python -c pass`` measured in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOLD = ("import sys; from llamahome_gui.core.runs.lock import RunLock; "
        "RunLock(sys.argv[1]).acquire(); print('locked', flush=True); sys.stdin.read()")


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def main() -> None:
    from llamahome_gui.config.schema import COMPONENTS
    from llamahome_gui.core.runs import RUN_COMPONENTS
    from llamahome_gui.core.runs.plan import plan_from_configs

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory(prefix="llamahome-bench-") as tmp:
        configs = {name: COMPONENTS[name]() for name in RUN_COMPONENTS}
        configs["training"].training.output_dir = tmp
        run = plan_from_configs(configs).create()
        holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            holder.stdout.readline()
            refusals = []
            for _ in range(rounds):
                seconds, proc = timed([sys.executable, "-m", "llamahome_gui", "train",
                                       "--resume", str(run)])
                if proc.returncode != 2 or f"being trained by process {holder.pid}" not in proc.stderr:
                    raise SystemExit(f"not refused as expected:\n{proc.stderr}")
                refusals.append(seconds)
        finally:
            holder.kill()
            holder.wait()
    bare = [timed([sys.executable, "-c", "pass"])[0] for _ in range(rounds)]
    refusal, reference = statistics.median(refusals), statistics.median(bare)
    print(f"second_trainer_refused_s  {refusal:.2f}  (max {max(refusals):.2f}; goal < 2)")
    print(f"bare_python_s             {reference:.2f}")
    print(f"refusal_ratio_vs_bare     {refusal / reference:.1f}")


if __name__ == "__main__":
    main()
