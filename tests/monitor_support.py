"""A window context with a fast monitor, shared by the monitor worker and page tests."""

from __future__ import annotations

from PyQt6.QtCore import QSettings

from llamahome_gui.app import app_theme
from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.state import ConfigState


def make_ctx(config_dir, tmp_path, **resource_monitor) -> AppContext:
    """An AppContext sampling every 50 ms, with ``resource.monitor.*`` values saved first."""
    config = ConfigManager(config_dir)
    config.update("resource", {"monitor.check_interval": 0.05,
                               **{f"monitor.{k}": v for k, v in resource_monitor.items()}})
    settings = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
    return AppContext(config, ConfigState(config, watch=False), settings, app_theme())


def stop_monitor(ctx: AppContext) -> None:
    """Stop the context's monitor thread, if a test started one."""
    service = ctx.monitor_if_started()
    if service is not None:
        service.stop()
