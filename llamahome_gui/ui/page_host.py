"""The page host: puts the pages listed in ``llamahome_gui.app`` into the window, builds each
on its first visit, and opens the listed dialogs from their menu entries.

Order of a start: the shell (navigation with every page's entry, menus, status bar, an
empty page stack) is shown and painted; then ``load`` reads the config folder (the config
layer is imported only now) and makes the ``AppContext``; ``start`` builds the page on
screen, then the status-bar strip, then the pages marked ``preload``, one per event-loop
turn so the window keeps answering. Any other page is built when it is first shown, or
when code asks ``ctx.page(key)``. A page whose module raises shows the error instead, and
the rest of the window works.

A page module provides ``create_page(ctx: AppContext) -> QWidget``; a dialog module
``create_dialog(ctx: AppContext, parent: QWidget) -> QDialog``.
"""

from __future__ import annotations

import importlib
import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import QEvent, QObject, QTimer
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QWidget

from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.main_window import MainWindow

log = logging.getLogger(__name__)

class _FirstPaint(QObject):
    """Calls ``then`` once, after ``widget``'s first paint event."""

    def __init__(self, widget: QWidget, then: Callable[[], None]) -> None:
        super().__init__(widget)
        self._then = then
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.Paint and self._then is not None:
            then, self._then = self._then, None
            obj.removeEventFilter(self)
            then()
        return False


@dataclass(frozen=True)
class PageSpec:
    key: str          # stable name: navigation, ``--tab``, ``ctx.navigate(key)``
    title: str        # navigation entry and window title
    icon: str         # icon name in resources/icons
    module: str       # provides create_page(ctx)
    preload: bool = False  # built right after start-up, not on its first visit
    in_nav: bool = True    # False: no navigation row (reached from a menu or ``navigate``)


@dataclass(frozen=True)
class DialogSpec:
    key: str          # the menu action's objectName is ``dialog.<key>``
    menu: str         # File, Edit, View or Help
    text: str         # menu text, with its & mnemonic
    module: str       # provides create_dialog(ctx, parent)
    shortcut: str = ""


class PageHost(QObject):
    """Builds pages lazily into ``window`` and owns the ``AppContext`` once loaded."""

    def __init__(self, window: MainWindow, pages: Sequence[PageSpec],
                 dialogs: Sequence[DialogSpec] = (), strip_module: str = "") -> None:
        super().__init__(window)
        self.window = window
        self.pages = {spec.key: spec for spec in pages}
        self.strip_module = strip_module
        self.ctx: AppContext | None = None
        self._built: dict[str, QWidget] = {}
        self._pending: list[str] = []
        self._after_first_paint: _FirstPaint | None = None
        for spec in pages:
            window.add_page(spec.key, spec.title, spec.icon, QWidget(), in_nav=spec.in_nav)
        for spec in dialogs:
            self._add_dialog_action(spec)
        window.page_changed.connect(self._on_window_page_changed)

    # -- start-up -------------------------------------------------------------------------
    def load(self, config_dir: Path | None = None) -> AppContext:
        """Read the config folder and make the context (raises when it cannot be read)."""
        from llamahome_gui.config.manager import ConfigManager
        from llamahome_gui.ui.state import ConfigState

        config = ConfigManager(config_dir)
        state = ConfigState(config, self.window)
        self.ctx = AppContext(config, state, self.window.settings, self.window.theme,
                              self.window, self.build)
        self.window.attach(self.ctx)
        self._apply_log_level()
        state.saved.connect(self._on_state_saved)
        log.info("window opened on the config folder %s", Path(config.config_dir).resolve())
        self.window.statusBar().showMessage(
            f"Config folder: {Path(config.config_dir).resolve()}", 8000)
        return self.ctx

    def _apply_log_level(self) -> None:
        from llamahome_gui.core.applog import configure_app_log

        assert self.ctx is not None
        configure_app_log(str(self.ctx.state.saved_value("monitoring.logging.log_level")))

    def _on_state_saved(self, component: str, _keys: list[str]) -> None:
        if component == "monitoring":
            self._apply_log_level()

    def start(self) -> None:
        """Build the page on screen now; the strip and the preloaded pages once it has been
        painted, one per event-loop turn."""
        page = self.build(self.window.current_page())
        self._pending = ["<strip>", *(k for k, s in self.pages.items() if s.preload)]
        self._after_first_paint = _FirstPaint(page, lambda: QTimer.singleShot(0, self._build_next))

    def build_all(self) -> None:
        """Every page and the strip now (tests and screenshots)."""
        for key in self.pages:
            self.build(key)
        self._add_strip()

    # -- pages ----------------------------------------------------------------------------
    def build(self, key: str) -> QWidget:
        """The page ``key``, built now if this is its first use."""
        if key in self._built:
            return self._built[key]
        if key not in self.pages:
            raise KeyError(f"unknown page {key!r}; pages: {', '.join(self.pages)}")
        if self.ctx is None:
            raise RuntimeError("pages are built once the config is loaded")
        from llamahome_gui.ui.pages.placeholder_page import failed_page

        spec = self.pages[key]
        started = time.perf_counter()
        try:
            page = importlib.import_module(spec.module).create_page(self.ctx)
        except Exception as exc:  # a broken page must not take the window down
            traceback.print_exc()
            log.exception("the %s page could not be opened", spec.title)
            page = failed_page(spec.title, spec.module, exc)
        log.debug("%s page built in %.0f ms", spec.title, 1e3 * (time.perf_counter() - started))
        page.setObjectName(page.objectName() or f"page.{key}")
        self._built[key] = page
        self.window.replace_page(key, page)
        return page

    def is_built(self, key: str) -> bool:
        return key in self._built

    def _build_next(self) -> None:
        while self._pending:
            key = self._pending.pop(0)
            if key == "<strip>":
                self._add_strip()
            elif key in self._built:
                continue
            else:
                self.build(key)
            if self._pending:
                QTimer.singleShot(0, self._build_next)
            return

    def _add_strip(self) -> None:
        if not self.strip_module or self.ctx is None:
            return
        try:
            strip = importlib.import_module(self.strip_module).create_strip(self.ctx)
            self.window.statusBar().addPermanentWidget(strip)
        except Exception:  # the status-bar strip is a convenience: the window works without
            traceback.print_exc()
        self.strip_module = ""

    def _on_window_page_changed(self, key: str) -> None:
        if self.ctx is not None:
            self.build(key)

    # -- dialogs --------------------------------------------------------------------------
    def _add_dialog_action(self, spec: DialogSpec) -> None:
        action = QAction(spec.text, self.window)
        action.setObjectName(f"dialog.{spec.key}")
        if spec.shortcut:
            action.setShortcut(QKeySequence(spec.shortcut))
        action.triggered.connect(lambda _=False, s=spec: self.open_dialog(s))
        self.window.add_menu_action(spec.menu, action)

    def open_dialog(self, spec: DialogSpec) -> None:
        if self.ctx is None:
            return
        dialog = importlib.import_module(spec.module).create_dialog(self.ctx, self.window)
        dialog.setObjectName(dialog.objectName() or f"dialog.{spec.key}")
        dialog.open()
