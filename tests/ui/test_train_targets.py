"""The Train page's LoRA tab offers the selected model's real linear layers as check boxes,
and they edit training.lora.target_modules both ways."""

from __future__ import annotations

from tests.ui.test_train_page import make_window


def test_target_boxes_follow_the_model_and_edit_the_setting(qtbot, config_dir, tiny_model_dir):
    window = make_window(qtbot, config_dir)
    state = window.ctx.state
    state.set_value("model.model.path", str(tiny_model_dir))
    targets = window.ctx.page("train").lora_targets
    names = list(targets.boxes)
    assert names[0] == "all-linear"
    assert {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"} \
        == set(names[1:])
    assert targets.boxes["all-linear"].isChecked()  # the default
    targets.boxes["q_proj"].setChecked(True)
    targets.boxes["v_proj"].setChecked(True)
    assert state.value("training.lora.target_modules") == ["q_proj", "v_proj"]
    assert not targets.boxes["all-linear"].isChecked()
    state.set_value("training.lora.target_modules", ["down_proj"])  # edited elsewhere
    assert [n for n, b in targets.boxes.items() if b.isChecked()] == ["down_proj"]
    targets.boxes["down_proj"].setChecked(False)  # never zero targets
    assert state.value("training.lora.target_modules") == ["down_proj"]
    assert targets.boxes["down_proj"].isChecked()
    state.revert()
