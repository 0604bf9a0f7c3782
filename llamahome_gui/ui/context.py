"""AppContext: what every page receives from the shell.

A page factory ``create_page(ctx) -> QWidget`` gets one ``AppContext``. Through it a page
reads and edits the configuration (``ctx.config`` for files, ``ctx.state`` for the live,
shared edit state that the Configs page and every embedded form bind to), moves between
pages and talks to the user without knowing the window's layout. Pages may hang shared
services on it as plain attributes (``ctx.monitor_sampler = ...``); check with
``getattr(ctx, name, None)`` before using one another page provides.

Window hooks a page may use: ``ctx.window.page_changed(str)`` (the page shown),
``ctx.window.add_close_guard(fn)`` (``fn() -> bool``; False keeps the window open),
``ctx.window.close_accepted`` (stop workers), ``ctx.window.add_menu_action(menu, action)``,
``ctx.window.action("config.save")``; ``ctx.theme`` (``.colors()``, ``.icon(name)``,
``changed(dark: bool)``) for custom drawing that follows light/dark.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QWidget

if TYPE_CHECKING:
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.ui.main_window import MainWindow
    from llamahome_gui.ui.state import ConfigState

PAGE_KEYS = ("configs", "train", "chat", "monitor", "runs", "models")


class AppContext:
    """Shared handles for pages; built once by :func:`llamahome_gui.app.build_main_window`.

    Attributes:
        config: the ``ConfigManager`` over the config folder in use.
        state: the one ``ConfigState`` (current edited values, dirty/saved, undo, save).
        window: the ``MainWindow``.
        settings: ``QSettings`` of the app (ini file in the user data folder).
    """

    def __init__(self, config: ConfigManager, state: ConfigState, settings: QSettings) -> None:
        self.config = config
        self.state = state
        self.settings = settings
        self.window: MainWindow | None = None
        self._page_builder: Callable[[str], QWidget] | None = None

    # -- navigation ---------------------------------------------------------------------
    def navigate(self, page_key: str) -> None:
        """Show the page ``page_key`` (one of ``PAGE_KEYS``)."""
        if self.window is not None:
            self.window.navigate(page_key)

    def page(self, page_key: str) -> QWidget:
        """The widget of page ``page_key``, built now if it has not been built yet."""
        if self._page_builder is None:
            raise RuntimeError("pages are not available before the main window exists")
        return self._page_builder(page_key)

    def current_page(self) -> str:
        return self.window.current_page() if self.window is not None else ""

    # -- talking to the user --------------------------------------------------------------
    def show_status(self, text: str, msecs: int = 0) -> None:
        """A message in the status bar (``msecs`` = 0: until replaced)."""
        if self.window is not None:
            self.window.statusBar().showMessage(text, msecs)

    def notify(self, title: str, text: str) -> None:
        """A desktop notification where a system tray exists, else a status-bar message."""
        if self.window is not None:
            self.window.notify(title, text)

    def __repr__(self) -> str:
        extra: dict[str, Any] = {k: type(v).__name__ for k, v in vars(self).items()
                                 if not k.startswith("_")}
        return f"AppContext({extra})"
