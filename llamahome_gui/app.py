"""Composition root of the window: ``llamahome-gui`` / ``python -m llamahome_gui``.

``build_main_window(config_dir)`` wires the ConfigManager, the shared ConfigState, the
AppContext and the pages into a ready (not yet shown) ``MainWindow``. Pages plug in by
module: ``llamahome_gui.ui.pages.<key>_page.create_page(ctx) -> QWidget``; a module that is
not in this build gets a placeholder page. The status-bar strip plugs in the same way
(``llamahome_gui.ui.widgets.resource_strip.create_strip(ctx) -> QWidget``).

Nothing here imports torch / transformers / peft: the window must open fast.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import traceback
from pathlib import Path
from types import ModuleType

from PyQt6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PyQt6.QtWidgets import QApplication, QWidget

from llamahome_gui import APP_NAME, __version__, paths

# (key, title, icon name in resources/icons, module providing create_page(ctx))
PAGES: list[tuple[str, str, str, str]] = [
    ("configs", "Configs", "configs", "llamahome_gui.ui.pages.configs_page"),
    ("train", "Train", "train", "llamahome_gui.ui.pages.train_page"),
    ("chat", "Chat", "chat", "llamahome_gui.ui.pages.chat_page"),
    ("monitor", "Monitor", "monitor", "llamahome_gui.ui.pages.monitor_page"),
    ("runs", "Runs", "runs", "llamahome_gui.ui.pages.runs_page"),
    ("models", "Models", "models", "llamahome_gui.ui.pages.models_page"),
]
STRIP_MODULE = "llamahome_gui.ui.widgets.resource_strip"
SCREENSHOT_SIZE = (1280, 800)


def _import_plugin(module: str) -> ModuleType | None:
    """The module, or None when exactly this module is not part of the build."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def ensure_application(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "llamahome-gui", *(argv or [])])
    app.setApplicationName("llamahome-gui")
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName("LlamaHome")
    app.setDesktopFileName("llamahome-gui")
    return app  # type: ignore[return-value]


def app_settings() -> QSettings:
    """The window's own settings: an ini file in the user data folder (tests move it)."""
    return QSettings(str(paths.user_data_dir() / "gui-settings.ini"), QSettings.Format.IniFormat)


def build_main_window(config_dir: Path | None = None, *, appearance: str | None = None,
                      lazy_pages: bool = False, start_page: str | None = None):
    """The ready, not yet shown, main window over ``config_dir`` (default: as the CLI finds it).

    ``lazy_pages`` (the interactive app): only the page shown first is built now; the others
    are built one per event-loop turn once the window is up, or at once when asked for
    (``ctx.page(key)``, navigation). Tests and screenshots get every page built.
    ``start_page``: the page to open on (default: the one shown when the app last closed)."""
    from llamahome_gui.config.manager import ConfigManager
    from llamahome_gui.ui.context import AppContext
    from llamahome_gui.ui.main_window import MainWindow
    from llamahome_gui.ui.pages.placeholder_page import failed_page, missing_page
    from llamahome_gui.ui.state import ConfigState
    from llamahome_gui.ui.theme import ThemeManager, app_icon

    app = ensure_application()
    settings = app_settings()
    mode = appearance or str(settings.value("appearance", "system"))
    theme = getattr(app, "_llamahome_theme", None)
    if theme is None:
        theme = ThemeManager(app, mode)
        app._llamahome_theme = theme  # one per application, shared by every window
    elif theme.mode != mode:
        theme.set_mode(mode)
    app.setWindowIcon(app_icon())

    config = ConfigManager(config_dir)
    state = ConfigState(config)
    ctx = AppContext(config, state, settings)
    ctx.theme = theme
    window = MainWindow(ctx, theme)
    state.setParent(window)
    ctx.window = window

    built: dict[str, QWidget] = {}
    specs = {key: (title, icon, module) for key, title, icon, module in PAGES}

    def build_page(key: str) -> QWidget:
        if key in built:
            return built[key]
        if key not in specs:
            raise KeyError(f"unknown page {key!r}; pages: {', '.join(specs)}")
        title, _icon, module_name = specs[key]
        try:
            module = _import_plugin(module_name)
            page = missing_page(title, module_name) if module is None else module.create_page(ctx)
        except Exception as exc:  # a broken page must not take the window down
            traceback.print_exc()
            page = failed_page(title, module_name, exc)
        page.setObjectName(page.objectName() or f"page.{key}")
        built[key] = page
        if lazy_pages:
            window.replace_page(key, page)
        return page

    def add_strip() -> None:
        try:
            strip_module = _import_plugin(STRIP_MODULE)
            if strip_module is not None:
                window.statusBar().addPermanentWidget(strip_module.create_strip(ctx))
        except Exception:
            traceback.print_exc()

    ctx._page_builder = build_page
    for key, title, icon, _module in PAGES:
        window.add_page(key, title, icon, QWidget() if lazy_pages else build_page(key))
    if lazy_pages:
        window.page_changed.connect(build_page)
        window.restore_settings()
        if start_page:
            window.navigate(start_page)
        build_page(window.current_page())
        pending = [key for key, *_ in PAGES if key not in built]

        def build_next() -> None:
            while pending and pending[0] in built:
                pending.pop(0)
            if pending:
                build_page(pending.pop(0))
                QTimer.singleShot(0, build_next)
            else:
                add_strip()

        # after the first frame is on screen, so the window appears before the rest is built
        window.first_shown.connect(lambda: QTimer.singleShot(150, build_next))
        if window.isVisible():
            QTimer.singleShot(0, build_next)
    else:
        add_strip()
        window.restore_settings()
        if start_page:
            window.navigate(start_page)
    window.statusBar().showMessage(f"Config folder: {Path(config.config_dir).resolve()}", 8000)
    return window


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="llamahome-gui",
                                     description=f"{APP_NAME}: fine-tune and chat with local models.")
    parser.add_argument("--config-dir", type=Path, default=None, metavar="DIR",
                        help="config folder (default: ./config if present, else the user's)")
    parser.add_argument("--tab", choices=[key for key, *_ in PAGES], default=None,
                        help="page to open on")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="FILE.png",
                        help="render the ready window to FILE.png and exit")
    parser.add_argument("--appearance", choices=["system", "light", "dark"], default=None,
                        help="light or dark look (default: follow the system)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = ensure_application()
    try:
        window = build_main_window(args.config_dir, appearance=args.appearance,
                                   lazy_pages=args.screenshot is None, start_page=args.tab)
    except Exception as exc:
        print(f"llamahome-gui: cannot open the window: {exc}", file=sys.stderr)
        return 1
    if args.screenshot is not None:
        return _screenshot(app, window, args.screenshot)
    window.show()
    _close_on_sigint(window)
    return app.exec()


def _close_on_sigint(window) -> None:
    """Ctrl+C in the terminal closes the window the normal way (unsaved changes are asked)."""
    signal.signal(signal.SIGINT, lambda *_: window.close())
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)  # lets Python run its signal handlers
    timer.start(250)


def _screenshot(app: QApplication, window, target: Path) -> int:
    """Show the window at 1280x800 or larger, let it settle, save a PNG, exit."""
    window.persist_settings = False
    window.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)  # leave the app running
    width, height = SCREENSHOT_SIZE
    window.resize(width, height)
    window.show()
    result = {"code": 1}
    loop = QEventLoop()

    def grab() -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(target), "PNG")
        if not ok:
            print(f"llamahome-gui: could not write {target}", file=sys.stderr)
        else:
            print(f"Saved screenshot to {target}")
        result["code"] = 0 if ok else 1
        window.ctx.state.revert()
        window.close()
        loop.quit()

    QTimer.singleShot(400, grab)  # let pages finish their first layout and paint
    loop.exec()  # a local loop: the application itself is not quit (in-process callers)
    window.deleteLater()
    return result["code"]


if __name__ == "__main__":
    sys.exit(main())
