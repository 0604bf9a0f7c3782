"""Child process of the start-up benchmark: open a window, print when it first paints, exit.

    startup_probe.py app    the real window: llamahome_gui.app's ensure_application +
                            build_main_window (config folder found as the app finds it), show
    startup_probe.py bare   a bare PyQt6 QMainWindow with one label, shown the same way

Prints ``painted <time.time()>`` once the window's first paint event has been handled.
"""

from __future__ import annotations

import sys
import time


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "app"
    if mode == "app":
        from llamahome_gui.app import build_main_window, ensure_application

        app = ensure_application()
        window = build_main_window(None)
        window.persist_settings = False
    else:
        from PyQt6.QtWidgets import QApplication, QLabel, QMainWindow

        app = QApplication(sys.argv[:1])
        window = QMainWindow()
        window.setWindowTitle("bare")
        window.setCentralWidget(QLabel("hello"))
    from PyQt6.QtCore import QEvent, QObject, QTimer

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Paint and not done:
                done.append(True)
                QTimer.singleShot(0, report)
            return False

    done: list[bool] = []

    def report() -> None:
        print(f"painted {time.time():.6f}", flush=True)
        app.quit()

    watcher = FirstPaint()
    window.installEventFilter(watcher)
    window.resize(1280, 800)
    window.show()
    QTimer.singleShot(30000, app.quit)
    app.exec()
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
