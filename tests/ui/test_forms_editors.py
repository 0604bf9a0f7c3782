"""Every editor type, generated from a small test schema, and the registry's rules."""

from __future__ import annotations

import enum
from typing import Literal

import pytest
from pydantic import Field, model_validator
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from llamahome_gui.config.manager import ConfigManager
from llamahome_gui.config.schema import Component, Section, SizeStr
from llamahome_gui.ui.forms import REGISTRY, build_form, register_type, register_widget
from llamahome_gui.ui.forms.editors import LineEditor, TomlValueEditor, format_scientific
from llamahome_gui.ui.forms.editors_lists import ChecklistEditor, PathEditor, StringListEditor
from llamahome_gui.ui.state import ConfigState


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class DemoSection(Section):
    flag: bool = Field(True, description="A switch.")
    count: int = Field(4, ge=1, le=64, title="Item count", description="How many items.")
    big: int = Field(7, ge=0, le=2**32 - 1, description="Beyond 32 bits.")
    ratio: float = Field(0.5, ge=0.0, le=1.0, description="A fraction.")
    step_size: float = Field(3e-5, gt=0.0, le=1.0, description="Tiny.",
                             json_schema_extra={"widget": "scientific"})
    mode: Literal["fast", "slow"] = Field("fast", description="Speed.")
    color: Color = Field(Color.RED, description="Paint.")
    name: str = Field("x", description="A name.")
    folder: str = Field("", description="Where; empty = the default folder.",
                        json_schema_extra={"widget": "path", "path_kind": "dir"})
    memory: SizeStr = Field("8GB", description="A size.", json_schema_extra={"widget": "size"})
    prompt: str = Field("hi", description="Long text.", json_schema_extra={"widget": "text"})
    tags: list[str] = Field(default_factory=lambda: ["a", "b"], description="Tags.")
    metrics: list[Literal["cpu", "gpu", "ram"]] = Field(default_factory=lambda: ["cpu"],
                                                        description="Series.")
    ids: list[int] = Field(default_factory=list, description="Numbers.")
    limits: dict[str, int] = Field(default_factory=dict, description="Per-name caps.")


class RangeSection(Section):
    low: int = Field(1, ge=0, le=100, description="Lower end.")
    high: int = Field(10, ge=0, le=100, description="Upper end.")


class DemoConfig(Component):
    main: DemoSection = Field(default_factory=DemoSection, description="Demo section.")
    range: RangeSection = Field(default_factory=RangeSection, description="A range.")

    @model_validator(mode="after")
    def _low_below_high(self) -> DemoConfig:
        if self.range.low > self.range.high:
            raise ValueError("range.low must not be above range.high")
        return self


class DemoManager(ConfigManager):
    """The real manager, with one extra component from the test schema above."""

    def models(self):
        return {**super().models(), "demo": DemoConfig}


@pytest.fixture
def state(qtbot, config_dir):
    return ConfigState(DemoManager(config_dir), watch=False)


@pytest.fixture
def form(qtbot, state):
    widget = build_form(state, "demo")
    qtbot.addWidget(widget)
    return widget


def test_each_type_gets_its_editor_with_schema_limits(form):
    ed = form.editor
    assert isinstance(ed("demo.main.flag"), QCheckBox) and ed("demo.main.flag").isChecked()
    count = ed("demo.main.count")
    assert isinstance(count, QSpinBox) and (count.minimum(), count.maximum()) == (1, 64)
    big = ed("demo.main.big")
    assert isinstance(big, QDoubleSpinBox) and big.maximum() == 2**32 - 1 and big.decimals() == 0
    ratio = ed("demo.main.ratio")
    assert isinstance(ratio, QDoubleSpinBox) and (ratio.minimum(), ratio.maximum()) == (0.0, 1.0)
    assert ed("demo.main.step_size").text() == "3e-5"
    mode = ed("demo.main.mode")
    assert isinstance(mode, QComboBox)
    assert [mode.itemText(i) for i in range(mode.count())] == ["fast", "slow"]
    color = ed("demo.main.color")
    assert [color.itemText(i) for i in range(color.count())] == ["red", "blue"]
    assert isinstance(ed("demo.main.name"), QLineEdit) and ed("demo.main.name").text() == "x"
    folder = ed("demo.main.folder")
    assert isinstance(folder, PathEditor) and folder.findChild(QPushButton).text() == "Browse\u2026"
    assert "the default folder" in folder.line.placeholderText()
    assert isinstance(ed("demo.main.memory"), LineEditor)
    assert isinstance(ed("demo.main.prompt"), QPlainTextEdit)
    tags = ed("demo.main.tags")
    assert isinstance(tags, StringListEditor) and tags.field_value() == ["a", "b"]
    metrics = ed("demo.main.metrics")
    assert isinstance(metrics, ChecklistEditor)
    assert [b.text() for b in metrics.boxes] == ["cpu", "gpu", "ram"]
    assert [b.isChecked() for b in metrics.boxes] == [True, False, False]
    assert isinstance(ed("demo.main.ids"), QLineEdit)


def test_labels_and_tooltips_come_from_the_schema(form):
    row = form.rows["demo.main.count"]
    assert row.label.text() == "Item count"                        # title
    assert form.rows["demo.main.step_size"].label.text() == "Step size"  # humanized name
    tip = row.editor.toolTip()
    assert "How many items." in tip and "1 to 64" in tip and "Default: 4" in tip
    assert "Choices: fast, slow" in form.editor("demo.main.mode").toolTip()
    assert all(r.editor.toolTip() for r in form.rows.values())


def test_edits_reach_the_state_and_come_back(form, state):
    form.editor("demo.main.count").setValue(9)
    assert state.value("demo.main.count") == 9
    form.editor("demo.main.metrics").boxes[2].setChecked(True)
    assert state.value("demo.main.metrics") == ["cpu", "ram"]
    form.editor("demo.main.ids").setText("0, 2")
    assert state.value("demo.main.ids") == [0, 2]
    form.editor("demo.main.step_size").stepBy(1)        # 1-2-5 steps: 3e-5 -> 5e-5
    assert state.value("demo.main.step_size") == pytest.approx(5e-5)
    state.set_value("demo.main.mode", "slow")            # model -> widget
    assert form.editor("demo.main.mode").currentText() == "slow"
    tags = form.editor("demo.main.tags")
    tags.list.item(0).setText("c")
    assert state.value("demo.main.tags") == ["c", "b"]


def test_invalid_size_shows_inline_message(form, state):
    form.editor("demo.main.memory").setText("8 bananas")
    error = form.rows["demo.main.memory"].error_label
    assert not error.isHidden() and "is not a size" in error.text()
    assert not state.is_valid("demo")
    form.editor("demo.main.memory").setText("512MiB")
    assert error.isHidden() and state.is_valid("demo")


def test_cross_field_error_shows_at_the_top_of_the_form(form, state):
    form.editor("demo.range.low").setValue(50)
    assert not form.form_error.isHidden()
    assert "range.low must not be above range.high" in form.form_error.text()
    assert not state.is_valid("demo")
    form.editor("demo.range.high").setValue(60)
    assert form.form_error.isHidden() and state.is_valid("demo")


def test_widget_override_and_registered_types_are_restored(qtbot, state):
    class Shouty(LineEditor):
        pass

    with REGISTRY.restored():
        register_widget("shout", Shouty)
        register_type(str, Shouty)
        form = build_form(state, "demo", keys=["main.name", "main.memory"])
        qtbot.addWidget(form)
        assert type(form.editor("demo.main.name")) is Shouty        # registered type
        assert type(form.editor("demo.main.memory")) is not Shouty  # explicit widget wins
    form = build_form(state, "demo", keys=["main.name"])
    qtbot.addWidget(form)
    assert type(form.editor("demo.main.name")) is not Shouty


def test_other_types_get_a_toml_value_editor(form, state):
    editor = form.editor("demo.main.limits")
    assert isinstance(editor, TomlValueEditor)
    editor.setText("{ a = 1, b = 2 }")
    assert state.value("demo.main.limits") == {"a": 1, "b": 2}


def test_subset_by_keys_and_sections(qtbot, config_dir):
    state = ConfigState(ConfigManager(config_dir), watch=False)
    form = build_form(state, "inference", keys=["generation.*", "inference.chat.system_prompt"])
    qtbot.addWidget(form)
    assert "inference.chat.system_prompt" in form.rows
    assert "inference.chat.adapter_path" not in form.rows
    assert "inference.generation.temperature" in form.rows
    lora = build_form(state, "training", sections=["lora"])
    qtbot.addWidget(lora)
    assert set(lora.rows) == {f"training.lora.{k}" for k in
                              ("r", "lora_alpha", "lora_dropout", "target_modules", "bias",
                               "use_dora", "use_rslora")}


def test_real_schema_limits_choices_and_tooltips(qtbot, config_dir):
    state = ConfigState(ConfigManager(config_dir), watch=False)
    forms = [build_form(state, c) for c in state.components()]
    for f in forms:
        qtbot.addWidget(f)
    window = QWidget()
    qtbot.addWidget(window)
    by_key = {k: r for f in forms for k, r in f.rows.items()}
    fraction = by_key["resource.gpu.memory_fraction"].editor
    assert (fraction.minimum(), fraction.maximum()) == (0.0, 1.0)
    fraction.setValue(1.5)
    assert fraction.value() == 1.0
    quant = by_key["model.model.quantization"].editor
    assert [quant.itemText(i) for i in range(quant.count())] == ["none", "8bit", "4bit"]
    assert by_key["training.training.learning_rate"].editor.text() == "2e-4"
    missing = [k for k, r in by_key.items() if not r.editor.toolTip()]
    assert missing == []


@pytest.mark.parametrize("value, text", [(2e-4, "2e-4"), (1e-5, "1e-5"), (0.05, "0.05"),
                                         (3.5e-6, "3.5e-6"), (0, "0")])
def test_scientific_format(value, text):
    assert format_scientific(value) == text
