"""The training memory estimate: its parts add up, it grows with the work, LoRA sizes match
peft's, and the verdict follows what the machine has."""

from __future__ import annotations

import pytest

from llamahome_gui.config.schema import LoraSection, TrainingSection
from llamahome_gui.core.models.memory import estimate_training_memory

GIB = 2**30


def est(model_dir, available=64 * GIB, **training):
    lora = training.pop("lora", LoraSection())
    return estimate_training_memory(model_dir, TrainingSection(**training), lora,
                                    available=available)


def test_parts_add_up_and_table_shows_them(tiny_model_dir):
    e = est(tiny_model_dir)
    assert e.total == (e.weights + e.lora_params + e.gradients + e.optimizer_states
                       + e.activations + e.overhead)
    assert e.weights == 3_219_776 * 4  # fp32 on the CPU
    assert e.optimizer_states == 2 * e.gradients == 2 * e.lora_params
    assert e.tokens_per_step == 4 * 512 and e.verdict == "fits"
    table = e.table()
    for label in ("Base weights", "LoRA parameters", "Gradients", "Optimizer states",
                  "Activations (2,048 tokens per step)", "Total needed", "RAM available",
                  "Verdict: fits"):
        assert label in table


def test_more_batch_or_longer_sequences_need_more(tiny_model_dir):
    base = est(tiny_model_dir, per_device_train_batch_size=2, max_seq_length=256)
    bigger_batch = est(tiny_model_dir, per_device_train_batch_size=8, max_seq_length=256)
    longer = est(tiny_model_dir, per_device_train_batch_size=2, max_seq_length=1024)
    assert bigger_batch.activations > base.activations
    assert longer.activations > base.activations
    assert bigger_batch.weights == base.weights
    checkpointed = est(tiny_model_dir, per_device_train_batch_size=8, max_seq_length=256,
                       gradient_checkpointing=True)
    assert checkpointed.activations < bigger_batch.activations


@pytest.mark.parametrize("targets", [["all-linear"], ["q_proj", "v_proj"]])
def test_lora_parameter_count_matches_peft(tiny_model_dir, targets):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, use_safetensors=True)
    peft_targets = "all-linear" if targets == ["all-linear"] else targets
    model = get_peft_model(model, LoraConfig(r=8, target_modules=peft_targets,
                                             task_type="CAUSAL_LM"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    e = est(tiny_model_dir, lora=LoraSection(r=8, target_modules=targets))
    assert e.lora_param_count == trainable
    assert e.lora_params == 4 * trainable


def test_verdicts_follow_available_memory(tiny_model_dir):
    need = est(tiny_model_dir).total
    assert est(tiny_model_dir, available=10 * need).verdict == "fits"
    assert est(tiny_model_dir, available=int(need / 0.95)).verdict == "tight"
    tiny = est(tiny_model_dir, available=64 * 2**20)
    assert tiny.verdict == "won't fit" and not tiny.fits
    assert "smaller per_device_train_batch_size" in tiny.table()


def test_unknown_target_is_noted_and_real_ram_is_read(tiny_model_dir):
    e = estimate_training_memory(tiny_model_dir, TrainingSection(),
                                 LoraSection(target_modules=["q_proj", "qkv"]))
    assert "no layer named qkv" in e.table() and "gate_proj" in e.table()
    assert e.available > 0 and e.device == "cpu"


def test_starter_default_run_estimate(starter_model_dir):
    """The default config (batch 4 x 512 tokens) on the starter model: several GB in fp32."""
    e = est(starter_model_dir)
    assert e.weights == pytest.approx(538e6, rel=0.01)
    assert 4 * GIB < e.total < 12 * GIB
    assert e.activations > e.weights


def test_known_row_length_and_trained_share_lower_the_estimate(tiny_model_dir):
    worst = est(tiny_model_dir)
    short_rows = estimate_training_memory(tiny_model_dir, TrainingSection(), LoraSection(),
                                          available=64 * GIB, row_length=128)
    half_trained = estimate_training_memory(tiny_model_dir, TrainingSection(), LoraSection(),
                                            available=64 * GIB, trained_fraction=0.5)
    assert short_rows.tokens_per_step == 4 * 128 and short_rows.total < worst.total
    assert half_trained.activations < worst.activations
