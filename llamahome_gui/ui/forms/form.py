"""ConfigForm and FieldRow: generated editors bound two-way to the shared ConfigState.

A FieldRow is one field: label (title or humanized name), the registry's editor (objectName =
key path), an environment badge, a modified marker, a menu with Reset to default / Revert to
saved, and an inline error line. A ConfigForm groups rows by section and keeps them in step
with the state: user edits go to ``state.set_value``; state changes come back with the
editor's signals blocked, and only when the editor shows something else (no cursor jumps).
"""

from __future__ import annotations

import fnmatch
import html
from collections.abc import Iterable
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.config.introspect import FieldSpec, humanize, section_specs
from llamahome_gui.ui.forms.editors import format_scientific
from llamahome_gui.ui.forms.registry import REGISTRY, EditorRegistry, choices_of
from llamahome_gui.ui.state import ConfigState, ConfigStateError

_WIDE = ("path", "strlist", "text", "checklist", "toml")
_MEDIUM = ("line", "size", "numberlist")


def _num(value: Any, scientific: bool = False) -> str:
    if isinstance(value, float):
        return format_scientific(value) if scientific else f"{value:g}"
    return str(value)


def range_text(spec: FieldSpec) -> str:
    sci = spec.extra.get("widget") == "scientific"
    low = f"\u2265 {_num(spec.ge, sci)}" if spec.ge is not None else \
        f"> {_num(spec.gt, sci)}" if spec.gt is not None else ""
    high = f"\u2264 {_num(spec.le, sci)}" if spec.le is not None else \
        f"< {_num(spec.lt, sci)}" if spec.lt is not None else ""
    if spec.ge is not None and spec.le is not None:
        return f"{_num(spec.ge, sci)} to {_num(spec.le, sci)}"
    return " and ".join(p for p in (low, high) if p)


def value_text(value: Any, spec: FieldSpec | None = None) -> str:
    if isinstance(value, str):
        return f'"{value}"' if value else '"" (empty)'
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return "[" + ", ".join(str(getattr(v, "value", v)) for v in value) + "]"
    sci = spec is not None and spec.extra.get("widget") == "scientific"
    return _num(getattr(value, "value", value), sci)


def tooltip_html(spec: FieldSpec, key_path: str) -> str:
    """Description, range, choices and default -- everything the schema says."""
    parts = [f"<p><b>{html.escape(spec.title)}</b></p>"]
    if spec.description:
        parts.append(f"<p>{html.escape(spec.description)}</p>")
    facts = []
    if (rng := range_text(spec)):
        facts.append(f"Range: {html.escape(rng)}" + (f" {html.escape(spec.unit)}" if spec.unit else ""))
    if (choices := choices_of(spec.annotation)):
        facts.append("Choices: " + html.escape(", ".join(str(getattr(c, "value", c))
                                                         for c in choices)))
    facts.append(f"Default: {html.escape(value_text(spec.default, spec))}")
    parts.append("<p>" + "<br>".join(facts) + "</p>")
    parts.append(f"<p><code>{html.escape(key_path)}</code></p>")
    return "".join(parts)


class FieldRow(QWidget):
    """One field of a form."""

    def __init__(self, state: ConfigState, key_path: str, registry: EditorRegistry,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.key_path = key_path
        self.spec = state.field(key_path)
        self.component = key_path.split(".", 1)[0]
        self.setObjectName(f"{key_path}.row")
        tip = tooltip_html(self.spec, key_path)

        self.editor = registry.create(self.spec, self)
        self.editor.setObjectName(key_path)
        self.editor.setToolTip(tip)
        self.editor.setAccessibleName(self.spec.title)
        self.editor.setAccessibleDescription(self.spec.description)
        # a field no code acts on says so where it is read, not only in its tooltip
        title = f"{self.spec.title} <i>(informational)</i>" if self.spec.informational \
            else self.spec.title
        self.label = QLabel(title, self)
        self.label.setObjectName(f"{key_path}.label")
        self.label.setProperty("fieldLabel", True)
        self.label.setToolTip(tip)
        self.label.setWordWrap(True)
        self.label.setBuddy(self.editor)
        self.badge = QLabel(self)
        self.badge.setObjectName(f"{key_path}.env")
        self.badge.setProperty("envBadge", True)
        self.badge.hide()
        self.marker = QLabel("\u25cf", self)
        self.marker.setObjectName(f"{key_path}.modified")
        self.marker.setProperty("modifiedMarker", True)
        self.marker.setFixedWidth(12)
        self.menu_button = QToolButton(self)
        self.menu_button.setObjectName(f"{key_path}.menu")
        self.menu_button.setText("\u22ef")
        self.menu_button.setToolTip("Reset to default, revert to saved")
        self.menu_button.setAutoRaise(True)
        self.menu_button.setProperty("fieldMenu", True)
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.menu_button)
        self.reset_action = menu.addAction("Reset to default")
        self.reset_action.setObjectName(f"{key_path}.reset")
        self.reset_action.triggered.connect(self._on_reset_triggered)
        self.revert_action = menu.addAction("Revert to saved")
        self.revert_action.setObjectName(f"{key_path}.revert")
        self.revert_action.triggered.connect(self._on_revert_triggered)
        self.menu_button.setMenu(menu)
        self.error_label = QLabel(self)
        self.error_label.setObjectName(f"{key_path}.error")
        self.error_label.setProperty("fieldError", True)
        self.error_label.setWordWrap(True)
        self.error_label.hide()

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 2, 0, 2)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.label, 0, 0, Qt.AlignmentFlag.AlignVCenter)
        # marker and menu sit right after the editor (not at the far edge of a wide form);
        # small minimum widths, so a narrow pane wraps labels instead of scrolling sideways
        holder = QHBoxLayout()
        holder.setSpacing(4)
        holder.addWidget(self.editor, 1 if self._is_wide(registry) else 0)
        holder.addWidget(self.badge)
        holder.addWidget(self.marker)
        holder.addWidget(self.menu_button)
        if not self._is_wide(registry):
            medium = self._widget_name(registry) in _MEDIUM
            if self._widget_name(registry) != "check":  # a check box is as wide as its box
                self.editor.setMinimumWidth(160 if medium else 110)
                self.editor.setMaximumWidth(440 if medium else 320)
            holder.addStretch(1)
        grid.addLayout(holder, 0, 1)
        grid.addWidget(self.error_label, 1, 1)
        grid.setColumnStretch(1, 1)

        self.editor.field_edited.connect(self._on_editor_field_edited)
        self.refresh(value=True)

    def _widget_name(self, registry: EditorRegistry) -> str | None:
        try:
            return registry.widget_name(self.spec)
        except KeyError:
            return None

    def _is_wide(self, registry: EditorRegistry) -> bool:
        name = self._widget_name(registry)
        return name is None or name in _WIDE

    # -- state -> widgets ---------------------------------------------------------------
    def refresh(self, value: bool = False) -> None:
        state, key = self.state, self.key_path
        if value:
            current = state.value(key)
            if self.editor.field_value() != current:
                self.editor.set_field_value(current)
        env = state.env_var(key)
        self.badge.setVisible(env is not None)
        self.editor.set_field_read_only(env is not None or bool(state.load_error(self.component)))
        if env is not None:
            self.badge.setText(f"env {env}")
            self.badge.setToolTip(f"Set by the environment variable {env}; read-only here. "
                                  f"Unset {env} to edit this setting.")
        modified = state.is_modified(key)
        self.marker.setVisible(modified)
        self.marker.setToolTip(f"Unsaved change (saved: {value_text(state.saved_value(key))})")
        if self.label.property("modified") != modified:
            self.label.setProperty("modified", modified)
            self.label.style().unpolish(self.label)
            self.label.style().polish(self.label)
        self.reset_action.setEnabled(env is None and not state.is_default(key))
        self.reset_action.setText(f"Reset to default ({value_text(state.default_value(key))})")
        self.revert_action.setEnabled(env is None and modified)
        self.revert_action.setText(f"Revert to saved ({value_text(state.saved_value(key))})")
        error = state.error(key)
        shown = value_text(state.value(key), self.spec)
        if error and shown.strip('"') not in error:
            error = f"{error} (value: {shown})"
        self.error_label.setText(f"\u26a0 {error}" if error else "")
        self.error_label.setVisible(bool(error))

    def matches(self, words: list[str]) -> bool:
        hay = " ".join((self.key_path, self.spec.title, self.spec.description)).lower()
        return all(w in hay for w in words)

    # -- widgets -> state -----------------------------------------------------------------
    def _on_editor_field_edited(self, value: Any) -> None:
        try:
            self.state.set_value(self.key_path, value)
        except ConfigStateError as exc:
            self.error_label.setText(f"\u26a0 {exc}")
            self.error_label.show()

    def _on_reset_triggered(self) -> None:
        self.state.reset_to_default(self.key_path)

    def _on_revert_triggered(self) -> None:
        self.state.revert_to_saved(self.key_path)


class AdvancedFold(QWidget):
    """The advanced rows of one section behind a "▸ Advanced (n)" toggle, folded at first."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{name}.advanced")
        self.toggle = QToolButton(self)
        self.toggle.setObjectName(f"{name}.advanced.toggle")
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.body = QWidget(self)
        self.body.setObjectName(f"{name}.advanced.body")
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.toggle)
        layout.addWidget(self.body)
        self.body.hide()
        self.rows: list[FieldRow] = []
        self._forced = False
        self.toggle.toggled.connect(self._on_toggle_toggled)

    def add(self, row: FieldRow) -> None:
        row.setParent(self.body)
        self.body.layout().addWidget(row)
        self.rows.append(row)
        self.toggle.setText(f"Advanced ({len(self.rows)})")
        self.toggle.setToolTip("Settings a first run can leave at their defaults: "
                               + ", ".join(r.spec.title for r in self.rows))

    def force_open(self, forced: bool) -> None:
        self._forced = forced
        self.body.setVisible(forced or self.toggle.isChecked())

    def _on_toggle_toggled(self, checked: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if checked else Qt.ArrowType.RightArrow)
        self.body.setVisible(checked or self._forced)


def select_keys(state: ConfigState, component: str, sections: Iterable[str] | None,
                keys: Iterable[str] | None) -> list[str]:
    """Key paths of the component chosen by section names and/or key patterns (fnmatch)."""
    all_keys = state.keys(component)
    chosen = all_keys
    if sections is not None:
        wanted = set(sections)
        chosen = [k for k in chosen if state.field(k).section in wanted]
    if keys is not None:
        patterns = [p if p.startswith(f"{component}.") else f"{component}.{p}" for p in keys]
        picked = [k for k in all_keys if any(fnmatch.fnmatchcase(k, p) for p in patterns)]
        chosen = picked if sections is None else sorted(
            set(chosen) | set(picked), key=all_keys.index)
    return chosen


class ConfigForm(QWidget):
    """Generated editors for (part of) one component, grouped by section."""

    def __init__(self, state: ConfigState, component: str, sections: Iterable[str] | None = None,
                 keys: Iterable[str] | None = None, *, registry: EditorRegistry = REGISTRY,
                 group_titles: bool = True, fold_advanced: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.component = component
        self.setObjectName(f"form.{component}")
        self.rows: dict[str, FieldRow] = {}
        self.groups: dict[str, QGroupBox] = {}
        self.advanced: dict[str, AdvancedFold] = {}  # per section, when fold_advanced
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.form_error = QLabel(self)
        self.form_error.setObjectName(f"form.{component}.error")
        self.form_error.setProperty("formError", True)
        self.form_error.setWordWrap(True)
        self.form_error.hide()
        layout.addWidget(self.form_error)

        model = state.model_class(component)
        infos = section_specs(model) if model is not None else {}
        for key_path in select_keys(state, component, sections, keys):
            section = state.field(key_path).section
            group = self.groups.get(section)
            if group is None:
                info = infos.get(section)
                group = QGroupBox(info.title if info else humanize(section or component), self)
                group.setObjectName(f"{component}.{section}.group" if section else
                                    f"{component}.group")
                group.setProperty("formSection", True)
                group.setFlat(not group_titles)
                if not group_titles:
                    group.setTitle("")
                box = QVBoxLayout(group)
                box.setSpacing(2)
                if info and info.description and group_titles:
                    about = QLabel(info.description, group)
                    about.setProperty("muted", True)
                    about.setWordWrap(True)
                    box.addWidget(about)
                self.groups[section] = group
                layout.addWidget(group)
            row = FieldRow(state, key_path, registry, group)
            if fold_advanced and row.spec.advanced:
                fold = self.advanced.get(section)
                if fold is None:
                    fold = self.advanced[section] = AdvancedFold(f"{component}.{section}", group)
                fold.add(row)
            else:
                group.layout().addWidget(row)
            self.rows[key_path] = row
        for section, fold in self.advanced.items():  # after the basic rows of its section
            self.groups[section].layout().addWidget(fold)
        layout.addStretch(1)
        self._align_labels()

        state.value_changed.connect(self._on_state_value_changed)
        state.errors_changed.connect(self._on_state_component_changed)
        state.reloaded.connect(self._on_state_component_changed)
        state.saved.connect(self._on_state_saved)
        self._refresh_form_error()

    def _align_labels(self) -> None:
        if not self.rows:
            return
        metrics = next(iter(self.rows.values())).label.fontMetrics()
        widest = max(metrics.horizontalAdvance(r.label.text()) for r in self.rows.values())
        for row in self.rows.values():
            row.label.setFixedWidth(min(200, max(widest + 8, 110)))

    def editor(self, key_path: str) -> QWidget:
        return self.rows[key_path].editor

    def apply_filter(self, text: str) -> int:
        """Show only fields whose key, title or description contain every word; the count."""
        words = text.lower().split()
        for fold in self.advanced.values():  # a search looks inside the folded part too
            fold.force_open(bool(words))
        shown = 0
        for row in self.rows.values():
            visible = row.matches(words)
            row.setVisible(visible)
            shown += visible
        for section, group in self.groups.items():
            group.setVisible(any(r.isVisibleTo(group) for r in self.rows.values()
                                 if r.spec.section == section))
        return shown

    def _refresh_form_error(self) -> None:
        errors = self.state.errors(self.component)
        messages = [m for k, m in errors.items() if k == self.component]
        load_error = self.state.load_error(self.component)
        if load_error:
            messages.insert(0, f"{self.state.path(self.component).name} could not be read, so "
                               f"its settings are read-only here: {load_error}. Fix the file in "
                               "an editor; it is read again as soon as it is saved.")
        self.form_error.setText("\n".join(f"\u26a0 {m}" for m in messages))
        self.form_error.setVisible(bool(messages))

    def _on_state_value_changed(self, key_path: str, _value: Any) -> None:
        row = self.rows.get(key_path)
        if row is not None:
            row.refresh(value=True)

    def _on_state_component_changed(self, component: str) -> None:
        if component == self.component:
            for row in self.rows.values():
                row.refresh(value=True)
            self._refresh_form_error()

    def _on_state_saved(self, component: str, _changed: list) -> None:
        self._on_state_component_changed(component)
