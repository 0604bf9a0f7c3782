"""Small widgets of the Train page that must fit a narrow window: the run's figures, which
wrap into more rows instead of cutting their titles, and a label that elides a long path
in the middle (the full text in its tooltip)."""

from __future__ import annotations

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QFont, QResizeEvent
from PyQt6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

STATS = (("step", "Step"), ("loss", "Loss"), ("eval", "Eval loss"), ("elapsed", "Elapsed"),
         ("eta", "Remaining"), ("tps", "Tokens / s"))


class StatsGrid(QWidget):
    """Title-over-value cells, as many per row as fit (6, 3 or 2): no title is ever cut."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: dict[str, QLabel] = {}
        self.cells: list[QWidget] = []
        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.25)
        for key, title in STATS:
            cell = QWidget(self)
            cell.setObjectName(f"train.stat.{key}.cell")
            box = QVBoxLayout(cell)
            box.setContentsMargins(0, 0, 0, 0)
            box.setSpacing(0)
            head = QLabel(title, cell)
            head.setProperty("muted", True)
            value = QLabel("–", cell)
            value.setObjectName(f"train.stat.{key}")
            value.setFont(big)
            box.addWidget(head)
            box.addWidget(value)
            self.values[key] = value
            self.cells.append(cell)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(16)
        self._grid.setVerticalSpacing(4)
        self._columns = 0
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._lay_out(len(self.cells))

    def cell_width(self) -> int:
        """The widest title or a typical value ("123 / 1,234"), whichever is wider."""
        metrics = self.values["step"].fontMetrics()
        widest = max(cell.sizeHint().width() for cell in self.cells)
        return max(widest, metrics.horizontalAdvance("123 / 1,234"))

    def columns_for(self, width: int) -> int:
        spacing = self._grid.horizontalSpacing()
        for columns in (6, 3, 2):
            if columns * self.cell_width() + (columns - 1) * spacing <= width:
                return columns
        return 1

    def _lay_out(self, columns: int) -> None:
        if columns == self._columns:
            return
        self._columns = columns
        for cell in self.cells:
            self._grid.removeWidget(cell)
        for i, cell in enumerate(self.cells):
            self._grid.addWidget(cell, i // columns, i % columns)
        for c in range(6):
            self._grid.setColumnStretch(c, 1 if c < columns else 0)
        self.updateGeometry()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        """Two columns at the narrowest; as tall as the rows laid out now."""
        return QSize(2 * self.cell_width() + self._grid.horizontalSpacing(),
                     self._grid.sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._lay_out(self.columns_for(event.size().width()))


class ElidedLabel(QLabel):
    """One line of text elided in the middle to the label's width; the whole in a tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.set_full_text(text)

    def full_text(self) -> str:
        return self._full

    def set_full_text(self, text: str) -> None:
        self._full = text
        self._elide()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(60, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideMiddle,
                                              max(20, self.width() - 4))
        if shown != self.text():
            self.setText(shown)
