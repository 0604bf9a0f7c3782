"""MainWindow: navigation bar, page stack, menus, status bar and window-level behaviour.

It knows no page's insides: pages are plugged in by ``llamahome_gui.ui.page_host``. The
window is built and painted before the config layer is imported (``attach(ctx)`` comes
later), so this module imports neither the config nor the pages; the config editing
actions (Save, Undo, Redo) act on the shared ``ConfigState`` once attached. Settings
remembered between sessions: geometry, window state, last page and appearance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PyQt6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QPaintEvent, QShowEvent
from PyQt6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QStackedWidget,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui import APP_NAME
from llamahome_gui.ui.theme import APP_ICON, MODES, ThemeManager, app_icon

if TYPE_CHECKING:
    from llamahome_gui.ui.context import AppContext

log = logging.getLogger(__name__)


def minimum_size(wanted: tuple[int, int] = (960, 600)) -> tuple[int, int]:
    """The smallest window the pages are laid out for, never larger than the screen's free
    area (at 2x scale a 1600x1000 screen is 800x500 logical pixels: a larger minimum would
    push the bottom of the window, Start included, off the screen)."""
    screen = QApplication.primaryScreen()
    if screen is None or screen.availableGeometry().width() <= 0 or \
            QApplication.platformName() == "offscreen":  # no real screen to fit (tests, shots)
        return wanted
    area = screen.availableGeometry()
    return min(wanted[0], area.width()), min(wanted[1], area.height())


class MainWindow(QMainWindow):
    """The application's one window."""

    page_changed = pyqtSignal(str)  # page key
    close_accepted = pyqtSignal()   # the window is closing: pages stop their workers here
    first_shown = pyqtSignal()      # the window was shown for the first time
    first_painted = pyqtSignal()    # ... and its first frame is on screen (queued after it)

    def __init__(self, theme: ThemeManager, settings: QSettings) -> None:
        super().__init__()
        self.ctx: AppContext | None = None
        self.theme = theme
        self.settings = settings
        self.persist_settings = True
        self._keys: list[str] = []
        self._titles: dict[str, str] = {}
        self._icons: dict[str, str] = {}
        self._actions: dict[str, QAction] = {}
        self._tray: QSystemTrayIcon | None = None
        self._close_guards: list[Callable[[], bool]] = []
        self._shown_once = False
        self._painted_once = False
        self.setWindowIcon(app_icon())
        self.setMinimumSize(*minimum_size())

        central = QWidget(self)
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        panel = QWidget(central)
        panel.setObjectName("navPanel")
        panel.setFixedWidth(164)
        panel_layout = QVBoxLayout(panel)
        panel_layout.setContentsMargins(0, 10, 0, 6)
        panel_layout.setSpacing(6)
        brand = QLabel(f"<img src='{APP_ICON}' width='26' height='26' "
                       f"style='vertical-align: middle'>&nbsp;&nbsp;LlamaHome", panel)
        brand.setObjectName("navBrand")
        brand.setToolTip(APP_NAME)
        self.nav = QListWidget(panel)
        self.nav.setObjectName("navBar")
        self.nav.setIconSize(QSize(20, 20))
        self.nav.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.nav.currentRowChanged.connect(self._on_nav_current_row_changed)
        panel_layout.addWidget(brand)
        panel_layout.addWidget(self.nav, 1)
        self.stack = QStackedWidget(central)
        layout.addWidget(panel)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.unsaved_label = QLabel()
        self.unsaved_label.setObjectName("status.unsaved")
        self.statusBar().addPermanentWidget(self.unsaved_label)
        self._build_menus()
        theme.changed.connect(self._on_theme_changed)
        self.action("config.save").setEnabled(False)   # until the config is read and edited
        self.action("config.revert").setEnabled(False)
        self._update_title()

    def attach(self, ctx: AppContext) -> None:
        """Bind the config actions (Save, Revert, Undo, Redo) to the loaded config state."""
        from llamahome_gui.ui import config_actions

        self.ctx = ctx
        config_actions.bind(self, ctx)

    # -- pages ----------------------------------------------------------------------------
    def add_page(self, key: str, title: str, icon: str, widget: QWidget, *,
                 in_nav: bool = True) -> None:
        self._keys.append(key)
        self._titles[key] = title
        self._icons[key] = icon
        self.stack.addWidget(widget)
        item = QListWidgetItem(self.theme.icon(icon), title)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setToolTip(f"{title} (Ctrl+{len(self._keys)})")
        self.nav.addItem(item)
        self.nav.setRowHidden(self.nav.count() - 1, not in_nav)
        action = QAction(self.theme.icon(icon), title, self)
        action.setObjectName(f"view.page.{key}")
        action.setProperty("shortcutLabel", f"Go to {title}")
        if len(self._keys) <= 9:
            action.setShortcut(QKeySequence(f"Ctrl+{len(self._keys)}"))
        action.triggered.connect(lambda _=False, k=key: self.navigate(k))
        self._page_menu.addAction(action)
        self._actions[action.objectName()] = action
        if self.nav.currentRow() < 0 and in_nav:
            self.nav.setCurrentRow(0)
        if not in_nav and key == "welcome":
            self._add_action("Help", "help.welcome", "&Getting Started",
                             lambda: self.navigate(key)).setStatusTip(
                                 "The first steps: train the starter model, chat with it")
            self._menus["Help"].insertAction(self._menus["Help"].actions()[0],
                                             self._actions["help.welcome"])

    def replace_page(self, key: str, widget: QWidget) -> None:
        """Put the built page where its stand-in was (pages built after the window shows)."""
        index = self._keys.index(key)
        old = self.stack.widget(index)
        if old is widget:
            return
        current = self.stack.currentIndex()
        self.stack.insertWidget(index, widget)
        self.stack.removeWidget(old)
        old.deleteLater()
        if current == index:
            self.stack.setCurrentIndex(index)

    def nav_titles(self) -> list[str]:
        """The titles of the navigation rows shown (pages reached from a menu are left out)."""
        return [self.nav.item(i).text() for i in range(self.nav.count())
                if not self.nav.isRowHidden(i)]

    def page_keys(self) -> list[str]:
        return list(self._keys)

    def page_widget(self, key: str) -> QWidget | None:
        return self.stack.widget(self._keys.index(key)) if key in self._keys else None

    def navigate(self, key: str) -> None:
        if key not in self._keys:
            raise KeyError(f"unknown page {key!r}; pages: {', '.join(self._keys)}")
        self.nav.setCurrentRow(self._keys.index(key))

    def current_page(self) -> str:
        row = self.stack.currentIndex()
        return self._keys[row] if 0 <= row < len(self._keys) else ""

    def action(self, name: str) -> QAction:
        """A window action by objectName, e.g. ``config.save``, ``edit.undo``."""
        return self._actions[name]

    def register_action(self, action: QAction) -> None:
        """Make ``action`` findable by its objectName (``action(name)``, Shortcuts dialog)."""
        self._actions[action.objectName()] = action

    def menu(self, name: str) -> QMenu:
        """The File, Edit, View or Help menu."""
        return self._menus[name]

    def add_menu_action(self, menu: str, action: QAction, before: str | None = None) -> None:
        """Let a page add an action to File, Edit, View or Help (it keeps its objectName);
        ``before``: the objectName of an action to insert it in front of."""
        if before is not None and before in self._actions:
            self._menus[menu].insertAction(self._actions[before], action)
        else:
            self._menus[menu].addAction(action)
        if action.objectName():
            self._actions[action.objectName()] = action

    def add_close_guard(self, guard: Callable[[], bool]) -> None:
        """``guard()`` runs when the user closes the window; False keeps it open (a page
        asks, e.g. "Training is running -- quit anyway?"). Unsaved configs are asked first."""
        self._close_guards.append(guard)

    # -- talking to the user --------------------------------------------------------------
    def notify(self, title: str, text: str) -> None:
        if QSystemTrayIcon.isSystemTrayAvailable():
            if self._tray is None:
                self._tray = QSystemTrayIcon(app_icon(), self)
                self._tray.setToolTip(APP_NAME)
                self._tray.show()
            self._tray.showMessage(title, text, app_icon(), 8000)
        self.statusBar().showMessage(f"{title}: {text}", 10000)

    # -- settings -------------------------------------------------------------------------
    def restore_settings(self) -> None:
        settings = self.settings
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and self.restoreGeometry(geometry):
            state = settings.value("window/state")
            if isinstance(state, QByteArray):
                self.restoreState(state)
        else:  # first run: a comfortable size, centred on the screen
            screen = QApplication.primaryScreen()
            area = screen.availableGeometry() if screen is not None else None
            width, height = 1360, 860
            if area is not None and area.width() > 0:
                width, height = min(width, area.width()), min(height, area.height())
            self.resize(max(width, self.minimumWidth()), max(height, self.minimumHeight()))
            if area is not None:
                self.move(area.center() - self.rect().center())
        last = settings.value("window/page", "configs")
        if isinstance(last, str) and last in self._keys:
            self.navigate(last)

    def save_settings(self) -> None:
        settings = self.settings
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())
        settings.setValue("window/page", self.current_page())
        settings.setValue("appearance", self.theme.mode)
        settings.sync()

    # -- menus ----------------------------------------------------------------------------
    def _add_action(self, menu_name: str, name: str, text: str, slot, shortcut=None,
                    tip: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        if shortcut is not None:
            if isinstance(shortcut, list):
                action.setShortcuts(shortcut)
            else:
                action.setShortcut(shortcut)
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        self._menus[menu_name].addAction(action)
        self._actions[name] = action
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        self._menus = {name: bar.addMenu(f"&{name}") for name in ("File", "Edit", "View", "Help")}
        keys = QKeySequence.StandardKey
        save = self._add_action("File", "config.save", "&Save Config Changes", self.save_all,
                                QKeySequence(keys.Save),
                                "Write the changed settings to the config files (Ctrl+S)")
        save.setEnabled(False)
        self._add_action("File", "config.revert", "Re&vert Unsaved Changes",
                         self._on_revert_triggered, tip="Drop every unsaved edit")
        self._menus["File"].addSeparator()
        self._add_action("File", "app.quit", "&Quit", self.close, QKeySequence(keys.Quit))

        self._menus["Edit"].addSeparator()  # Undo / Redo go above it once the config is read

        self._page_menu = self._menus["View"].addMenu("&Go to Page")
        appearance = self._menus["View"].addMenu("&Appearance")
        group = QActionGroup(self)
        for mode in MODES:
            action = QAction(mode.capitalize(), self, checkable=True)
            action.setObjectName(f"view.appearance.{mode}")
            action.setChecked(mode == self.theme.mode)
            action.triggered.connect(lambda _=False, m=mode: self.theme.set_mode(m))
            group.addAction(action)
            appearance.addAction(action)
            self._actions[action.objectName()] = action
        self._add_action("View", "view.fullscreen", "&Full Screen", self._on_fullscreen_triggered,
                         QKeySequence("F11")).setCheckable(True)

        self._add_action("Help", "help.shortcuts", "&Keyboard Shortcuts",
                         self._on_shortcuts_triggered)
        self._menus["Help"].addSeparator()
        self._add_action("Help", "help.about", f"&About {APP_NAME}", self._on_about_triggered)
        self._add_action("Help", "help.about_qt", "About &Qt", QApplication.aboutQt)

    # -- save / close ---------------------------------------------------------------------
    def save_all(self) -> bool:
        """Save every changed component (False: not saved, the user was told why)."""
        from llamahome_gui.ui import config_actions

        return config_actions.save_all(self)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt API
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self.first_shown.emit()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt API
        super().paintEvent(event)
        if not self._painted_once:
            self._painted_once = True
            QTimer.singleShot(0, self.first_painted.emit)  # after this frame is drawn

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        from llamahome_gui.ui import config_actions

        if not config_actions.may_close(self) or not all(g() for g in self._close_guards):
            event.ignore()
            return
        if self.persist_settings:
            self.save_settings()
        self.close_accepted.emit()
        if self._tray is not None:
            self._tray.hide()
        event.accept()

    # -- slots ----------------------------------------------------------------------------
    def _on_nav_current_row_changed(self, row: int) -> None:
        if 0 <= row < len(self._keys):
            self.stack.setCurrentIndex(row)
            self._update_title()
            self.page_changed.emit(self._keys[row])

    def _update_title(self) -> None:
        page = self._titles.get(self.current_page(), "")
        self.setWindowTitle(f"{page} \u2014 {APP_NAME}[*]" if page else f"{APP_NAME}[*]")

    def _on_revert_triggered(self) -> None:
        from llamahome_gui.ui import config_actions

        config_actions.revert(self)

    def _on_fullscreen_triggered(self, checked: bool) -> None:
        self.showFullScreen() if checked else self.showNormal()

    def _on_theme_changed(self, _dark: bool) -> None:
        for row, key in enumerate(self._keys):
            icon = self.theme.icon(self._icons[key])
            self.nav.item(row).setIcon(icon)
            self._actions[f"view.page.{key}"].setIcon(icon)

    def _on_about_triggered(self) -> None:
        from llamahome_gui.ui.dialogs.about_dialog import AboutDialog

        if self.ctx is not None:  # (the config folder it names is known once read)
            AboutDialog(self.ctx, self).exec()

    def _on_shortcuts_triggered(self) -> None:
        from llamahome_gui.ui.dialogs.about_dialog import ShortcutsDialog

        ShortcutsDialog(list(self._actions.values()), self).exec()
