"""Child process of the start-up benchmark: open a window, print when it first paints, exit.

    startup_probe.py app    the real interactive start: ``llamahome_gui.app.open_main_window``
                            (config folder found as the app finds it), which shows the shell
                            and reads the config and builds the page on screen after that
    startup_probe.py bare   a bare PyQt6 QMainWindow with one label, shown the same way

Prints ``painted <time.time()>`` once a main window's first paint event has been handled;
the app also prints ``page <time.time()>`` once the page on screen is built and painted.
"""

from __future__ import annotations

import sys
import time


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "app"
    from PyQt6.QtCore import QEvent, QObject, QTimer
    from PyQt6.QtWidgets import QApplication, QLabel, QMainWindow, QWidget

    if mode == "app":
        from llamahome_gui.app import ensure_application

        app = ensure_application()
    else:
        app = QApplication(sys.argv[:1])
    done: list[str] = []
    host = None

    def page_ready() -> bool:
        return host is None or (host.ctx is not None and host.is_built(host.window.current_page()))

    def report_paint() -> None:
        print(f"painted {time.time():.6f}", flush=True)
        if page_ready():
            finish()

    def finish() -> None:
        if host is not None:
            print(f"page {time.time():.6f}", flush=True)
        app.quit()

    class FirstPaint(QObject):
        def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
            if event.type() == QEvent.Type.Paint and isinstance(obj, QWidget) \
                    and isinstance(obj.window(), QMainWindow):
                if not done:
                    done.append("window")
                    QTimer.singleShot(0, report_paint)
                elif len(done) == 1 and host is not None and page_ready():
                    done.append("page")
                    QTimer.singleShot(0, finish)
            return False

    watcher = FirstPaint()
    app.installEventFilter(watcher)
    if mode == "app":
        from llamahome_gui.app import open_main_window

        host = open_main_window(None)
        host.window.persist_settings = False  # the page, built after the shell's first
        # paint, ends the run with its own first paint
    else:
        window = QMainWindow()
        window.setWindowTitle("bare")
        window.setCentralWidget(QLabel("hello"))
        window.resize(1280, 800)
        window.show()
    QTimer.singleShot(30000, app.quit)
    app.exec()
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
