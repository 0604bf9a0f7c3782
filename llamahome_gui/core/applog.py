"""The app's log file: ``logs/llamahome-gui.log`` in the user data folder, at the level
``monitoring.logging.log_level`` sets; it rotates at 2 MiB and keeps three old files.

Every module logs through ``logging.getLogger(__name__)`` under ``llamahome_gui``; this
module only decides where those records go and from which level on.
"""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path

from llamahome_gui import paths

LOGGER = "llamahome_gui"
LOG_FILE = "llamahome-gui.log"
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def log_path() -> Path:
    return paths.user_data_dir() / "logs" / LOG_FILE


def configure_app_log(level: str, path: Path | None = None) -> Path:
    """Send the app's records of ``level`` and above to ``path`` (default: ``log_path()``);
    calling again changes the level (or the file) in place."""
    path = Path(path or log_path())
    logger = logging.getLogger(LOGGER)
    handler = next((h for h in logger.handlers if getattr(h, "_llamahome_app_log", False)), None)
    if handler is not None and handler.baseFilename != os.path.abspath(path):
        logger.removeHandler(handler)
        handler.close()
        handler = None
    if handler is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(path, maxBytes=2 * 2**20, backupCount=3, encoding="utf-8",
                                      delay=True)
        handler._llamahome_app_log = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(handler)
    handler.setLevel(level)
    logger.setLevel(level)
    return path
