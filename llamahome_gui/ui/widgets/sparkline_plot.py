"""SparklinePlotWidget: a tiny filled line of recent values, painted directly.

The status-bar strip shows three of these on every page, so each is a plain QWidget with a
``paintEvent`` (no graphics scene): drawing 120 points costs microseconds.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QSize, Qt
from PyQt6.QtGui import QColor, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import QWidget


class SparklinePlotWidget(QWidget):
    """Values scaled into ``[0, maximum]`` (NaN = a gap); ``maximum`` <= 0 = fit the data."""

    def __init__(self, colour: str, maximum: float = 100.0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colour = QColor(colour)
        self.maximum = maximum
        self.values = np.empty(0)
        self.setFixedSize(64, 16)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        return QSize(64, 16)

    def set_values(self, values: np.ndarray, maximum: float | None = None) -> None:
        self.values = np.asarray(values, dtype=float)
        if maximum is not None:
            self.maximum = maximum
        self.update()

    def paintEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        w, h = self.width(), self.height()
        frame = QColor(self.colour)
        frame.setAlpha(60)
        painter.setPen(QPen(frame, 1))
        painter.drawRect(0, 0, w - 1, h - 1)
        values = self.values
        finite = values[np.isfinite(values)]
        if len(values) < 2 or not len(finite):
            return
        top = self.maximum if self.maximum > 0 else max(float(finite.max()), 1e-9)
        xs = np.linspace(1, w - 2, len(values))
        ys = h - 2 - np.clip(values / top, 0, 1) * (h - 4)
        line = QPainterPath()
        started = False
        for x, y in zip(xs, ys, strict=True):
            if not np.isfinite(y):
                started = False
                continue
            if started:
                line.lineTo(QPointF(x, y))
            else:
                line.moveTo(QPointF(x, y))
                started = True
        fill = QColor(self.colour)
        fill.setAlpha(50)
        area = QPainterPath(line)
        area.lineTo(QPointF(xs[-1], h - 1))
        area.lineTo(QPointF(xs[0], h - 1))
        painter.fillPath(area, fill)
        painter.setPen(QPen(self.colour, 1.3, Qt.PenStyle.SolidLine))
        painter.drawPath(line)
