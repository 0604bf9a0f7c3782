"""Where a start's time goes, phase by phase, in one fresh process (a profile, not a goal).

    .venv/bin/python bench/startup_phases.py [--runs 5]

Runs itself ``--runs`` times in fresh processes (own user folders, offscreen Qt) and prints
the median of each phase in milliseconds: the phases before the shell's first paint, then
reading the config and building the first page (Configs, on a fresh start).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = ["import PyQt6.QtWidgets", "import llamahome_gui.app", "QApplication + QSettings",
          "theme (Fusion, palette, style sheet)", "MainWindow", "page host (navigation)",
          "import the config layer + ConfigState", "read the config files",
          "import the Configs page", "build the Configs page"]


def child() -> None:
    marks = [time.perf_counter()]
    from PyQt6.QtWidgets import QApplication  # noqa: F401
    marks.append(time.perf_counter())
    from llamahome_gui import app as shell
    marks.append(time.perf_counter())
    qapp = shell.ensure_application()
    settings = shell.app_settings()
    marks.append(time.perf_counter())
    theme = shell.app_theme("system")
    marks.append(time.perf_counter())
    from llamahome_gui.ui.main_window import MainWindow
    from llamahome_gui.ui.theme import app_icon

    qapp.setWindowIcon(app_icon())
    window = MainWindow(theme, settings)
    marks.append(time.perf_counter())
    host = shell.PageHost(window, shell.PAGES, shell.DIALOGS, shell.STRIP_MODULE)
    window.restore_settings()
    marks.append(time.perf_counter())
    import llamahome_gui.config.manager  # noqa: F401
    import llamahome_gui.ui.state  # noqa: F401
    marks.append(time.perf_counter())
    host.load(None)
    marks.append(time.perf_counter())
    import llamahome_gui.ui.pages.configs_page  # noqa: F401
    marks.append(time.perf_counter())
    host.build("configs")
    marks.append(time.perf_counter())
    steps = zip(PHASES, marks, marks[1:], strict=False)
    print(json.dumps({name: 1e3 * (b - a) for name, a, b in steps}))


def main() -> None:
    parser = argparse.ArgumentParser(description="start-up phases, in milliseconds")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child()
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import isolated_env

    rows = []
    with tempfile.TemporaryDirectory(prefix="llamahome-phases-") as tmp:
        for i in range(args.runs):
            env = isolated_env(Path(tmp) / str(i))
            out = subprocess.run([sys.executable, __file__, "--child"], env=env,
                                 capture_output=True, text=True, timeout=300, check=True)
            rows.append(json.loads(out.stdout.splitlines()[-1]))
    for name in PHASES:
        print(f"{name:<40} {statistics.median(r[name] for r in rows):8.0f} ms")


if __name__ == "__main__":
    main()
