"""LossPlotWidget: loss (train + eval), learning rate and machine load, stacked on one x axis.

Each run is a *track* (its own colour); the Train page shows one live track, the Runs page
overlays two. Curves are created once and redrawn from a timer with ``setData`` (clip to view,
peak downsampling), so hours of steps stay cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QVBoxLayout, QWidget

TRACK_COLOURS = ("#3b82f6", "#f97316", "#10b981", "#a855f7")
RESOURCE_COLOURS = {"CPU": "#ef4444", "RAM": "#0ea5e9", "GPU": "#22c55e", "GPU mem": "#eab308"}


class ElapsedAxis(pg.AxisItem):
    """Seconds shown as m:ss (or h:mm:ss): a long run stays readable."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        out = []
        for value in values:
            seconds = int(round(value * scale))
            sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
            h, rest = divmod(seconds, 3600)
            m, s = divmod(rest, 60)
            out.append(f"{sign}{h}:{m:02d}:{s:02d}" if h else f"{sign}{m}:{s:02d}")
        return out


class StepAxis(pg.AxisItem):
    """Optimizer steps are whole numbers: no 1.5 ticks."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [f"{v * scale:.0f}" if abs(v * scale - round(v * scale)) < 1e-6 else ""
                for v in values]


def smoothed(values: np.ndarray, window: int = 10) -> np.ndarray:
    """Exponential moving average, bias-corrected so the first points are not pulled to 0:
    the trend of a noisy per-batch loss (the raw points stay drawn faintly behind it)."""
    if len(values) == 0:
        return values
    alpha = 2.0 / (window + 1)
    out = np.empty(len(values))
    acc = 0.0
    for i, v in enumerate(values):
        acc = (1 - alpha) * acc + alpha * v
        out[i] = acc / (1 - (1 - alpha) ** (i + 1))
    return out


class _Series:
    """A growable pair of float arrays (amortised O(1) append)."""

    def __init__(self) -> None:
        self._x = np.empty(256)
        self._y = np.empty(256)
        self.n = 0

    def append(self, x: float, y: float) -> None:
        if self.n == len(self._x):
            self._x = np.resize(self._x, 2 * self.n)
            self._y = np.resize(self._y, 2 * self.n)
        self._x[self.n], self._y[self.n] = x, y
        self.n += 1

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        return self._x[: self.n], self._y[: self.n]

    def clear(self) -> None:
        self.n = 0


@dataclass
class Track:
    name: str
    colour: str
    loss: _Series = field(default_factory=_Series)
    eval_loss: _Series = field(default_factory=_Series)
    lr: _Series = field(default_factory=_Series)
    checkpoints: list[float] = field(default_factory=list)
    curves: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    markers: list[pg.InfiniteLine] = field(default_factory=list)


class LossPlotWidget(QWidget):
    """x is seconds since the run started (``x_label="time"``) or the optimizer step."""

    def __init__(self, parent: QWidget | None = None, *, x_label: str = "time",
                 show_resources: bool = True) -> None:
        super().__init__(parent)
        self.x_label = x_label
        self._tracks: dict[str, Track] = {}
        self._resources: dict[str, _Series] = {}
        self._resource_curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False
        pal = self.palette()
        bg = pal.color(QPalette.ColorRole.Base)
        fg = pal.color(QPalette.ColorRole.Text)
        self.view = pg.GraphicsLayoutWidget(self)
        self.view.setBackground(bg)
        self.view.ci.setSpacing(4)
        xtitle = "time since start" if x_label == "time" else "step"
        self.loss_plot = self._make_plot("Loss", "loss", fg)
        self.view.nextRow()
        self.lr_plot = self._make_plot("Learning rate", "lr", fg)
        self.lr_plot.setXLink(self.loss_plot)
        self.resource_plot: pg.PlotItem | None = None
        if show_resources:
            self.view.nextRow()
            self.resource_plot = self._make_plot("Machine load (%)", "%", fg)
            self.resource_plot.setXLink(self.loss_plot)
            self.resource_plot.setYRange(0, 100)
            self.resource_plot.enableAutoRange(axis="y", enable=False)
        bottom = self.resource_plot or self.lr_plot
        bottom.setLabel("bottom", xtitle, color=fg.name())
        self.loss_legend = self.loss_plot.addLegend(offset=(-10, 10), labelTextColor=fg)
        self._fg = fg
        self.view.ci.layout.setRowStretchFactor(0, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self._redraw = QTimer(self)
        self._redraw.setInterval(250)
        self._redraw.timeout.connect(self._on_redraw_timeout)
        self._redraw.start()

    def _make_plot(self, title: str, unit: str, fg: QColor) -> pg.PlotItem:
        axes = {"bottom": ElapsedAxis("bottom") if self.x_label == "time" else StepAxis("bottom")}
        plot = self.view.addPlot(axisItems=axes)
        plot.setTitle(title, color=fg.name(), size="10pt")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setMouseEnabled(x=True, y=False)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).setTextPen(fg)
            plot.getAxis(axis).setPen(pg.mkPen(fg, width=1))
        plot.getAxis("left").setWidth(56)
        return plot

    # ------------------------------------------------------------------ tracks
    def track(self, name: str = "run") -> Track:
        """The track called ``name``, created (with its curves) on first use."""
        if name in self._tracks:
            return self._tracks[name]
        colour = TRACK_COLOURS[len(self._tracks) % len(TRACK_COLOURS)]
        track = Track(name, colour)
        multi = bool(self._tracks)
        suffix = f" · {name}" if multi or name != "run" else ""
        faint = QColor(colour)
        faint.setAlpha(90)
        track.curves["loss"] = self.loss_plot.plot(pen=pg.mkPen(faint, width=1))
        track.curves["smooth"] = self.loss_plot.plot(
            pen=pg.mkPen(colour, width=2.5), name=f"train loss{suffix}")
        track.curves["eval"] = self.loss_plot.plot(
            pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine), symbol="o", symbolSize=7,
            symbolBrush=colour, symbolPen=None, name=f"eval loss{suffix}")
        track.curves["lr"] = self.lr_plot.plot(pen=pg.mkPen(colour, width=2))
        self._tracks[name] = track
        return track

    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def clear(self) -> None:
        for track in self._tracks.values():
            self.loss_plot.removeItem(track.curves["loss"])
            self.loss_plot.removeItem(track.curves["smooth"])
            self.loss_plot.removeItem(track.curves["eval"])
            self.lr_plot.removeItem(track.curves["lr"])
            for marker in track.markers:
                self.loss_plot.removeItem(marker)
        self._tracks.clear()
        self.loss_legend.clear()
        for series in self._resources.values():
            series.clear()
        self._dirty = True
        self._on_redraw_timeout()

    def add_loss(self, x: float, loss: float | None, lr: float | None, name: str = "run") -> None:
        track = self.track(name)
        if loss is not None and math.isfinite(loss):
            track.loss.append(x, loss)
        if lr is not None and math.isfinite(lr):
            track.lr.append(x, lr)
        self._dirty = True

    def add_eval(self, x: float, eval_loss: float | None, name: str = "run") -> None:
        if eval_loss is not None and math.isfinite(eval_loss):
            self.track(name).eval_loss.append(x, eval_loss)
            self._dirty = True

    def add_checkpoint(self, x: float, label: str = "", name: str = "run") -> None:
        track = self.track(name)
        track.checkpoints.append(x)
        line = pg.InfiniteLine(pos=x, angle=90, movable=False,
                               pen=pg.mkPen(track.colour, width=1, style=Qt.PenStyle.DotLine),
                               label=label or "checkpoint",
                               labelOpts={"position": 0.97, "color": track.colour,
                                          "anchors": [(0, 0), (0, 0)]})
        self.loss_plot.addItem(line)
        track.markers.append(line)

    def add_resource(self, x: float, values: dict[str, float]) -> None:
        """One machine sample: percentages keyed by series name (CPU, RAM, GPU, GPU mem)."""
        if self.resource_plot is None:
            return
        for key, value in values.items():
            if value is None or not math.isfinite(value):
                continue
            if key not in self._resources:
                self._resources[key] = _Series()
                self._resource_curves[key] = self.resource_plot.plot(
                    pen=pg.mkPen(RESOURCE_COLOURS.get(key, "#888888"), width=1.5))
                keys = "&nbsp;&nbsp;".join(
                    f"<span style='color:{RESOURCE_COLOURS.get(k, '#888888')}'>━ {k}</span>"
                    for k in self._resources)
                self.resource_plot.setTitle(f"Machine load (%)&nbsp;&nbsp;{keys}",
                                            color=self._fg.name(), size="10pt")
            self._resources[key].append(x, value)
        self._dirty = True

    def resource_series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        series = self._resources.get(key)
        return series.data() if series else (np.empty(0), np.empty(0))

    def _on_redraw_timeout(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        top_lr = 0.0
        for track in self._tracks.values():
            track.curves["loss"].setData(*track.loss.data())
            track.curves["smooth"].setData(track.loss.data()[0], smoothed(track.loss.data()[1]))
            track.curves["eval"].setData(*track.eval_loss.data())
            track.curves["lr"].setData(*track.lr.data())
            if track.lr.n:
                top_lr = max(top_lr, float(track.lr.data()[1].max()))
        if top_lr > 0:  # from 0 (warm-up starts there); a constant rate is not a flat zero
            self.lr_plot.setYRange(0.0, top_lr * 1.08, padding=0)
        for key, series in self._resources.items():
            self._resource_curves[key].setData(*series.data())

    def flush(self) -> None:
        """Draw pending points now (tests and screenshots)."""
        self._dirty = True
        self._on_redraw_timeout()
