"""What the adapter says and prefers while it trains: the sample-answer timeline and, for a
DPO run, the reward curves (margin and accuracy per logged step).

Both only show the events they are given; the trainer decides when to sample and what to
log.
"""

from __future__ import annotations

import html
import math

import pyqtgraph as pg
from PyQt6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from llamahome_gui.core.runs.events import SampleGenerated, StepLogged

MARGIN_COLOUR, ACCURACY_COLOUR = "#8b5cf6", "#10b981"


class SampleTimelineWidget(QWidget):
    """Sample answers, newest evaluation first, with the time they cost."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("train.samples")
        self.summary = QLabel("Sample answers appear at every evaluation and at the end "
                              "(training.training.sample_prompts).")
        self.summary.setObjectName("train.samples.summary")
        self.summary.setProperty("muted", True)
        self.summary.setWordWrap(True)
        self.view = QTextBrowser()
        self.view.setObjectName("train.samples.view")
        self.view.setOpenLinks(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        self.samples: list[SampleGenerated] = []

    def clear(self) -> None:
        self.samples = []
        self.view.clear()

    def add(self, event: SampleGenerated) -> None:
        self.samples.append(event)
        steps = sorted({s.step for s in self.samples}, reverse=True)
        blocks = []
        for step in steps:
            at = [s for s in self.samples if s.step == step]
            cost = sum(s.seconds or 0.0 for s in at)
            rows = "".join(
                f"<p style='margin:2px 0 6px 12px'><b>{html.escape(s.prompt)}</b><br>"
                f"{html.escape(s.text) or '<i>(empty answer)</i>'}</p>" for s in at)
            blocks.append(f"<p style='margin:8px 0 2px 0'><b>Step {step}</b> "
                          f"<span style='color:#64748b'>· {cost:.1f} s</span></p>{rows}")
        self.view.setHtml("".join(blocks))
        total = sum(s.seconds or 0.0 for s in self.samples)
        self.summary.setText(f"{len(steps)} evaluation{'s' if len(steps) != 1 else ''} sampled, "
                             f"{total:.1f} s spent on sample answers")


class RewardPlotWidget(QWidget):
    """DPO: the reward margin (chosen minus rejected) and the share of pairs ranked right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("train.rewards")
        self.plot = pg.PlotWidget()
        self.plot.setBackground(None)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "step")
        self.plot.addLegend(offset=(8, 8))
        self.plot.getPlotItem().setClipToView(True)
        self.margin = self.plot.plot([], [], pen=pg.mkPen(MARGIN_COLOUR, width=2),
                                     name="reward margin")
        self.accuracy = self.plot.plot([], [], pen=pg.mkPen(ACCURACY_COLOUR, width=2),
                                       name="reward accuracy")
        self.label = QLabel("DPO reward curves appear once a preference run logs a step.")
        self.label.setObjectName("train.rewards.latest")
        self.label.setWordWrap(True)  # a long line must not widen the Train page
        self.label.setProperty("muted", True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.plot, 1)
        self.points: dict[str, tuple[list[float], list[float]]] = {"margin": ([], []),
                                                                   "accuracy": ([], [])}

    def clear(self) -> None:
        for xs, ys in self.points.values():
            xs.clear()
            ys.clear()
        self.margin.setData([], [])
        self.accuracy.setData([], [])

    def add(self, event: StepLogged) -> bool:
        """Plot a step's rewards; False when the step has none (an SFT run)."""
        if event.reward_margin is None or not math.isfinite(event.reward_margin):
            return False
        for key, value, curve in (("margin", event.reward_margin, self.margin),
                                  ("accuracy", event.reward_accuracy, self.accuracy)):
            if value is not None and math.isfinite(value):
                xs, ys = self.points[key]
                xs.append(float(event.step))
                ys.append(float(value))
                curve.setData(xs, ys)
        accuracy = "–" if event.reward_accuracy is None else f"{event.reward_accuracy:.0%}"
        self.label.setText(f"step {event.step}: margin {event.reward_margin:.3f}, chosen "
                           f"{event.rewards_chosen or 0:.3f}, rejected "
                           f"{event.rewards_rejected or 0:.3f}, accuracy {accuracy}")
        return True
