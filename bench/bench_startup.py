"""Start-up: time until the main window has painted, against a bare PyQt6 window.

What: wall time from spawning a fresh Python process to the first paint of its window,
read as ``time.time()`` printed by the child (``bench/startup_probe.py``). The app child goes
through the real interactive start (``llamahome_gui.app.open_main_window``: the shell is
shown and painted, then the config folder, found as the app finds it in fresh user folders,
is read and the page on screen built); the bare child shows a ``QMainWindow`` with one label.
Same interpreter, same flags, offscreen platform; runs alternate (bare, app, bare, app, ...)
and the medians are compared.

Key ``startup_ratio_vs_bare_qt`` = app median / bare median (goal <= 2). Also reported:
``startup_page_ms``, until the first page (Configs, on a fresh start) is built and painted.

    .venv/bin/python bench/bench_startup.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, ROOT, isolated_env, median, run_child, work_dir  # noqa: E402

PROBE = ROOT / "bench" / "startup_probe.py"


def once(mode: str, home: Path) -> tuple[float, float | None]:
    """Seconds from spawn to the window's first paint, and to the first page's (app only)."""
    t0 = time.time()
    res = run_child([PYTHON, str(PROBE), mode], isolated_env(home), timeout=120)
    marks = dict(line.split()[:2] for line in res.stdout.splitlines()
                 if line.startswith(("painted ", "page ")))
    if res.returncode != 0 or "painted" not in marks:
        raise RuntimeError(f"start-up probe '{mode}' failed (code {res.returncode}):\n"
                           f"{res.stdout[-2000:]}{res.stderr[-2000:]}")
    page = float(marks["page"]) - t0 if "page" in marks else None
    return float(marks["painted"]) - t0, page


def run(quick: bool = False) -> dict[str, Any]:
    reps = 5 if quick else 11
    home = work_dir("startup")
    once("bare", home)  # warm the file cache for both, so neither pays the first disk read
    once("app", home)
    bare, app, page = [], [], []
    for i in range(reps):
        print(f"  startup: run {i + 1}/{reps}", flush=True)
        bare.append(once("bare", home)[0])
        shown, built = once("app", home)
        app.append(shown)
        if built is not None:
            page.append(built)
    b, a = median(bare), median(app)
    return {
        "startup_ratio_vs_bare_qt": round(a / b, 3),
        "startup_app_ms": round(a * 1e3, 1),
        "startup_bare_qt_ms": round(b * 1e3, 1),
        "startup_page_ms": round(median(page) * 1e3, 1) if page else None,
        "startup_runs_ms": {"app": [round(x * 1e3) for x in app],
                            "bare": [round(x * 1e3) for x in bare],
                            "page": [round(x * 1e3) for x in page]},
    }


def main() -> None:
    p = argparse.ArgumentParser(description="start-up: main window vs bare PyQt6 window")
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    print(json.dumps(run(a.quick), indent=2))


if __name__ == "__main__":
    main()
