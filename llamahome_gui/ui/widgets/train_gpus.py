"""The GPU picker of the Train page: one check box per NVIDIA GPU with its name and free
memory (NVML), bound to ``resource.gpu.cuda_devices`` (empty = every GPU). The number of
training processes is ``training.training.num_processes`` (0 = one per chosen GPU), shown
next to it so a person sees what a run will start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PyQt6.QtWidgets import QCheckBox, QLabel, QPushButton, QVBoxLayout, QWidget

from llamahome_gui.core.units import fmt_bytes

KEY = "resource.gpu.cuda_devices"
PROCESSES = "training.training.num_processes"


def _read_nvml() -> tuple[list[Any], str | None]:
    from llamahome_gui.core.monitor.nvml import NvmlReader

    reader = NvmlReader()
    try:
        return reader.read()
    finally:
        reader.close()


class GpuPickerWidget(QWidget):
    def __init__(self, ctx: Any, read_gpus: Callable[[], tuple[list[Any], str | None]] = _read_nvml,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("train.gpus")
        self.ctx = ctx
        self._read = read_gpus
        self.label = QLabel()
        self.label.setObjectName("train.gpus.summary")
        self.label.setWordWrap(True)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.box_layout = QVBoxLayout()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addLayout(self.box_layout)
        layout.addWidget(self.refresh_button)
        self.boxes: dict[int, QCheckBox] = {}
        self.gpus: list[Any] = []
        ctx.state.value_changed.connect(self._on_state_value_changed)
        self.refresh()

    def refresh(self) -> None:
        """Read the GPUs again (names and free memory)."""
        for box in self.boxes.values():
            self.box_layout.removeWidget(box)
            box.deleteLater()
        self.boxes = {}
        self.gpus, why = self._read()
        for gpu in self.gpus:
            free = ""
            if gpu.memory_total_bytes is not None and gpu.memory_used_bytes is not None:
                free = f" · {fmt_bytes(gpu.memory_total_bytes - gpu.memory_used_bytes)} free of " \
                       f"{fmt_bytes(gpu.memory_total_bytes)}"
            box = QCheckBox(f"GPU {gpu.index}: {gpu.name or 'unknown'}{free}")
            box.setObjectName(f"{KEY}.{gpu.index}")
            box.toggled.connect(self._on_box_toggled)
            self.box_layout.addWidget(box)
            self.boxes[gpu.index] = box
        self._why = why
        self._show()

    def _chosen(self) -> list[int]:
        value = self.ctx.state.value(KEY) or []
        return [int(i) for i in value]

    def _show(self) -> None:
        chosen = self._chosen()
        for index, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(not chosen or index in chosen)
            box.blockSignals(False)
        if not self.boxes:
            self.label.setText(f"No NVIDIA GPU: training runs on the CPU"
                               f"{f' ({self._why})' if self._why else ''}.")
            return
        used = len(chosen) if chosen else len(self.boxes)
        wanted = int(self.ctx.state.value(PROCESSES) or 0)
        processes = wanted or used
        self.label.setText(f"{used} of {len(self.boxes)} GPUs chosen; a run starts "
                           f"{processes} training process{'es' if processes != 1 else ''}"
                           f"{' under torchrun' if processes > 1 else ''}.")

    def _on_box_toggled(self, _on: bool) -> None:
        checked = [i for i, box in self.boxes.items() if box.isChecked()]
        if not checked:  # keep at least one GPU
            self._show()
            return
        self.ctx.state.set_value(KEY, [] if len(checked) == len(self.boxes) else checked)

    def _on_state_value_changed(self, key_path: str, _value: Any) -> None:
        if key_path in (KEY, PROCESSES):
            self._show()
