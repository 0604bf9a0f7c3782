"""The window's config editing: Save, Revert, Undo / Redo on the shared ``ConfigState``, the
"unsaved changes" line in the status bar and the questions before overwriting or closing.

Bound by ``MainWindow.attach`` once the config folder has been read (the window is painted
before that, with Save and Revert disabled).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PyQt6.QtGui import QKeySequence
from PyQt6.QtWidgets import QMessageBox

from llamahome_gui.config.errors import ConfigConflictError
from llamahome_gui.ui.state import ConfigStateError

if TYPE_CHECKING:
    from llamahome_gui.ui.context import AppContext
    from llamahome_gui.ui.main_window import MainWindow

log = logging.getLogger(__name__)


def bind(window: MainWindow, ctx: AppContext) -> None:
    """Follow the state (Save/Revert enabled, the status line) and add Undo / Redo."""
    state = ctx.state
    for signal in (state.any_dirty_changed, state.errors_changed, state.value_changed,
                   state.reloaded):
        signal.connect(lambda *_: refresh(window))
    keys = QKeySequence.StandardKey
    undo = state.undo_stack.createUndoAction(window, "&Undo")
    undo.setObjectName("edit.undo")
    undo.setShortcuts([QKeySequence(keys.Undo)])
    redo = state.undo_stack.createRedoAction(window, "&Redo")
    redo.setObjectName("edit.redo")
    redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    edit = window.menu("Edit")
    edit.insertActions(edit.actions()[0] if edit.actions() else None, [undo, redo])
    for action in (undo, redo):
        window.register_action(action)
    refresh(window)


def refresh(window: MainWindow) -> None:
    """Save / Revert enabled as the edits allow; the unsaved count in the status bar."""
    save, revert = window.action("config.save"), window.action("config.revert")
    if window.ctx is None:  # the config is still being read
        save.setEnabled(False)
        revert.setEnabled(False)
        return
    state = window.ctx.state
    dirty = state.dirty_keys()
    valid = state.is_valid()
    save.setEnabled(bool(dirty) and valid)
    revert.setEnabled(bool(dirty))
    window.setWindowModified(bool(dirty))
    if dirty:
        text = f"{len(dirty)} unsaved change{'s' * (len(dirty) != 1)}"
        bad = [c for c in state.components() if not state.is_valid(c)]
        window.unsaved_label.setText(text if valid else f"{text} \u2014 fix {', '.join(bad)} "
                                                        "to save")
    else:
        window.unsaved_label.setText("All changes saved")


def save_all(window: MainWindow) -> bool:
    """Save every changed component; ask before overwriting an edit made on disk."""
    ctx = window.ctx
    if ctx is None:
        return True
    state = ctx.state
    if not state.is_dirty():
        ctx.show_status("Nothing to save", 3000)
        return True
    if not state.is_valid():
        ctx.show_status("Not saved: fix the fields marked in red first", 6000)
        return False
    try:
        result = state.save()
    except ConfigStateError as exc:
        QMessageBox.warning(window, "Not saved", str(exc))
        return False
    except ConfigConflictError as exc:
        answer = QMessageBox.question(
            window, "Overwrite changes made on disk?",
            "Some settings you edited were also changed on disk since they were loaded: "
            f"{', '.join(exc.keys)}.\n\nSave yours over them?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Save:
            return False
        result = state.save(force=True)
    except Exception as exc:  # the store refused (e.g. the file became invalid)
        QMessageBox.warning(window, "Not saved", f"{type(exc).__name__}: {exc}")
        return False
    keys = [k for changed in result.values() for k in changed]
    files = ", ".join(state.path(c).name for c, changed in result.items() if changed)
    log.info("saved %s", ", ".join(keys) or "nothing (the files already held these values)")
    ctx.show_status(f"Saved {len(keys)} setting{'s' * (len(keys) != 1)}"
                    + (f" to {files}" if files else ""), 5000)
    return True


def revert(window: MainWindow) -> None:
    if window.ctx is not None:
        window.ctx.state.revert()
        window.ctx.show_status("Unsaved changes reverted (Ctrl+Z brings them back)", 5000)


MAX_LISTED = 12


def unsaved_lines(state) -> list[str]:  # noqa: ANN001 - ConfigState
    """One line per unsaved setting: ``key: saved → now`` (long values shortened)."""
    def short(value: object) -> str:
        text = repr(value) if isinstance(value, str) else str(value)
        return text if len(text) <= 40 else text[:39] + "…"

    return [f"{key}: {short(state.saved_value(key))} → {short(state.value(key))}"
            for key in state.dirty_keys()]


def may_close(window: MainWindow) -> bool:
    """False when the user keeps the window open (Cancel, or a save that failed)."""
    if window.ctx is None or not window.ctx.state.is_dirty():
        return True
    lines = unsaved_lines(window.ctx.state)
    count = len(lines)
    buttons = QMessageBox.StandardButton
    box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes",
                      f"You have {count} unsaved config change{'s' * (count != 1)}:",
                      buttons.Save | buttons.Discard | buttons.Cancel, window)
    box.setObjectName("dialog.unsaved")
    shown = lines[:MAX_LISTED] + ([f"… and {count - MAX_LISTED} more"]
                                  if count > MAX_LISTED else [])
    box.setInformativeText("\n".join(shown) + "\n\nSave them before closing?")
    if count > MAX_LISTED:
        box.setDetailedText("\n".join(lines))
    box.setDefaultButton(buttons.Save)
    answer = box.exec()
    return not (answer == buttons.Cancel or (answer == buttons.Save and not save_all(window)))
