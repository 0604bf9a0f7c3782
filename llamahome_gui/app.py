"""Composition root of the window: ``llamahome-gui`` / ``python -m llamahome_gui``.

The window comes first: ``open_shell`` shows the navigation, menus, status bar and an empty
page stack before the config layer or any page is imported; once that frame is painted the
``PageHost`` reads the config folder and builds the page on screen. Every other page is
built on its first visit. Adding a page or a dialog is one line in ``PAGES`` / ``DIALOGS``.

``build_main_window(config_dir)`` gives the ready, not yet shown, window with every page
built (tests and screenshots use it). Nothing here imports torch / transformers / peft.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from PyQt6.QtCore import QEventLoop, QSettings, Qt, QTimer
from PyQt6.QtWidgets import QApplication

from llamahome_gui import APP_NAME, __version__, paths
from llamahome_gui.ui.page_host import DialogSpec, PageHost, PageSpec
from llamahome_gui.ui.theme import ThemeManager, app_icon

PAGES: list[PageSpec] = [
    PageSpec("configs", "Configs", "configs", "llamahome_gui.ui.pages.configs_page"),
    # preloaded: it follows a run still training from an earlier session
    PageSpec("train", "Train", "train", "llamahome_gui.ui.pages.train_page", preload=True),
    PageSpec("chat", "Chat", "chat", "llamahome_gui.ui.pages.chat_page"),
    PageSpec("monitor", "Monitor", "monitor", "llamahome_gui.ui.pages.monitor_page"),
    PageSpec("runs", "Runs", "runs", "llamahome_gui.ui.pages.runs_page"),
    PageSpec("models", "Models", "models", "llamahome_gui.ui.pages.models_page"),
    # first launch only, and Help > Getting Started (see open_first_page)
    PageSpec("welcome", "Welcome", "runs", "llamahome_gui.ui.pages.welcome_page", in_nav=False),
]
DIALOGS: list[DialogSpec] = []
STRIP_MODULE = "llamahome_gui.ui.widgets.resource_strip"
SCREENSHOT_SIZE = (1280, 800)


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


def app_theme(mode: str | None = None) -> ThemeManager:
    """The application's one ThemeManager (made on first use), set to ``mode`` if given."""
    app = ensure_application()
    theme = getattr(app, "_llamahome_theme", None)
    if theme is None:
        theme = ThemeManager(app, mode or "system")
        app._llamahome_theme = theme  # one per application, shared by every window
    elif mode is not None and theme.mode != mode:
        theme.set_mode(mode)
    return theme


def open_shell(*, appearance: str | None = None, start_page: str | None = None) -> PageHost:
    """The window's shell with a stand-in for every page, not yet shown; ``host.window``."""
    from llamahome_gui.ui.main_window import MainWindow

    app = ensure_application()
    settings = app_settings()
    theme = app_theme(appearance or str(settings.value("appearance", "system")))
    app.setWindowIcon(app_icon())
    window = MainWindow(theme, settings)
    host = PageHost(window, PAGES, DIALOGS, STRIP_MODULE)
    window.restore_settings()
    if start_page:
        window.navigate(start_page)
    return host


def build_main_window(config_dir: Path | None = None, *, appearance: str | None = None,
                      lazy_pages: bool = False, start_page: str | None = None):
    """The ready, not yet shown, main window over ``config_dir`` (default: as the CLI finds it).

    Every page is built, unless ``lazy_pages``: then only the page shown first is, and the
    others as the interactive app builds them (preloaded ones once the window is shown,
    the rest on their first visit). ``start_page``: the page to open on (default: the one
    shown when the app last closed)."""
    host = open_shell(appearance=appearance, start_page=start_page)
    host.load(config_dir)
    if start_page is None:
        open_first_page(host)
    if lazy_pages:
        host.start()
    else:
        host.build_all()
    return host.window


def open_main_window(config_dir: Path | None = None, *, appearance: str | None = None,
                     start_page: str | None = None) -> PageHost:
    """The interactive start: show the shell, and read the config and build the page on
    screen once that first frame is painted. A config that cannot be read ends the app
    with exit code 1 and the reason."""
    host = open_shell(appearance=appearance, start_page=start_page)
    window = host.window

    def load() -> None:
        try:
            host.load(config_dir)
        except Exception as exc:  # noqa: BLE001 - say why, in one line, and leave
            print(f"llamahome-gui: cannot open the window: {exc}", file=sys.stderr)
            window.persist_settings = False
            window.close()
            QApplication.exit(1)
            return
        if start_page is None:
            open_first_page(host)
        host.start()

    window.first_painted.connect(load)
    window.statusBar().showMessage("Reading the config folder\u2026")
    window.show()
    return host


def is_first_launch(host: PageHost) -> bool:
    """No page remembered from an earlier session and no run in the runs folder yet."""
    if host.window.settings.contains("window/page") or host.ctx is None:
        return False
    from llamahome_gui.core.runs import list_runs

    try:
        return not list_runs(host.ctx.state.value("training.training.output_dir"))
    except OSError:
        return False


def open_first_page(host: PageHost) -> None:
    """The welcome page on a first launch; else the page remembered (already shown)."""
    if "welcome" in host.window.page_keys() and is_first_launch(host):
        host.window.navigate("welcome")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="llamahome-gui",
                                     description=f"{APP_NAME}: fine-tune and chat with local models.")
    parser.add_argument("--config-dir", type=Path, default=None, metavar="DIR",
                        help="config folder (default: ./config if present, else the user's)")
    parser.add_argument("--tab", choices=[spec.key for spec in PAGES], default=None,
                        help="page to open on")
    parser.add_argument("--screenshot", type=Path, default=None, metavar="FILE.png",
                        help="render the ready window to FILE.png and exit")
    parser.add_argument("--size", type=_size, default=SCREENSHOT_SIZE, metavar="WxH",
                        help="window size for --screenshot (default: 1280x800)")
    parser.add_argument("--appearance", choices=["system", "light", "dark"], default=None,
                        help="light or dark look (default: follow the system)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: write WIDTHxHEIGHT, e.g. 1024x640") from None
    return width, height


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = ensure_application()
    if args.screenshot is not None:
        try:
            window = build_main_window(args.config_dir, appearance=args.appearance,
                                       start_page=args.tab)
        except Exception as exc:
            print(f"llamahome-gui: cannot open the window: {exc}", file=sys.stderr)
            return 1
        code = _screenshot(app, window, args.screenshot, args.size)
        from llamahome_gui.workers.run_task import drain_tasks

        drain_tasks()  # no app.exec(), so no aboutToQuit: wait for background checks here
        return code
    host = open_main_window(args.config_dir, appearance=args.appearance, start_page=args.tab)
    _close_on_sigint(host.window)
    return app.exec()


def _close_on_sigint(window) -> None:
    """Ctrl+C in the terminal closes the window the normal way (unsaved changes are asked)."""
    signal.signal(signal.SIGINT, lambda *_: window.close())
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)  # lets Python run its signal handlers
    timer.start(250)


def _screenshot(app: QApplication, window, target: Path,
                size: tuple[int, int] = SCREENSHOT_SIZE) -> int:
    """Show the window at ``size`` (or the whole screen when it is smaller: Xvfb at 1024x640
    gives a 1024x640 shot), let it settle, save a PNG, exit."""
    window.persist_settings = False
    window.setAttribute(Qt.WidgetAttribute.WA_QuitOnClose, False)  # leave the app running
    width, height = size
    screen = app.primaryScreen()
    if screen is not None and screen.availableGeometry().width() > 0 \
            and app.platformName() != "offscreen":  # a small real screen: all of it
        area = screen.availableGeometry()
        width, height = min(width, area.width()), min(height, area.height())
    window.setMinimumSize(min(window.minimumWidth(), width), min(window.minimumHeight(), height))
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
