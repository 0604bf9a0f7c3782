"""ResourcePlotWidget: one rolling resource graph with its current value shown large.

Curves are made once (``add_curve``) and fed with ``setData`` from the history on each
redraw; clip-to-view and peak downsampling keep an hour of samples cheap. Threshold lines
are dashed horizontal lines the page moves when the settings change.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QFont, QPalette
from PyQt6.QtWidgets import QApplication, QHBoxLayout, QLabel, QVBoxLayout, QWidget

COLOURS = {"cpu": "#ef4444", "ram": "#0ea5e9", "gpu": "#22c55e", "gpu_mem": "#eab308",
           "temp": "#f97316", "power": "#a855f7", "app": "#64748b", "watched": "#10b981"}
THRESHOLD_COLOUR = "#dc2626"
FILL_MAX_POINTS = 600  # shade under a curve only up to this many points in view


class ResourcePlotWidget(QWidget):
    """``title`` and ``unit`` label the y axis; ``y_range`` fixes it (None = follow the data)."""

    def __init__(self, key: str, title: str, unit: str, *, y_range: tuple[float, float] | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"monitor.graph.{key}")
        self.key, self.title, self.unit = key, title, unit
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.scales: dict[str, float] = {}
        self.lines: dict[str, pg.InfiniteLine] = {}
        self.plot = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(orientation="bottom")})
        self.plot.setMinimumHeight(130)
        item = self.plot.getPlotItem()
        item.setClipToView(True)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        # no showGrid: its translucent lines cost ~20 ms per axis paint in the raster engine
        item.getAxis("left").enableAutoSIPrefix(False)
        item.getAxis("left").setWidth(48)
        if y_range is not None:
            item.setYRange(*y_range, padding=0.05)
        else:
            item.enableAutoRange(axis="y")
        self.legend = None

        self.value_label = QLabel("–")
        self.value_label.setObjectName(f"monitor.value.{key}")
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF(), 9.0) * 2.2)
        font.setBold(True)
        self.value_label.setFont(font)
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.caption_label = QLabel(title)
        self.caption_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.detail_label = QLabel("")
        self.detail_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.detail_label.setWordWrap(True)
        side = QVBoxLayout()
        side.addStretch(1)
        side.addWidget(self.caption_label)
        side.addWidget(self.value_label)
        side.addWidget(self.detail_label)
        side.addStretch(1)
        side_box = QWidget()
        side_box.setLayout(side)
        side_box.setFixedWidth(190)

        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.plot, 1)
        row.addWidget(side_box)
        self.apply_palette()

    def apply_palette(self) -> None:
        """Colours from the application palette (again after a light/dark switch)."""
        pal = QApplication.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        self.plot.setBackground(pal.color(QPalette.ColorRole.Base))
        item = self.plot.getPlotItem()
        item.setTitle(f"{self.title} ({self.unit})", color=fg.name(), size="10pt")
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setTextPen(fg)
            axis.setPen(pg.mkPen(fg.darker(150) if fg.lightness() > 128 else fg.lighter(200)))
        muted = QPalette(pal)
        muted.setColor(QPalette.ColorRole.WindowText, pal.color(QPalette.ColorRole.PlaceholderText))
        self.detail_label.setPalette(muted)

    # ---------------------------------------------------------------- building
    def add_curve(self, series: str, colour: str, *, label: str = "", scale: float = 1.0,
                  width: float = 1.0, fill: bool = False, alpha: int = 255) -> pg.PlotDataItem:
        """A curve fed from history series ``series`` (values divided by ``scale``).

        Pens wider than 1 px and area fills cost Qt's rasteriser ten times more per point, so
        lines stay 1 px and the fill is drawn only while the view holds few points."""
        col = QColor(colour)
        col.setAlpha(alpha)
        item = self.plot.getPlotItem()
        if label and self.legend is None:
            self.legend = item.addLegend(offset=(6, 2), labelTextSize="8pt", colCount=4)
        curve = item.plot(pen=pg.mkPen(col, width=width), name=label or None)
        fill_col = QColor(col)
        fill_col.setAlpha(45)
        curve.setBrush(fill_col)
        curve.property_fill = fill
        curve.property_filled = False
        curve.setClipToView(True)
        curve.setDownsampling(ds=1, auto=False, method="peak")
        curve.property_ds = 1
        curve.property_dots = False
        self.curves[series] = curve
        self.scales[series] = scale
        return curve

    def set_line(self, name: str, value: float | None, label: str = "",
                 colour: str = THRESHOLD_COLOUR, position: float = 0.8) -> None:
        """Show (or hide, value None/NaN) a dashed horizontal line, e.g. a threshold."""
        line = self.lines.get(name)
        if value is None or not np.isfinite(value):
            if line is not None:
                line.hide()
            return
        if line is None:
            line = pg.InfiniteLine(angle=0, movable=False,
                                   pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine),
                                   label=label, labelOpts={"position": position, "color": colour,
                                                           "anchors": [(1, 1), (1, 1)]})
            self.plot.addItem(line)
            self.lines[name] = line
        line.setValue(value)
        if label and line.label is not None:
            line.label.setFormat(label)
        line.show()

    # ---------------------------------------------------------------- updating
    def update_from(self, history, since: float, until: float) -> None:  # noqa: ANN001
        """Redraw every curve from ``history`` over ``[since, until]`` (time.time() seconds)."""
        # Peak downsampling to about one point per pixel. pyqtgraph's own "auto" factor
        # assumes the data fills the view, and hides a young history under a long range.
        pixels = max(200, self.plot.width())
        # the range first: clipping and downsampling then run once per setData
        self.plot.getPlotItem().setXRange(since, until, padding=0)
        for series, curve in self.curves.items():
            t, y = history.get(series, since=since)
            ds = max(1, len(t) // pixels)
            if ds != curve.property_ds:
                curve.setDownsampling(ds=ds, auto=False, method="peak")
                curve.property_ds = ds
            curve.setData(t, y / scale if (scale := self.scales[series]) != 1.0 else y,
                          connect="finite")
            filled = curve.property_fill and len(t) <= FILL_MAX_POINTS
            if filled != curve.property_filled:
                curve.setFillLevel(0 if filled else None)
                curve.property_filled = filled
            # a line needs points: show dots until there are a few
            finite = int(np.count_nonzero(np.isfinite(y)))
            dots = 0 < finite < 4
            if dots != curve.property_dots:
                curve.setSymbol("o" if dots else None)
                curve.setSymbolSize(5)
                curve.setSymbolBrush(curve.opts["pen"].color())
                curve.setSymbolPen(None)
                curve.property_dots = dots

    def set_value(self, text: str, detail: str = "") -> None:
        self.value_label.setText(text)
        self.detail_label.setText(detail)

    def set_y_max(self, top: float) -> None:
        if np.isfinite(top) and top > 0:
            self.plot.getPlotItem().setYRange(0, top, padding=0.02)
