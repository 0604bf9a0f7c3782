"""Configs page: one generated form per component, search, presets and a live diff.

Everything edits the shared ``ctx.state``; Save is the window's ``config.save`` action.
The bottom panel shows, line by line, what Save will change in the TOML files.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer, QUrl
from PyQt6.QtGui import (
    QAction,
    QColor,
    QDesktopServices,
    QKeySequence,
    QSyntaxHighlighter,
    QTextCharFormat,
)
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from llamahome_gui.config.introspect import humanize
from llamahome_gui.ui.context import AppContext
from llamahome_gui.ui.forms import ConfigForm, build_form


def compact_diff(text: str, context: int = 1) -> str:
    """A unified diff with at most ``context`` unchanged lines around each change, so the
    changed lines (and the comment above them) fit the small panel."""
    lines = text.splitlines()
    changed = [i for i, ln in enumerate(lines)
               if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    keep = set()
    for i in changed:
        keep.update(range(i - context, i + context + 1))
    out = []
    for i, line in enumerate(lines):
        if line.startswith(("+++", "---", "#")) or i in keep:
            out.append(line)
        elif line.startswith("@@"):
            continue
        elif out and out[-1] != "\u22ee" and not out[-1].startswith(("+++", "#")):
            out.append("\u22ee")
    while out and out[-1] == "\u22ee":
        out.pop()
    return "\n".join(out)


class DiffHighlighter(QSyntaxHighlighter):
    """Added lines green, removed lines red, hunk headers muted."""

    def __init__(self, document, colors: dict[str, str]) -> None:
        super().__init__(document)
        self.set_colors(colors)

    def set_colors(self, colors: dict[str, str]) -> None:
        self._formats = {}
        for prefix, bg in (("+", colors["diff_add"]), ("-", colors["diff_del"])):
            fmt = QTextCharFormat()
            fmt.setBackground(QColor(bg))
            self._formats[prefix] = fmt
        head = QTextCharFormat()
        head.setForeground(QColor(colors["muted"]))
        self._formats["@"] = head
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt API
        if text.startswith(("+++", "---", "@@", "#", "\u22ee")):
            self.setFormat(0, len(text), self._formats["@"])
        elif text[:1] in ("+", "-"):
            self.setFormat(0, len(text), self._formats[text[0]])


def action_button(action: QAction, text: str) -> QPushButton:
    """A short-labelled button that triggers a window action and follows its enabled state."""
    button = QPushButton(text)
    button.setObjectName(f"{action.objectName()}.button")
    button.setToolTip(action.toolTip())
    button.setEnabled(action.isEnabled())
    button.clicked.connect(action.trigger)
    action.changed.connect(lambda: button.setEnabled(action.isEnabled()))
    return button


class ConfigsPage(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.state = ctx.state
        self.forms: dict[str, ConfigForm] = {}
        self._pending_disk: list[str] = []
        self._diff_wanted = True

        title = QLabel("Configs")
        title.setObjectName("pageTitle")
        subtitle = QLabel(f"Settings in {ctx.config.config_dir.resolve()} \u2014 Save (Ctrl+S) "
                          "writes only what you changed; comments in the files are kept.")
        subtitle.setObjectName("pageSubtitle")
        subtitle.setWordWrap(True)
        subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.search = QLineEdit()
        self.search.setObjectName("config.search")
        self.search.setPlaceholderText("Search settings (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(260)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.presets_button = QToolButton()
        self.presets_button.setObjectName("config.presets")
        self.presets_button.setText("Presets")
        self.presets_button.setToolTip("Apply a preset to the forms (saved only when you Save)")
        self.presets_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.presets_menu = QMenu("Apply &Preset", self)
        self.presets_menu.setObjectName("config.presets.menu")
        self.presets_button.setMenu(self.presets_menu)
        self.presets_menu.aboutToShow.connect(self._fill_presets_menu)  # read when opened
        self._fill_presets_menu(describe=False)
        revert = action_button(ctx.window.action("config.revert"), "Revert")
        save = action_button(ctx.window.action("config.save"), "Save")
        save.setProperty("primary", True)

        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addStretch(1)
        bar.addWidget(self.presets_button)
        bar.addWidget(revert)
        bar.addWidget(save)

        self.banner = QFrame()
        self.banner.setObjectName("diskBanner")
        self.banner_label = QLabel()
        self.banner_label.setWordWrap(True)
        reload_button = QPushButton("Reload from disk (drop my edits)")
        reload_button.setObjectName("config.banner.reload")
        reload_button.clicked.connect(self._on_banner_reload_clicked)
        keep_button = QPushButton("Keep my edits")
        keep_button.setObjectName("config.banner.keep")
        keep_button.clicked.connect(self._on_banner_keep_clicked)
        banner_layout = QHBoxLayout(self.banner)
        banner_layout.addWidget(self.banner_label, 1)
        banner_layout.addWidget(reload_button)
        banner_layout.addWidget(keep_button)
        self.banner.hide()

        # schema files that could not become a component: said here, the rest works
        problems = ctx.config.schema_issues()
        self.schema_problems = QLabel("Schema file problems (fix them to get these forms):\n"
                                      + "\n".join(str(i) for i in problems))
        self.schema_problems.setObjectName("config.schema_problems")
        self.schema_problems.setWordWrap(True)
        self.schema_problems.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.schema_problems.setVisible(bool(problems))

        self.tabs = QTabWidget()
        self.tabs.setObjectName("config.tabs")
        self.tabs.setDocumentMode(True)
        for component in self.state.components():
            self._add_component_tab(component)

        diff_panel = QWidget()
        diff_layout = QVBoxLayout(diff_panel)
        diff_layout.setContentsMargins(0, 4, 0, 0)
        self.diff_title = QLabel()
        self.diff_title.setObjectName("config.diff.title")
        self.diff_view = QPlainTextEdit()
        self.diff_view.setObjectName("diffView")
        self.diff_view.setReadOnly(True)
        self.diff_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.diff_view.setPlaceholderText("No unsaved changes. Edit a field and the lines that "
                                          "Save will change appear here.")
        self._highlighter = DiffHighlighter(self.diff_view.document(), ctx.theme.colors())
        ctx.theme.changed.connect(self._on_theme_changed)  # bound: dropped with the page
        diff_layout.addWidget(self.diff_title)
        diff_layout.addWidget(self.diff_view, 1)
        self.diff_panel = diff_panel

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(diff_panel)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setSizes([600, 130])
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 8)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addLayout(bar)
        layout.addWidget(self.banner)
        layout.addWidget(self.schema_problems)
        layout.addWidget(self.splitter, 1)

        self._diff_timer = QTimer(self)
        self._diff_timer.setSingleShot(True)
        self._diff_timer.setInterval(120)
        self._diff_timer.timeout.connect(self._refresh_diff)
        for signal in (self.state.value_changed, self.state.saved, self.state.reloaded,
                       self.state.dirty_changed, self.state.errors_changed):
            signal.connect(self._on_state_changed)
        self.state.file_changed_on_disk.connect(self._on_state_file_changed_on_disk)
        self.state.reloaded_from_disk.connect(self._on_state_reloaded_from_disk)
        self._install_actions()
        self._refresh_tabs()
        self._refresh_diff()

    # -- building -------------------------------------------------------------------------
    def _on_theme_changed(self, _dark: bool) -> None:
        self._highlighter.set_colors(self.ctx.theme.colors())

    def _add_component_tab(self, component: str) -> None:
        form = build_form(self.state, component)
        self.forms[component] = form
        holder = QWidget()
        holder.setObjectName(f"config.tab.{component}")
        inner = QHBoxLayout(holder)
        inner.setContentsMargins(4, 8, 12, 8)
        form.setMaximumWidth(980)
        inner.addWidget(form, 10)
        inner.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(holder)
        index = self.tabs.addTab(scroll, humanize(component))
        self.tabs.setTabToolTip(index, str(self.state.path(component)))

    def _install_actions(self) -> None:
        window = self.ctx.window
        find = QAction("&Find Setting\u2026", self)
        find.setObjectName("edit.find")
        find.setShortcut(QKeySequence(QKeySequence.StandardKey.Find))
        find.triggered.connect(self._on_find_triggered)
        window.add_menu_action("Edit", find)
        self.presets_menu.menuAction().setObjectName("edit.presets")
        window.add_menu_action("Edit", self.presets_menu.menuAction())
        reload_action = QAction("&Reload Config From Disk", self)
        reload_action.setObjectName("config.reload")
        reload_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        reload_action.triggered.connect(self._on_reload_triggered)
        open_folder = QAction("&Open Config Folder", self)
        open_folder.setObjectName("config.open_folder")
        open_folder.triggered.connect(lambda: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(self.ctx.config.config_dir.resolve()))))
        for action in (reload_action, open_folder):
            window.add_menu_action("File", action, before="app.quit")
        diff_toggle = QAction("Show &Pending Changes", self, checkable=True)
        diff_toggle.setObjectName("view.diff")
        diff_toggle.setChecked(self.ctx.settings.value("configs/diff_visible", True, type=bool))
        diff_toggle.toggled.connect(self._on_diff_toggled)
        window.add_menu_action("View", diff_toggle)
        self._on_diff_toggled(diff_toggle.isChecked())

    def _fill_presets_menu(self, describe: bool = True) -> None:
        """One action per preset; ``describe`` reads each preset for its tooltip (slower)."""
        self.presets_menu.clear()
        names = sorted(self.ctx.config.presets())
        for name in names:
            action = self.presets_menu.addAction(humanize(name.replace("-", "_")))
            action.setObjectName(f"config.preset.{name}")
            try:
                if describe:
                    action.setToolTip(self.ctx.config.preset(name).description or name)
            except Exception as exc:  # a broken preset: show why, keep the rest usable
                action.setToolTip(f"Cannot be applied: {exc}")
            action.triggered.connect(lambda _=False, n=name: self.apply_preset(n))
        self.presets_menu.setToolTipsVisible(True)
        if not names:
            none = self.presets_menu.addAction("No presets in this config folder")
            none.setEnabled(False)

    # -- behaviour ------------------------------------------------------------------------
    def apply_preset(self, name: str) -> int:
        """Put a preset's values into the forms (one undo step); Save writes them."""
        try:
            values = self.ctx.config.preset(name).flat()
        except Exception as exc:
            QMessageBox.warning(self, "Preset not applied", f"{name}: {exc}")
            return 0
        before = set(self.state.dirty_keys())
        known = {k: v for k, v in values.items() if k.split(".", 1)[0] in self.forms}
        self.state.set_values(known, f"Apply preset {name}")
        changed = len(set(self.state.dirty_keys()) - before)
        self.ctx.show_status(f"Preset {name!r} applied to the forms: {changed} setting"
                             f"{'s' * (changed != 1)} changed \u2014 press Ctrl+S to save", 8000)
        return changed

    def _on_search_text_changed(self, text: str) -> None:
        counts = {c: form.apply_filter(text) for c, form in self.forms.items()}
        self._refresh_tabs(counts if text.strip() else None)
        current = self.state.components()[self.tabs.currentIndex()] \
            if self.tabs.currentIndex() >= 0 else None
        if text.strip() and current is not None and counts.get(current, 0) == 0:
            for index, component in enumerate(self.state.components()):
                if counts.get(component):
                    self.tabs.setCurrentIndex(index)
                    break

    def _refresh_tabs(self, counts: dict[str, int] | None = None) -> None:
        if counts is None and self.search.text().strip():
            counts = {c: sum(r.isVisibleTo(f) for r in f.rows.values())
                      for c, f in self.forms.items()}
        for index, component in enumerate(self.state.components()):
            text = humanize(component)
            if not self.state.is_valid(component):
                text = f"\u26a0 {text}"
            if self.state.is_dirty(component):
                text += " \u2022"
            if counts is not None:
                text += f" ({counts.get(component, 0)})"
                self.tabs.setTabEnabled(index, counts.get(component, 0) > 0)
            else:
                self.tabs.setTabEnabled(index, True)
            self.tabs.setTabText(index, text)

    def _refresh_diff(self) -> None:
        dirty = self.state.dirty_keys()
        self.diff_panel.setVisible(bool(dirty) and self._diff_wanted)
        text = compact_diff(self.state.preview()) if dirty else ""
        if self.diff_view.toPlainText() != text:
            self.diff_view.setPlainText(text)
        files = {k.split(".", 1)[0] for k in dirty}
        self.diff_title.setText(
            f"Pending changes \u2014 {len(dirty)} setting{'s' * (len(dirty) != 1)} in "
            f"{len(files)} file{'s' * (len(files) != 1)} (Save writes exactly these lines)"
            if dirty else "Pending changes")

    def _on_state_changed(self, *_args: object) -> None:
        self._refresh_tabs()
        self._diff_timer.start()

    def _on_diff_toggled(self, visible: bool) -> None:
        self._diff_wanted = visible
        self.diff_panel.setVisible(visible and self.state.is_dirty())
        self.ctx.settings.setValue("configs/diff_visible", visible)

    def _on_find_triggered(self) -> None:
        self.ctx.navigate("configs")
        self.search.setFocus()
        self.search.selectAll()

    def _on_reload_triggered(self) -> None:
        component = self.state.components()[self.tabs.currentIndex()]
        if self.state.is_dirty(component):
            answer = QMessageBox.question(
                self, "Reload from disk?",
                f"Drop your unsaved changes to {self.state.path(component).name} and read it "
                "again from disk?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.state.reload(component)
        self.ctx.show_status(f"Reloaded {self.state.path(component).name}", 4000)

    def _on_state_file_changed_on_disk(self, component: str) -> None:
        if component not in self._pending_disk:
            self._pending_disk.append(component)
        names = ", ".join(self.state.path(c).name for c in self._pending_disk)
        self.banner_label.setText(
            f"{names} changed on disk while you have unsaved edits here. Reload to see the "
            "new contents (your edits are dropped), or keep editing: Save writes only your "
            "changed settings and asks before replacing any that changed on disk.")
        self.banner.show()

    def _on_state_reloaded_from_disk(self, component: str) -> None:
        self.ctx.show_status(f"{self.state.path(component).name} changed on disk and was "
                             "reloaded", 6000)

    def _on_banner_reload_clicked(self) -> None:
        for component in self._pending_disk:
            self.state.reload(component)
        self._pending_disk.clear()
        self.banner.hide()

    def _on_banner_keep_clicked(self) -> None:
        self._pending_disk.clear()
        self.banner.hide()


def create_page(ctx: AppContext) -> QWidget:
    return ConfigsPage(ctx)
