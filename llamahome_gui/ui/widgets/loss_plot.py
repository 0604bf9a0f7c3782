"""LossPlotWidget: loss (train + eval), learning rate and machine load, stacked on one x axis.

Each run is a *track* (its own colour); the Train page shows one live track (x: steps by
default, or time), the Runs page overlays two (x: steps). A stop/resume breaks the line. Curves are created once and redrawn from a timer with ``setData`` (clip to view,
peak downsampling), so hours of steps stay cheap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

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


class SwitchableAxis(pg.AxisItem):
    """The shared x axis of the Train page: steps or elapsed time, whichever is shown."""

    def __init__(self, orientation: str, mode: str = "step") -> None:
        super().__init__(orientation)
        self.mode = mode

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        if self.mode == "time":
            return ElapsedAxis.tickStrings(self, values, scale, spacing)
        return StepAxis.tickStrings(self, values, scale, spacing)


def fmt_rate(value: float) -> str:
    """A learning rate in one notation on every tick: ``2.0e-4``, ``1.5e-4``, ``0``."""
    if value == 0 or not math.isfinite(value):
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


class RateAxis(pg.AxisItem):
    """Learning-rate ticks in one notation (no SI prefix, no mix of 0.0002 and 1e-4)."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph API
        return [fmt_rate(v * scale) for v in values]


def smoothed(values: np.ndarray, window: int = 10) -> np.ndarray:
    """Exponential moving average, bias-corrected so the first points are not pulled to 0:
    the trend of a noisy per-batch loss (the raw points stay drawn faintly behind it).
    A NaN (a stop/resume break) starts the average afresh and stays NaN."""
    if len(values) == 0:
        return values
    alpha = 2.0 / (window + 1)
    out = np.empty(len(values))
    acc, n = 0.0, 0
    for i, v in enumerate(values):
        if not math.isfinite(v):
            out[i], acc, n = np.nan, 0.0, 0
            continue
        n += 1
        acc = (1 - alpha) * acc + alpha * v
        out[i] = acc / (1 - (1 - alpha) ** n)
    return out


class _Series:
    """Growable columns: step, seconds since the run started, value (amortised O(1)
    append). A row with a NaN value is a break: the line is not drawn across it."""

    def __init__(self) -> None:
        self._d = np.empty((256, 3))
        self.n = 0

    def append(self, step: float, t: float, y: float) -> None:
        if self.n == len(self._d):
            self._d = np.resize(self._d, (2 * self.n, 3))
        self._d[self.n] = (step, t, y)
        self.n += 1

    def data(self, mode: str = "step") -> tuple[np.ndarray, np.ndarray]:
        col = 1 if mode == "time" else 0
        return self._d[: self.n, col], self._d[: self.n, 2]

    def values(self) -> np.ndarray:
        return self._d[: self.n, 2]

    def cut_after(self, step: float) -> None:
        """Forget the points past ``step`` (a resumed run trains them again)."""
        keep = self._d[: self.n, 0] <= step
        rows = self._d[: self.n][keep]
        self._d[: len(rows)] = rows
        self.n = len(rows)

    def add_break(self) -> None:
        if self.n and math.isfinite(self._d[self.n - 1, 2]):
            step, t = self._d[self.n - 1, 0], self._d[self.n - 1, 1]
            self.append(step, t, math.nan)

    def clear(self) -> None:
        self.n = 0


@dataclass
class Track:
    name: str
    colour: str
    loss: _Series = field(default_factory=_Series)
    eval_loss: _Series = field(default_factory=_Series)
    lr: _Series = field(default_factory=_Series)
    checkpoints: list[tuple[float, float]] = field(default_factory=list)  # (step, seconds)
    curves: dict[str, pg.PlotDataItem] = field(default_factory=dict)
    markers: list[pg.InfiniteLine] = field(default_factory=list)

    def recent_mean(self, n: int = 10) -> float | None:
        """Mean of the last ``n`` logged losses: the run's end without one batch's noise."""
        values = self.loss.values()
        values = values[np.isfinite(values)][-n:]
        return float(values.mean()) if len(values) else None


class LossPlotWidget(QWidget):
    """x is the optimizer step (``x_label="step"``) or seconds since the run started
    (``"time"``); with ``switchable`` a Step / Time toggle above the plots picks it, and
    every point keeps both."""

    def __init__(self, parent: QWidget | None = None, *, x_label: str = "step",
                 show_resources: bool = True, switchable: bool = False) -> None:
        super().__init__(parent)
        self.x_label = x_label
        self._tracks: dict[str, Track] = {}
        self._resources: dict[str, _Series] = {}
        self._resource_curves: dict[str, pg.PlotDataItem] = {}
        self._dirty = False
        pal = self.palette()
        bg = pal.color(QPalette.ColorRole.Base)
        fg = pal.color(QPalette.ColorRole.Text)
        self._fg = fg
        self.view = pg.GraphicsLayoutWidget(self)
        self.view.setBackground(bg)
        self.view.ci.setSpacing(4)
        self._axes: list[SwitchableAxis] = []
        self.loss_plot = self._make_plot("Loss", fg)
        self.view.nextRow()
        self.lr_plot = self._make_plot("Learning rate", fg, left=RateAxis("left"))
        self.lr_plot.setXLink(self.loss_plot)
        self.resource_plot: pg.PlotItem | None = None
        if show_resources:
            self.view.nextRow()
            self.resource_plot = self._make_plot("Machine load (%)", fg)
            self.resource_plot.setXLink(self.loss_plot)
            self.resource_plot.setYRange(0, 100)
            self.resource_plot.enableAutoRange(axis="y", enable=False)
        self._bottom = self.resource_plot or self.lr_plot
        self.loss_legend = self.loss_plot.addLegend(offset=(-10, 10), labelTextColor=fg)
        self.view.ci.layout.setRowStretchFactor(0, 3)
        # three readable plots (title, ticks, a curve) need about this much height
        self.view.setMinimumHeight(200 if show_resources else 150)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.axis_buttons: dict[str, QToolButton] = {}
        if switchable:
            bar = QHBoxLayout()
            bar.setContentsMargins(0, 0, 0, 0)
            bar.addStretch(1)
            caption = QLabel("x axis:")
            caption.setProperty("muted", True)
            bar.addWidget(caption)
            group = QButtonGroup(self)
            for mode, text in (("step", "Step"), ("time", "Time")):
                button = QToolButton()
                button.setObjectName(f"plot.x.{mode}")
                button.setText(text)
                button.setCheckable(True)
                button.setAutoRaise(True)
                button.setToolTip("Optimizer steps: a stopped and resumed run continues where "
                                  "it stopped" if mode == "step" else
                                  "Time since the run started, on the same clock as the "
                                  "machine load; pauses show as gaps")
                button.clicked.connect(lambda _=False, m=mode: self.set_x_mode(m))
                group.addButton(button)
                bar.addWidget(button)
                self.axis_buttons[mode] = button
            layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self.set_x_mode(x_label)
        self._redraw = QTimer(self)
        self._redraw.setInterval(250)
        self._redraw.timeout.connect(self._on_redraw_timeout)
        self._redraw.start()

    def _make_plot(self, title: str, fg: QColor, left: pg.AxisItem | None = None) -> pg.PlotItem:
        bottom = SwitchableAxis("bottom", self.x_label)
        self._axes.append(bottom)
        axes = {"bottom": bottom, **({"left": left} if left is not None else {})}
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

    # ------------------------------------------------------------------ x axis
    def set_x_mode(self, mode: str) -> None:
        """Draw every curve against steps or against time since the start."""
        self.x_label = "time" if mode == "time" else "step"
        for axis in self._axes:
            axis.mode = self.x_label
            axis.picture = None
            axis.update()
        title = "time since start" if self.x_label == "time" else "step"
        self._bottom.setLabel("bottom", title, color=self._fg.name())
        if self.x_label in self.axis_buttons:
            self.axis_buttons[self.x_label].setChecked(True)
        for track in self._tracks.values():
            for marker, (step, t) in zip(track.markers, track.checkpoints, strict=False):
                marker.setValue(t if self.x_label == "time" else step)
        self._dirty = True
        self._on_redraw_timeout()
        self.loss_plot.enableAutoRange(axis="x", enable=True)

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
        track.curves["loss"] = self.loss_plot.plot(pen=pg.mkPen(faint, width=1), connect="finite",
                                                   name=f"loss, raw{suffix}")
        track.curves["smooth"] = self.loss_plot.plot(
            pen=pg.mkPen(colour, width=2.5), connect="finite", name=f"loss, smoothed{suffix}")
        track.curves["eval"] = self.loss_plot.plot(
            pen=pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine), symbol="o", symbolSize=7,
            symbolBrush=colour, symbolPen=None, connect="finite", name=f"eval loss{suffix}")
        track.curves["lr"] = self.lr_plot.plot(pen=pg.mkPen(colour, width=2), connect="finite")
        self._tracks[name] = track
        return track

    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def clear(self) -> None:
        for track in self._tracks.values():
            for key in ("loss", "smooth", "eval"):
                self.loss_plot.removeItem(track.curves[key])
            self.lr_plot.removeItem(track.curves["lr"])
            for marker in track.markers:
                self.loss_plot.removeItem(marker)
        self._tracks.clear()
        self.loss_legend.clear()
        for series in self._resources.values():
            series.clear()
        self._dirty = True
        self._on_redraw_timeout()

    def add_loss(self, step: float, loss: float | None, lr: float | None, name: str = "run",
                 *, time: float | None = None) -> None:
        track = self.track(name)
        t = step if time is None else time
        if loss is not None and math.isfinite(loss):
            track.loss.append(step, t, loss)
        if lr is not None and math.isfinite(lr):
            track.lr.append(step, t, lr)
        self._dirty = True

    def add_eval(self, step: float, eval_loss: float | None, name: str = "run", *,
                 time: float | None = None) -> None:
        if eval_loss is not None and math.isfinite(eval_loss):
            self.track(name).eval_loss.append(step, step if time is None else time, eval_loss)
            self._dirty = True

    def add_checkpoint(self, step: float, label: str = "", name: str = "run", *,
                       time: float | None = None) -> None:
        track = self.track(name)
        t = step if time is None else time
        track.checkpoints.append((step, t))
        # the label sits on the side of its line that faces the middle of the plot, so one at
        # either edge is never cut (see _place_marker_labels)
        line = pg.InfiniteLine(pos=t if self.x_label == "time" else step, angle=90,
                               movable=False,
                               pen=pg.mkPen(track.colour, width=1, style=Qt.PenStyle.DotLine),
                               label=label or "checkpoint",
                               labelOpts={"position": 0.55, "color": track.colour,
                                          "anchors": [(1, 0), (1, 0)]})
        self.loss_plot.addItem(line)
        track.markers.append(line)
        self._dirty = True

    def resume_at(self, start_step: int, name: str = "run") -> None:
        """A run resumed from the checkpoint at ``start_step``: what it logged past that
        step is trained again, so it goes; the line breaks, nothing is drawn across the
        pause."""
        track = self._tracks.get(name)
        if track is None:
            return
        for series in (track.loss, track.lr, track.eval_loss):
            series.cut_after(start_step)
            series.add_break()
        keep = [i for i, (step, _t) in enumerate(track.checkpoints) if step <= start_step]
        for i, marker in enumerate(track.markers):
            if i not in keep:
                self.loss_plot.removeItem(marker)
        track.markers = [track.markers[i] for i in keep]
        track.checkpoints = [track.checkpoints[i] for i in keep]
        for series in self._resources.values():
            series.add_break()
        self._dirty = True

    def add_resource(self, x: float, values: dict[str, float]) -> None:
        """One machine sample at ``x`` seconds since the start: percentages keyed by series
        name (CPU, RAM, GPU, GPU mem). On the step axis a sample sits at the step the run
        was at then."""
        if self.resource_plot is None:
            return
        for key, value in values.items():
            if value is None or not math.isfinite(value):
                continue
            if key not in self._resources:
                self._resources[key] = _Series()
                self._resource_curves[key] = self.resource_plot.plot(
                    pen=pg.mkPen(RESOURCE_COLOURS.get(key, "#888888"), width=1.5),
                    connect="finite")
                keys = "&nbsp;&nbsp;".join(
                    f"<span style='color:{RESOURCE_COLOURS.get(k, '#888888')}'>━ {k}</span>"
                    for k in self._resources)
                self.resource_plot.setTitle(f"Machine load (%)&nbsp;&nbsp;{keys}",
                                            color=self._fg.name(), size="10pt")
            self._resources[key].append(math.nan, x, value)
        self._dirty = True

    def resource_series(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        series = self._resources.get(key)
        return series.data("time") if series else (np.empty(0), np.empty(0))

    def curve_data(self, key: str = "loss", name: str = "run") -> tuple[np.ndarray, np.ndarray]:
        """What a curve draws now (x in the current mode): tests and screenshots."""
        self.flush()
        x, y = self._tracks[name].curves[key].getData()
        return (np.empty(0), np.empty(0)) if x is None else (np.asarray(x), np.asarray(y))

    def _resource_x(self, times: np.ndarray) -> np.ndarray:
        if self.x_label == "time":
            return times
        track = next(iter(self._tracks.values()), None)
        if track is None or not track.loss.n:
            return np.full(len(times), np.nan)
        steps, t = track.loss.data("step")[0], track.loss.data("time")[0]
        order = np.argsort(t, kind="stable")
        return np.interp(times, t[order], steps[order])

    def _on_redraw_timeout(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        mode = self.x_label
        top_lr = 0.0
        for track in self._tracks.values():
            x, y = track.loss.data(mode)
            track.curves["loss"].setData(x, y)
            track.curves["smooth"].setData(x, smoothed(y))
            track.curves["eval"].setData(*track.eval_loss.data(mode))
            track.curves["lr"].setData(*track.lr.data(mode))
            rates = track.lr.values()
            if np.isfinite(rates).any():
                top_lr = max(top_lr, float(np.nanmax(rates)))
        if top_lr > 0:  # from 0 (warm-up starts there); a constant rate is not a flat zero
            self.lr_plot.setYRange(0.0, top_lr * 1.08, padding=0)
        for key, series in self._resources.items():
            times, values = series.data("time")
            self._resource_curves[key].setData(self._resource_x(times), values)
        self._place_marker_labels()

    def _place_marker_labels(self) -> None:
        """A checkpoint label right of its line in the left half of the x range, left of it
        in the right half."""
        low, high = self._x_extent()
        middle = (low + high) / 2
        for track in self._tracks.values():
            for marker in track.markers:
                anchor = (1, 0) if marker.value() > middle else (0, 0)
                if marker.label.anchors[0] != anchor:
                    marker.label.anchors = [anchor, anchor]
                    marker.label.updatePosition()

    def _x_extent(self) -> tuple[float, float]:
        """The x range the data cover (steps or seconds), markers included."""
        values = []
        for track in self._tracks.values():
            x = track.loss.data(self.x_label)[0]
            values += [float(x.min()), float(x.max())] if len(x) else []
            col = 1 if self.x_label == "time" else 0
            values += [c[col] for c in track.checkpoints]
        return (min(values), max(values)) if values else (0.0, 1.0)

    def flush(self) -> None:
        """Draw pending points now (tests and screenshots)."""
        self._dirty = True
        self._on_redraw_timeout()
