"""TrainMemoryWidget: "fits / tight / won't fit" with the numbers, from the engine's estimate."""

from __future__ import annotations

from typing import Any

from PyQt6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from llamahome_gui.core.units import fmt_bytes

VERDICT_COLOURS = {"fits": "#16a34a", "tight": "#d97706", "won't fit": "#dc2626"}


class TrainMemoryWidget(QWidget):
    """A bar of needed / available memory coloured by the verdict; the breakdown as tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.verdict = ""
        self.title = QLabel("Memory")
        self.title.setStyleSheet("font-weight: bold;")
        self.verdict_label = QLabel("estimating…")
        self.verdict_label.setObjectName("train.memory.verdict")
        self.bar = QProgressBar()
        self.bar.setObjectName("train.memory")
        self.bar.setRange(0, 1000)
        self.bar.setTextVisible(True)
        self.bar.setMaximumHeight(18)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setProperty("muted", True)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.verdict_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.bar)
        layout.addWidget(self.detail)

    def set_busy(self) -> None:
        self.verdict_label.setText("estimating…")

    def set_estimate(self, estimate: Any) -> None:
        self.verdict = str(getattr(estimate, "verdict", ""))
        total = float(getattr(estimate, "total", 0) or 0)
        available = float(getattr(estimate, "available", 0) or 0)
        device = getattr(estimate, "device", "") or ""
        colour = VERDICT_COLOURS.get(self.verdict, "#64748b")
        self.verdict_label.setText(f"<b style='color:{colour}'>{self.verdict}</b>")
        share = total / available if available else 1.0
        self.bar.setValue(int(min(share, 1.0) * 1000))
        self.bar.setFormat(f"{fmt_bytes(total)} of {fmt_bytes(available)}"
                           + (f" ({device})" if device else ""))
        self.bar.setStyleSheet(f"QProgressBar::chunk {{ background: {colour}; }}")
        self.setToolTip(f"<pre>{estimate.table()}</pre>")
        problems = "\n".join(f"Not allowed: {p}" for p in estimate.problems)
        tokens = getattr(estimate, "tokens_per_step", 0)
        per_step = f" for {tokens:,} tokens per step" if tokens else ""
        self.detail.setText(problems or f"About {fmt_bytes(total)} needed{per_step}, "
                            f"{fmt_bytes(available)} available (hover for the breakdown).")

    def set_error(self, message: str) -> None:
        self.verdict = ""
        self.verdict_label.setText("<span style='color:#64748b'>unknown</span>")
        self.bar.setValue(0)
        self.bar.setFormat("no estimate")
        self.detail.setText(message)
