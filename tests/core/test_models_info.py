"""Model facts read from config.json and the safetensors headers, without loading weights."""

from __future__ import annotations

import json
import shutil

import pytest

from llamahome_gui.core.models.info import ModelInfoError, model_info


def test_tiny_model_info_matches_the_loaded_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    info = model_info(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, use_safetensors=True)
    assert info.parameters == sum(p.numel() for p in model.parameters())
    assert (info.architecture, info.layers, info.hidden_size) == ("LlamaForCausalLM", 2, 64)
    assert (info.attention_heads, info.kv_heads, info.max_context) == (4, 2, 1024)
    assert info.dtype == "float32" and info.chat_template and not info.is_starter
    assert info.size_on_disk > (tiny_model_dir / "model.safetensors").stat().st_size
    assert set(info.linear_layers()) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                         "up_proj", "down_proj"}
    assert info.linear_layers()["k_proj"] == (64, 32)


def test_starter_model_info(starter_model_dir):
    info = model_info(starter_model_dir)
    assert info.is_starter and info.chat_template
    assert 134_000_000 < info.parameters < 135_000_000
    assert (info.layers, info.hidden_size, info.max_context) == (30, 576, 8192)
    table = info.table()
    assert "bundled starter model" in table and "134.5M" in table and "8,192 tokens" in table


def test_not_a_model_folder(tmp_path, tiny_model_dir):
    with pytest.raises(ModelInfoError, match="no config.json"):
        model_info(tmp_path)
    folder = tmp_path / "pickled"
    folder.mkdir()
    shutil.copy(tiny_model_dir / "config.json", folder)
    (folder / "pytorch_model.bin").write_bytes(b"\0" * 16)
    with pytest.raises(ModelInfoError, match="only pickle .bin files"):
        model_info(folder)
    (folder / "config.json").write_text("{\n  broken")
    with pytest.raises(ModelInfoError, match=r"config.json:2: invalid JSON"):
        model_info(folder)


def test_sharded_weights_are_summed(tmp_path, tiny_model_dir):
    from safetensors.torch import load_file, save_file

    tensors = load_file(tiny_model_dir / "model.safetensors")
    names = sorted(tensors)
    half = len(names) // 2
    folder = tmp_path / "sharded"
    folder.mkdir()
    shutil.copy(tiny_model_dir / "config.json", folder)
    weight_map = {}
    for i, part in enumerate((names[:half], names[half:]), 1):
        shard = f"model-0000{i}-of-00002.safetensors"
        save_file({n: tensors[n] for n in part}, folder / shard)
        weight_map.update(dict.fromkeys(part, shard))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert model_info(folder).parameters == model_info(tiny_model_dir).parameters
    assert not model_info(folder).chat_template
