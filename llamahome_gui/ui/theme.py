"""Light and dark appearance, following the system unless the user picks one.

Fusion style with our own palettes (the system's colour scheme decides which one), plus a
small style sheet (``resources/themes/app.qss``) for the shell's own parts: the navigation
bar, badges, inline errors and modified markers. Icons are drawn from monochrome SVGs
re-coloured for the palette, so they read well in both modes.
"""

from __future__ import annotations

from functools import lru_cache

from PyQt6.QtCore import QByteArray, QObject, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PyQt6.QtSvg import QSvgRenderer
from PyQt6.QtWidgets import QApplication

from llamahome_gui.paths import RESOURCES_DIR

ICONS_DIR = RESOURCES_DIR / "icons"
THEMES_DIR = RESOURCES_DIR / "themes"
APP_ICON = ICONS_DIR / "llamahome-gui.svg"
MODES = ("system", "light", "dark")

_LIGHT = {
    "window": "#f4f5f8", "base": "#ffffff", "alt": "#f0f2f6", "text": "#1d2130",
    "muted": "#5d6475", "button": "#eceef3", "border": "#d5d9e2", "accent": "#4a5be0",
    "accent_text": "#ffffff", "nav": "#e9ebf2", "error": "#c62828", "error_bg": "#fdecea",
    "badge": "#8a5a00", "badge_bg": "#fff1d0", "modified": "#d97706", "ok": "#2e7d32",
    "tooltip": "#ffffff", "disabled": "#9aa0ad", "diff_add": "#e6f4ea", "diff_del": "#fdecea",
}
_DARK = {
    "window": "#1e2027", "base": "#272a33", "alt": "#2d313b", "text": "#e6e8ee",
    "muted": "#a2a8b6", "button": "#333743", "border": "#434856", "accent": "#7c8cff",
    "accent_text": "#10121a", "nav": "#181a20", "error": "#ff8a80", "error_bg": "#3b2326",
    "badge": "#ffd27a", "badge_bg": "#47391c", "modified": "#fbbf24", "ok": "#81c784",
    "tooltip": "#2d313b", "disabled": "#6b7080", "diff_add": "#1f3a2a", "diff_del": "#45262a",
}


class ThemeManager(QObject):
    """Applies a palette to the application and re-applies it when the system changes."""

    changed = pyqtSignal(bool)  # dark

    def __init__(self, app: QApplication, mode: str = "system") -> None:
        super().__init__(app)
        self._app = app
        self.mode = mode if mode in MODES else "system"
        self.dark = False
        app.setStyle("Fusion")
        hints = QGuiApplication.styleHints()
        if hints is not None:
            hints.colorSchemeChanged.connect(self._on_hints_color_scheme_changed)
        self.apply()

    def colors(self) -> dict[str, str]:
        return _DARK if self.dark else _LIGHT

    def set_mode(self, mode: str) -> None:
        self.mode = mode if mode in MODES else "system"
        self.apply()

    def apply(self) -> None:
        self.dark = self._system_dark() if self.mode == "system" else self.mode == "dark"
        colors = self.colors()
        self._app.setPalette(_palette(colors))
        qss = (THEMES_DIR / "app.qss").read_text(encoding="utf-8")
        for name, value in colors.items():
            qss = qss.replace(f"@{name};", f"{value};")
        self._app.setStyleSheet(qss)
        self.changed.emit(self.dark)

    def icon(self, name: str) -> QIcon:
        """A monochrome icon from ``resources/icons/<name>.svg`` in the palette's text colour."""
        return themed_icon(name, self.colors()["text"], self.colors()["disabled"])

    @staticmethod
    def _system_dark() -> bool:
        hints = QGuiApplication.styleHints()
        return hints is not None and hints.colorScheme() == Qt.ColorScheme.Dark

    def _on_hints_color_scheme_changed(self, _scheme: Qt.ColorScheme) -> None:
        if self.mode == "system":
            self.apply()


def _palette(c: dict[str, str]) -> QPalette:
    pal = QPalette()
    role = QPalette.ColorRole
    for r, key in ((role.Window, "window"), (role.WindowText, "text"), (role.Base, "base"),
                   (role.AlternateBase, "alt"), (role.Text, "text"), (role.Button, "button"),
                   (role.ButtonText, "text"), (role.ToolTipBase, "tooltip"),
                   (role.ToolTipText, "text"), (role.PlaceholderText, "muted"),
                   (role.Highlight, "accent"), (role.HighlightedText, "accent_text"),
                   (role.Link, "accent"), (role.Mid, "border"), (role.Midlight, "alt"),
                   (role.Light, "base"), (role.Dark, "border"), (role.Shadow, "border")):
        pal.setColor(r, QColor(c[key]))
    group = QPalette.ColorGroup.Disabled
    for r in (role.WindowText, role.Text, role.ButtonText):
        pal.setColor(group, r, QColor(c["disabled"]))
    return pal


@lru_cache(maxsize=64)
def themed_icon(name: str, color: str, disabled_color: str = "#9aa0ad") -> QIcon:
    svg = (ICONS_DIR / f"{name}.svg").read_text(encoding="utf-8")
    icon = QIcon()
    for mode, col in ((QIcon.Mode.Normal, color), (QIcon.Mode.Disabled, disabled_color)):
        renderer = QSvgRenderer(QByteArray(svg.replace("#000000", col).encode()))
        for size in (16, 20, 24, 32, 48):
            pix = QPixmap(QSize(size, size))
            pix.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pix)
            renderer.render(painter)
            painter.end()
            icon.addPixmap(pix, mode)
    return icon


def app_icon() -> QIcon:
    return QIcon(str(APP_ICON))
