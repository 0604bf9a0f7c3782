"""AppContext: what every page receives from the shell.

A page factory ``create_page(ctx: AppContext) -> QWidget`` gets the one ``AppContext``.
Through it a page reads and edits the configuration (``ctx.config`` for files, ``ctx.state``
for the live, shared edit state every form binds to), draws in the current look
(``ctx.theme``), reads the machine (``ctx.monitor``, started on first use), moves between
pages and talks to the user without knowing the window's layout.

Pages never reach into each other: a request for another page is a signal here, and the
page that serves it connects to it when it is built. The request methods show the target
page first, which builds it on its first visit, so the request is never lost.

Window hooks a page may use: ``ctx.window.add_close_guard(fn)`` (``fn() -> bool``; False keeps
the window open), ``ctx.window.close_accepted`` (stop workers),
``ctx.window.add_menu_action(menu, action)``, ``ctx.window.action("config.save")``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from PyQt6.QtCore import QObject, QSettings, pyqtSignal
from PyQt6.QtWidgets import QWidget

if TYPE_CHECKING:
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.ui.main_window import MainWindow
    from llamahome_gui.ui.state import ConfigState
    from llamahome_gui.ui.theme import ThemeManager
    from llamahome_gui.workers.monitor_worker import MonitorService

log = logging.getLogger(__name__)

class AppContext(QObject):
    """Shared handles and cross-page requests; made once per window by ``llamahome_gui.app``."""

    chat_with_adapter_requested = pyqtSignal(str)  # adapter folder ("" = the base model)
    resume_run_requested = pyqtSignal(str)         # run folder to continue training
    runs_changed = pyqtSignal()                    # a run started, ended or was deleted
    start_run_requested = pyqtSignal(list)         # run-plan overrides ("key=value") for a new run

    def __init__(self, config: ConfigManager, state: ConfigState, settings: QSettings,
                 theme: ThemeManager, window: MainWindow | None = None,
                 page_builder: Callable[[str], QWidget] | None = None) -> None:
        super().__init__(window)
        self.config = config
        self.state = state
        self.settings = settings
        self.theme = theme
        self.window = window
        self._page_builder = page_builder
        self._monitor: MonitorService | None = None

    # -- services -------------------------------------------------------------------------
    @property
    def monitor(self) -> MonitorService:
        """The app's one resource monitor, made and started on first use."""
        if self._monitor is None:
            from llamahome_gui.workers.monitor_worker import start_monitor

            self._monitor = start_monitor(self.config, self.state, self.show_status)
            if self.window is not None and hasattr(self.window, "close_accepted"):
                # the window closing ends the sampler thread too (not only the app quitting)
                self.window.close_accepted.connect(self._monitor.stop)
        return self._monitor

    def monitor_if_started(self) -> MonitorService | None:
        return self._monitor

    # -- navigation -----------------------------------------------------------------------
    def navigate(self, page_key: str) -> None:
        """Show the page ``page_key`` (built on its first visit)."""
        if self.window is not None:
            self.window.navigate(page_key)

    def page(self, page_key: str) -> QWidget:
        """The widget of page ``page_key``, built now if it has not been built yet (the shell
        and tests use this; pages talk through the request signals)."""
        if self._page_builder is None:
            raise RuntimeError("pages are not available before the main window exists")
        return self._page_builder(page_key)

    def current_page(self) -> str:
        return self.window.current_page() if self.window is not None else ""

    # -- cross-page requests --------------------------------------------------------------
    def request_chat_with_adapter(self, adapter: str) -> None:
        """Open the Chat page with this adapter chosen."""
        self.navigate("chat")
        self.chat_with_adapter_requested.emit(adapter)

    def request_resume_run(self, run_dir: str) -> None:
        """Open the Train page and continue this run from its last checkpoint."""
        self.navigate("train")
        self.resume_run_requested.emit(run_dir)

    def request_start_run(self, overrides: list[str]) -> None:
        """Open the Train page and start a new run from the current settings with these
        run-plan overrides laid over them (the config files are not changed)."""
        self.navigate("train")
        self.start_run_requested.emit(list(overrides))

    # -- talking to the user --------------------------------------------------------------
    def show_status(self, text: str, msecs: int = 0) -> None:
        """A message in the status bar (``msecs`` = 0: until replaced)."""
        if self.window is not None:
            self.window.statusBar().showMessage(text, msecs)

    def notify(self, title: str, text: str) -> None:
        """A desktop notification where a system tray exists, else a status-bar message."""
        if self.window is not None:
            self.window.notify(title, text)

    def alert_backend(self, *, run_error: bool = False) -> str:
        """Where an alert goes, from ``monitoring.alerts``: desktop, statusbar, log, console
        or none; a failed run with ``alert_on_error`` off goes to the status bar only."""
        try:
            alerts = self.config.load("monitoring").alerts
        except Exception:  # noqa: BLE001 - a broken file must not hide an alert
            return "statusbar"
        if not alerts.enabled:
            return "none"
        if run_error and not alerts.alert_on_error:
            return "statusbar"
        return alerts.notification_backend

    def alert(self, title: str, text: str, *, run_error: bool = False,
              status: str | None = None) -> str:
        """Tell the user something went wrong, where ``monitoring.alerts`` says; the app's
        log file always gets it. ``status``: the status-bar wording (default: "⚠ title:
        text"). Returns the backend used."""
        log.warning("%s: %s", title, text)
        backend = self.alert_backend(run_error=run_error)
        if backend == "desktop":
            self.notify(title, text)
        if backend in ("desktop", "statusbar"):
            self.show_status(status or f"\u26a0 {title}: {text}", 15000)
        elif backend == "console":
            print(f"{title}: {text}", file=sys.stderr, flush=True)
        return backend
