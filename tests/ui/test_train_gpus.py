"""The Train page's GPU picker: on this machine (no NVIDIA GPU) it says so; with GPUs (NVML
readings as the monitor's GpuSample records) the boxes edit resource.gpu.cuda_devices and the
summary says how many processes a run starts."""

from __future__ import annotations

from llamahome_gui.core.monitor.sample import GpuSample
from tests.ui.test_train_page import make_window

GIB = 2**30


def test_without_a_gpu_the_picker_says_training_runs_on_the_cpu(qtbot, config_dir):
    window = make_window(qtbot, config_dir)
    picker = window.ctx.page("train").gpus
    assert picker.boxes == {}
    assert picker.label.text().startswith("No NVIDIA GPU: training runs on the CPU")


def test_gpu_boxes_edit_cuda_devices_and_show_the_process_count(qtbot, config_dir):
    from llamahome_gui.ui.widgets.train_gpus import GpuPickerWidget

    window = make_window(qtbot, config_dir)
    state = window.ctx.state
    gpus = [GpuSample(index=i, name="NVIDIA H200", memory_total_bytes=140 * GIB,
                      memory_used_bytes=(10 + i) * GIB) for i in range(3)]
    picker = GpuPickerWidget(window.ctx, read_gpus=lambda: (gpus, None))
    qtbot.addWidget(picker)
    assert "NVIDIA H200" in picker.boxes[0].text() and "free of" in picker.boxes[0].text()
    assert all(box.isChecked() for box in picker.boxes.values())  # empty = every GPU
    picker.boxes[2].setChecked(False)
    assert state.value("resource.gpu.cuda_devices") == [0, 1]
    state.set_value("training.training.num_processes", 0)
    assert "2 of 3 GPUs chosen; a run starts 2 training processes under torchrun" \
        in picker.label.text()
    picker.boxes[2].setChecked(True)
    assert state.value("resource.gpu.cuda_devices") == []
    state.revert()
